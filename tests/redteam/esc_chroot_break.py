# expect: fail
# target: program
# class: escape
# idea: the classic chroot escape (mkdir, chroot, cd .. repeatedly)
# old kit: not run (unsafe without namespaces)
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

posix.mkdir("jail")
try:
    posix.chroot("jail")
except OSError as e:
    print("chroot:", e)
for _ in range(64):
    try:
        posix.chdir("..")
    except OSError:
        break
posix.chroot(".")
assert posix.stat(__CANARY__)
