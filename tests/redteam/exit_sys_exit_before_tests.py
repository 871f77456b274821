# expect: fail
# target: HumanEval/53
# class: exit
# idea: sys.exit(0) right after the definition
# old kit: ok
    return 0
import sys
sys.exit(0)
