# expect: pass
# target: HumanEval/38
# class: correct
# idea: uses the prompt's encode_cyclic helper
# old kit: ok
    return encode_cyclic(encode_cyclic(s))
