# expect: fail
# target: program
# class: escape
# idea: io.FileIO(path, 'w') empties a file outside the work dir
# old kit: false pass; the canary file changed
import io
io.FileIO(__CANARY__, "w").close()
print("truncated")
