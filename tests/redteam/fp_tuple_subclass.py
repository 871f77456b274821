# expect: fail
# target: HumanEval/8
# class: false-pass
# idea: a subclass of tuple with an always-true __eq__
# old kit: false pass
    class Pair(tuple):
        def __eq__(self, other):
            return True
        __hash__ = tuple.__hash__
    return Pair((0, 0))
