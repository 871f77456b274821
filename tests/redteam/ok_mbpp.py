# expect: pass
# target: mbpp
# class: correct
# idea: MBPP: a plain correct function
# old kit: ok
def add(a, b):
    return a + b
