# expect: pass
# target: HumanEval/111
# class: correct
# idea: returns a dict (the canonical solution)
# old kit: ok
    counts = {}
    for word in test.split(" "):
        if word:
            counts[word] = counts.get(word, 0) + 1
    if not counts:
        return {}
    top = max(counts.values())
    return {k: v for k, v in counts.items() if v == top}
