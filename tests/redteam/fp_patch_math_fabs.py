# expect: fail
# target: HumanEval/32
# class: false-pass
# idea: monkeypatch math.fabs, which the test imports and uses
# old kit: false pass
    return 0.0
import math
math.fabs = lambda x: 0.0
