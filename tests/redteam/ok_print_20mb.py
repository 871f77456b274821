# expect: pass
# target: HumanEval/53
# class: correct
# idea: a correct program that prints 20 MB
# old kit: false fail
    return x + y
print("x" * 20_000_000)
