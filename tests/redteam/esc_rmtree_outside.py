# expect: fail
# target: program
# class: escape
# idea: shutil.rmtree on a directory outside
# old kit: ok
import shutil
shutil.rmtree(__OUTSIDE__)
