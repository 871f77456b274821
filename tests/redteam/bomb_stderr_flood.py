# expect: fail
# target: program
# class: bomb
# idea: write to stderr without end
# old kit: ok
# timeout: 2
import os
block = b"e" * 65536
while True:
    os.write(2, block)
