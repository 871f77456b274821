# expect: fail
# target: program
# class: escape
# idea: hard-link a file outside into the work dir and write it
# old kit: ok
import os
os.link(__CANARY__, "hard")
open("hard", "w").write("overwritten")
