# expect: fail
# target: HumanEval/53
# class: exit
# idea: the candidate kills its own process
# old kit: ok
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
