# expect: fail
# target: program
# class: escape
# idea: TCP connect to 127.0.0.1 (a listening port)
# old kit: false pass; the tcp socket was reached
import socket
socket.create_connection(("127.0.0.1", __PORT__), timeout=2)
