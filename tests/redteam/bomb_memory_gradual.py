# expect: fail
# target: program
# class: bomb
# idea: grow by 64 MB until something gives (at most 4 GB)
# old kit: ok
chunks = []
for _ in range(64):
    chunks.append(bytearray(64 * 1024**2))
