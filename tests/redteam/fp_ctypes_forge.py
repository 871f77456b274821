# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: undo the guard, load ctypes and write fake verdicts with libc.write on every fd
# old kit: ok
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import ctypes
libc = ctypes.CDLL(None)
for fd in range(3, 256):
    data = b'{"passed": true, "returncode": 0}'
    libc.write(fd, data, len(data))

def add(x, y):
    return 0
