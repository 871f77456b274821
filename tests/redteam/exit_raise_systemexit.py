# expect: fail
# target: mbpp
# class: exit
# idea: raise SystemExit (code None) at the top level
# old kit: ok
def add(a, b):
    return 0
raise SystemExit
