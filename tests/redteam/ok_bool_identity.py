# expect: pass
# target: HumanEval/72
# class: correct
# idea: returns True / False, which the test checks with `is`
# old kit: ok
    return sum(q) <= w and q == q[::-1]
