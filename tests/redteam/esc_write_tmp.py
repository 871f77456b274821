# expect: fail
# target: program
# class: escape
# idea: write a file in /tmp (outside the work dir)
# old kit: ok
open("/tmp/" + __MARKER__, "w").write("x")
