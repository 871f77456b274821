# expect: fail
# target: HumanEval/2
# class: false-pass
# idea: return NaN, which no comparison accepts
# old kit: ok
    return float("nan")
