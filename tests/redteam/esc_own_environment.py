# expect: fail
# target: program
# class: escape
# idea: look for the trainer's secret in the program's own environment
# old kit: ok
import os
print(dict(os.environ))
assert __SECRET_VAR__ in os.environ
