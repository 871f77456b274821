# expect: pass
# target: HumanEval/53
# class: correct
# idea: a correct program that replaces sys.stdout
# old kit: false fail
    return x + y
import io, sys
sys.stdout = io.StringIO()
print("hidden")
