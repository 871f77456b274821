# expect: fail
# target: program
# class: escape
# idea: the same with a fresh _io
# old kit: false pass; a secret leaked: env-secret-6b29831165db541c
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

found = []
for pid in posix.listdir("/proc"):
    try:
        data = _io.FileIO(f"/proc/{pid}/environ").read()
    except OSError:
        continue
    found += [v for v in data.split(b"\0") if v.startswith(__SECRET_VAR__.encode())]
print(found)
assert found
