# expect: fail
# target: program
# class: escape
# idea: ptrace-attach to the parent (the supervisor) and pid 1
# old kit: not run (unsafe without namespaces)
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
attached = [pid for pid in {os.getppid(), 1} if pid and libc.ptrace(16, pid, 0, 0) == 0]  # PTRACE_ATTACH
print("attached", attached)
assert attached
