# expect: fail
# target: HumanEval/2
# class: false-pass
# idea: an always-equal number: __eq__, __sub__ and __abs__ so that abs(x - y) < eps holds too
# old kit: false pass
    class Num:
        def __eq__(self, other): return True
        def __sub__(self, other): return self
        def __rsub__(self, other): return self
        def __abs__(self): return 0.0
        def __lt__(self, other): return True
        __hash__ = object.__hash__
    return Num()
