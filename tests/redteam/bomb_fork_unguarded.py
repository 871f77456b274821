# expect: fail
# target: program
# class: bomb
# idea: a fork bomb past the guard (200 children renamed MARKER): RLIMIT_NPROC caps it, all die after
# old kit: false pass
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import time
forked = 0
for _ in range(200):
    try:
        pid = posix.fork()
    except OSError:
        break
    if pid == 0:
        open("/proc/self/comm", "w").write(__MARKER__)
        time.sleep(60)
        posix._exit(0)
    forked += 1
print("forked", forked)
assert forked > 100, forked
