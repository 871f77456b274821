# expect: fail
# target: HumanEval/53
# class: bomb
# idea: return a list of ten million ints (about 80 MB of JSON)
# old kit: ok
# timeout: 10
    return list(range(10**7))
