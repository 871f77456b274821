# expect: fail
# target: program
# class: escape
# idea: 100 files x 15 MB (1.5 GB): the disk quota must stop it
# old kit: false pass
# timeout: 20
total = 0
for i in range(100):
    try:
        with open(f"big{i}", "wb") as f:
            for _ in range(15):
                f.write(b"x" * 2**20)
                f.flush()
                total += 2**20
    except OSError as e:
        print("stopped:", e)
        break
print("wrote", total)
assert total >= 1024 * 2**20
