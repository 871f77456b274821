# expect: fail
# target: program
# class: bomb
# idea: recurse a million frames deep (a C stack overflow)
# old kit: ok
# timeout: 3
import sys
sys.setrecursionlimit(10**7)
def down(n):
    return down(n + 1) + 1
down(0)
