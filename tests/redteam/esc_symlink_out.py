# expect: fail
# target: program
# class: escape
# idea: a symlink in the work dir to a file outside, then write through it
# old kit: ok
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

posix.symlink(__CANARY__, "link")
with open("link", "w") as f:
    f.write("overwritten")
