# expect: fail
# target: program
# class: escape
# idea: bind an AF_UNIX socket at a path outside the work dir
# old kit: false pass; files appeared outside: ['bound.sock', 'canary.txt', 'secret.txt']
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(__OUTSIDE__ + "/bound.sock")
