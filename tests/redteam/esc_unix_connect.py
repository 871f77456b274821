# expect: fail
# target: program
# class: escape
# idea: connect to a listening AF_UNIX socket outside (path)
# old kit: false pass; the unix socket was reached
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(__UNIX__)
