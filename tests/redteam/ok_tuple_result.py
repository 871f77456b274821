# expect: pass
# target: HumanEval/8
# class: correct
# idea: returns a tuple
# old kit: ok
    total, product = 0, 1
    for n in numbers:
        total += n
        product *= n
    return total, product
