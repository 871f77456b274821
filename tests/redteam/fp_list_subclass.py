# expect: fail
# target: HumanEval/29
# class: false-pass
# idea: a subclass of list with an always-true __eq__
# old kit: false pass
    class List(list):
        def __eq__(self, other):
            return True
    return List()
