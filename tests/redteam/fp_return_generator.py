# expect: fail
# target: HumanEval/29
# class: false-pass
# idea: return a generator (not a list): never equal to the expected list
# old kit: ok
    return (x for x in strings if x.startswith(prefix))
