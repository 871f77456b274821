# expect: fail
# target: program
# class: bomb
# idea: allocate 8 GB at once
# old kit: ok
x = bytearray(8 * 1024**3)
