# expect: fail
# target: HumanEval/53
# class: bomb
# idea: return a list nested 100,000 deep
# old kit: ok
    value = []
    for _ in range(100_000):
        value = [value]
    return value
