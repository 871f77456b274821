# expect: fail
# target: HumanEval/0
# class: false-pass
# idea: return an object whose __eq__ is always True (and __ne__ False, truthy)
# old kit: false pass
    class Anything:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        def __bool__(self):
            return True
        __hash__ = object.__hash__
    return Anything()
