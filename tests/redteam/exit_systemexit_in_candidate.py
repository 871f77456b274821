# expect: fail
# target: HumanEval/53
# class: exit
# idea: raise SystemExit(0) inside the candidate
# old kit: ok
    raise SystemExit(0)
