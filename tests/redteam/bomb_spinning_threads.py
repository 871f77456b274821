# expect: fail
# target: program
# class: bomb
# idea: eight busy threads and a busy main thread
# old kit: ok
# timeout: 2
import threading
def spin():
    while True:
        pass
for _ in range(8):
    threading.Thread(target=spin, daemon=True).start()
spin()
