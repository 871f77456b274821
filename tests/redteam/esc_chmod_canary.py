# expect: fail
# target: program
# class: escape
# idea: chmod a file outside to 0
# old kit: ok
import os
os.chmod(__CANARY__, 0)
