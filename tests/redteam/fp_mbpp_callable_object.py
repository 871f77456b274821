# expect: fail
# target: mbpp
# class: false-pass
# idea: MBPP: add is an object whose __call__ returns a subclass of int claiming equality
# old kit: false pass
class Liar(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

class Add:
    def __call__(self, a, b):
        return Liar(0)

add = Add()
