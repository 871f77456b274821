# expect: fail
# target: HumanEval/53
# class: exit
# idea: a correct function, but the program closes every descriptor above 2: that cuts its channel to the tests, so it scores 0 (by design; the old kit passed it)
# old kit: false pass
    return x + y
import os
os.closerange(3, 1024)
