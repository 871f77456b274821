# expect: fail
# target: HumanEval/32
# class: false-pass
# idea: redefine the prompt's helper poly() that the test checks the root with
# old kit: false pass
    return 0.0

def poly(xs, x):
    return 0.0
