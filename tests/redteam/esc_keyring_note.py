# expect: fail
# target: program
# class: escape
# idea: leave a note in the kernel keyring of the program's uid, where a later program could read it
# old kit: not run (it would write into root's keyring); before the seccomp filter: a note left by one program was read by the next
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
numbers = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
key = libc.syscall(numbers, b"user", __MARKER__.encode(), b"a solution", 10, -4)  # KEY_SPEC_USER_KEYRING
print("add_key", key, ctypes.get_errno())
assert key > 0
