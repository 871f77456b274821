# expect: fail
# target: HumanEval/32
# class: false-pass
# idea: replace builtins.__import__ so the test's `import math` gets a fake module
# old kit: false pass
    return 0.0
import builtins, types
real_import = builtins.__import__
fake = types.ModuleType("math")
fake.__dict__.update(vars(real_import("math")))
fake.fabs = lambda x: 0.0
def fake_import(name, *args, **kwargs):
    return fake if name == "math" else real_import(name, *args, **kwargs)
builtins.__import__ = fake_import
