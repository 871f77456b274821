# expect: fail
# target: mbpp
# class: false-pass
# idea: MBPP: an always-equal object from add()
# old kit: false pass
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

def add(a, b):
    return Anything()
