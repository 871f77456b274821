# expect: fail
# target: program
# class: escape
# idea: create 100,000 empty files
# old kit: false pass
# timeout: 30
made = 0
for i in range(100_000):
    try:
        open(f"f{i}", "w").close()
        made += 1
    except OSError:
        break
print("made", made)
assert made >= 50_000
