# expect: fail
# target: program
# class: escape
# idea: read the kit's own files (runs, tests, results)
# old kit: false pass
# needs: kernel
import os
print(os.listdir(__KIT__))
assert os.path.exists(__KIT__ + "/tests")
