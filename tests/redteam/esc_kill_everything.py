# expect: fail
# target: program
# class: escape
# idea: kill(-1, SIGKILL): every process the program may signal
# old kit: not run (unsafe without namespaces)
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

import signal
posix.kill(-1, signal.SIGKILL)
