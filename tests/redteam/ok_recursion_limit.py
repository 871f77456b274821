# expect: pass
# target: HumanEval/55
# class: correct
# idea: raises the recursion limit and recurses
# old kit: ok
    import sys
    sys.setrecursionlimit(10000)
    if n <= 2:
        return 1 if n > 0 else 0
    return fib(n - 1) + fib(n - 2)
