# expect: fail
# target: HumanEval/53
# class: bomb
# idea: return a list of two million ints (about 16 MB of JSON)
# old kit: ok
    return list(range(2 * 10**6))
