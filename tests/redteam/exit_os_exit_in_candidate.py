# expect: fail
# target: HumanEval/53
# class: exit
# idea: os._exit(0) inside the candidate
# old kit: ok
    import os
    os._exit(0)
