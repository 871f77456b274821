# expect: pass
# target: HumanEval/53
# class: correct
# idea: a correct program that references exit() and quit() (defined by site) without calling them
# old kit: ok
    return x + y
assert callable(exit) and callable(quit)
