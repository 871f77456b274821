# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: return the candidate function itself
# old kit: ok
    return add
