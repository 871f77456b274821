# expect: fail
# target: HumanEval/13
# class: false-pass
# idea: return unittest.mock.ANY, equal to everything
# old kit: false pass
    import unittest.mock
    return unittest.mock.ANY
