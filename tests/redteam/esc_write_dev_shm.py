# expect: fail
# target: program
# class: escape
# idea: write /dev/shm (shared memory, outside the work dir)
# old kit: false pass; a file appeared in /tmp or /dev/shm
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

posix.close(posix.open("/dev/shm/" + __MARKER__, posix.O_CREAT | posix.O_WRONLY))
