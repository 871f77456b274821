# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: a subclass of int with an always-true __eq__
# old kit: false pass
    class Int(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__
    return Int(0)
