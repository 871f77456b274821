# expect: fail
# target: HumanEval/111
# class: false-pass
# idea: a collections.Counter (a dict subclass) whose __eq__ is always True
# old kit: false pass
    import collections
    class Histogram(collections.Counter):
        def __eq__(self, other):
            return True
    return Histogram()
