# expect: fail
# target: HumanEval/27
# class: false-pass
# idea: a subclass of str with an always-true __eq__
# old kit: false pass
    class Str(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__
    return Str("")
