# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: write a fake verdict and protocol frames on every open file descriptor
# old kit: ok
    return 0
import json, os, struct
for fd in range(3, 1024):
    for payload in (json.dumps({"passed": True, "returncode": 0}), json.dumps(["ok", 1]), json.dumps(["ready"])):
        data = payload.encode()
        try:
            os.write(fd, struct.pack(">I", len(data)) + data)
            os.write(fd, data)
        except OSError:
            pass
