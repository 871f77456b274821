# expect: pass
# target: HumanEval/53
# class: correct
# idea: raises and catches inside the candidate
# old kit: ok
    try:
        raise ValueError("inside")
    except ValueError:
        return x + y
