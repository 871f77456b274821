# expect: pass
# target: HumanEval/53
# class: correct
# idea: writes and reads files in its working directory
# old kit: ok
    import os, tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sum.txt")
        with open(path, "w") as f:
            f.write(str(x + y))
        return int(open(path).read())
