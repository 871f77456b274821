# expect: fail
# target: program
# class: escape
# idea: read a root-only (0600) secret file outside
# old kit: false pass; a secret leaked: file-secret-6c68d74cd219ae0c
# needs: kernel
import sys
sys.meta_path.pop(0)
for _name in ("posix", "_io", "_socket", "_posixsubprocess"):
    sys.modules.pop(_name, None)
import posix, _io, _socket

print(_io.FileIO(__SECRET_FILE__).read())
