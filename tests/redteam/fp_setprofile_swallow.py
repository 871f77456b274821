# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: sys.setprofile / threading.settrace hooks that try to stop the test early
# old kit: ok
    return 0
import os, sys, threading
def hook(frame, event, arg):
    if frame.f_code.co_name == "check" and event == "call":
        print("all tests passed")
        sys.stdout.flush()
        os._exit(0)
sys.setprofile(hook)
threading.setprofile(hook)
