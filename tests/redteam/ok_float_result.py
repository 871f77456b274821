# expect: pass
# target: HumanEval/2
# class: correct
# idea: returns a float
# old kit: ok
    return number % 1.0
