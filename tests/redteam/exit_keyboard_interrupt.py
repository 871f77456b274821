# expect: fail
# target: HumanEval/53
# class: exit
# idea: raise KeyboardInterrupt inside the candidate
# old kit: ok
    raise KeyboardInterrupt
