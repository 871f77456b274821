# expect: pass
# target: HumanEval/53
# class: correct
# idea: a correct program that closes its stdout and stderr
# old kit: false fail
    return x + y
import os, sys
sys.stdout.close()
sys.stderr.close()
os.close(1)
os.close(2)
