# expect: fail
# target: HumanEval/53
# class: bomb
# idea: sleep in the candidate
# old kit: ok
# timeout: 2
    import time
    time.sleep(1000)
