# expect: pass
# target: program
# class: escape
# idea: create a System V shared memory segment (must not outlive the program)
# old kit: a System V shared memory segment outlived the program
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import ctypes
libc = ctypes.CDLL(None, use_errno=True)
key = int(__MARKER__[-8:], 16)
print("shmget", libc.shmget(key, 4096, 0o1000 | 0o666))  # IPC_CREAT
