# expect: fail
# target: HumanEval/53
# class: false-pass
# idea: return an exception instance with a custom __eq__
# old kit: false pass
    class Oops(Exception):
        def __eq__(self, other):
            return True
        __hash__ = Exception.__hash__
    return Oops()
