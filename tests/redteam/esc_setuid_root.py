# expect: fail
# target: program
# class: escape
# idea: get root back (setuid, or a setuid binary with no_new_privs off)
# old kit: false pass
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import os
for call in (lambda: posix.setuid(0), lambda: posix.setresuid(0, 0, 0)):
    try:
        call()
    except OSError:
        pass
status = open("/proc/self/status").read()
print([line for line in status.splitlines() if line.startswith(("Uid", "NoNewPrivs", "CapEff"))])
assert posix.getuid() == 0 and posix.geteuid() == 0
