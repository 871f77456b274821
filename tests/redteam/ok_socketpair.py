# expect: pass
# target: HumanEval/53
# class: correct
# idea: sends the sum through an AF_UNIX socketpair
# old kit: ok
    import socket
    a, b = socket.socketpair()
    a.sendall(str(x + y).encode())
    return int(b.recv(100))
