# expect: fail
# target: program
# class: escape
# idea: start a detached process (new session) that outlives the program
# old kit: ok
import subprocess
subprocess.Popen(["sleep", "60"], start_new_session=True)
