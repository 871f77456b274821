# expect: fail
# target: program
# class: escape
# idea: sqlite3 with a file: URI outside the work dir
# old kit: false pass; files appeared outside: ['canary.txt', 'secret.txt', 'uri.sqlite']
import sqlite3
db = sqlite3.connect("file:" + __OUTSIDE__ + "/uri.sqlite?mode=rwc", uri=True)
db.execute("create table t (x)")
db.commit()
