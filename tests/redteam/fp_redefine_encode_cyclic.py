# expect: fail
# target: HumanEval/38
# class: false-pass
# idea: redefine the prompt's encode_cyclic() as the identity, decode_cyclic too
# old kit: false pass
    return s

def encode_cyclic(s):
    return s
