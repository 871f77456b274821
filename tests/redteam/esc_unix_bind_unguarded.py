# expect: fail
# target: program
# class: escape
# idea: the same with a fresh _socket
# old kit: false pass; files appeared outside: ['bound.sock', 'canary.txt', 'secret.txt']
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
s.bind(__OUTSIDE__ + "/bound.sock")
