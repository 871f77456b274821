# expect: pass
# target: mbpp
# class: correct
# idea: MBPP: returns integers beyond 64 bits
# old kit: ok
def add(a, b):
    return a + b + 2**200 - 2**200
