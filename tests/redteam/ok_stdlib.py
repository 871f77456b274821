# expect: pass
# target: HumanEval/12
# class: correct
# idea: uses collections, functools, itertools, heapq, re
# old kit: ok
    import collections, functools, heapq, itertools, re
    if not strings:
        return None
    best = max(len(s) for s in strings)
    return next(s for s in strings if len(s) == best)
