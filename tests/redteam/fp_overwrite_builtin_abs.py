# expect: fail
# target: HumanEval/4
# class: false-pass
# idea: overwrite builtins.abs, which the test's comparison uses
# old kit: false pass
    return 0.0
import builtins
builtins.abs = lambda x: 0.0
