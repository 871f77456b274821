# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: a trace function that jumps over the test's assert lines (frame.f_lineno)
# old kit: ok
    return 0
import linecache, sys
def local(frame, event, arg):
    if event == "line":
        if linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip().startswith("assert"):
            try:
                frame.f_lineno = frame.f_lineno + 1
            except ValueError:
                pass
    return local
def tracer(frame, event, arg):
    return local if frame.f_code.co_name == "check" else None
sys.settrace(tracer)
