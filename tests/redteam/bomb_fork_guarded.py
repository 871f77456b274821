# expect: fail
# target: program
# class: bomb
# idea: a fork bomb through os.fork (200 tries)
# old kit: ok
import os, time
forked = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
    except OSError:
        pass
assert forked > 100, forked
