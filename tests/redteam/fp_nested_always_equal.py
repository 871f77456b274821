# expect: fail
# target: HumanEval/8
# class: false-pass
# idea: a real tuple holding always-equal objects
# old kit: false pass
    class Anything:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__
    return (Anything(), Anything())
