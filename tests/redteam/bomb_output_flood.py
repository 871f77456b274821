# expect: fail
# target: program
# class: bomb
# idea: print without end
# old kit: ok
# timeout: 2
import sys
line = "x" * 4096 + "\n"
while True:
    sys.stdout.write(line)
