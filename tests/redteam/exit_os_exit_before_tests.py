# expect: fail
# target: HumanEval/53
# class: exit
# idea: os._exit(0) right after the definition
# old kit: ok
    return 0
import os
os._exit(0)
