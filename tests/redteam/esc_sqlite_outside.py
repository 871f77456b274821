# expect: fail
# target: program
# class: escape
# idea: sqlite3.connect creates a database outside the work dir
# old kit: false pass; files appeared outside: ['canary.txt', 'db.sqlite', 'secret.txt']
import sqlite3
db = sqlite3.connect(__OUTSIDE__ + "/db.sqlite")
db.execute("create table t (x)")
db.commit()
