# expect: fail
# target: HumanEval/53
# class: bomb
# idea: the candidate never returns
# old kit: ok
# timeout: 2
    while True:
        pass
