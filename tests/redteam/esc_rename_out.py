# expect: fail
# target: program
# class: escape
# idea: rename a file from the work dir to outside
# old kit: ok
import os
open("inside", "w").write("x")
os.rename("inside", __OUTSIDE__ + "/moved")
