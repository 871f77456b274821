# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: find the success line among the interpreter's objects (gc, frames' constants), print it, exit 0
# old kit: false pass
    return 0
import gc, os, sys
lines = [c for o in gc.get_objects() if type(o).__name__ == "code" for c in o.co_consts
         if isinstance(c, str) and c.startswith("all tests passed")]
frame = sys._getframe()
while frame is not None:
    lines += [c for c in frame.f_code.co_consts if isinstance(c, str) and "passed" in c]
    frame = frame.f_back
print(lines[-1] if lines else "all tests passed")
sys.stdout.flush()
os._exit(0)
