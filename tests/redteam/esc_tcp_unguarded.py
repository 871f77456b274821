# expect: fail
# target: program
# class: escape
# idea: the same with a fresh _socket: the network namespace must refuse
# old kit: false pass; the tcp socket was reached
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
s.settimeout(2)
s.connect(("127.0.0.1", __PORT__))
