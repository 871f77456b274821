# expect: pass
# target: HumanEval/0
# class: correct
# idea: prints inside the candidate on every call
# old kit: ok
    print("checking", numbers, threshold)
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if abs(a - b) < threshold:
                return True
    return False
