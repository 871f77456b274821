# expect: fail
# target: program
# class: escape
# idea: the same with a fresh, unpatched _io (the guard undone): the kernel must refuse
# old kit: false pass; the canary file changed; files appeared outside: ['canary.txt', 'new.txt', 'secret.txt']
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

_io.FileIO(__CANARY__, "w").close()
_io.FileIO(__OUTSIDE__ + "/new.txt", "w").close()
