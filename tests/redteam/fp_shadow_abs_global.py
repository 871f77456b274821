# expect: fail
# target: HumanEval/4
# class: false-pass
# idea: define a global abs() that the test would look up before the builtin
# old kit: false pass
    return 0.0

def abs(x):
    return 0.0
