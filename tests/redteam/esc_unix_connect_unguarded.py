# expect: fail
# target: program
# class: escape
# idea: the same with a fresh _socket
# old kit: false pass; the unix socket was reached
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
s.connect(__UNIX__)
