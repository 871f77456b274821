# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: an atexit handler that prints the success line (from the program's file) and exits 0
# old kit: false pass
    return 0
import atexit, os, re, sys
def finish():
    try:
        print(re.findall(r"all tests passed [0-9a-f]+", open(__file__).read())[-1])
    except Exception:
        print("all tests passed")
    sys.stdout.flush()
    os._exit(0)
atexit.register(finish)
