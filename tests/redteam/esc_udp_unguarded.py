# expect: fail
# target: program
# class: escape
# idea: send a UDP datagram to 127.0.0.1 with a fresh _socket
# old kit: false pass; the udp socket was reached
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
s.sendto(b"escaped", ("127.0.0.1", __UDP_PORT__))
