# expect: pass
# target: HumanEval/53
# class: correct
# idea: adds with an in-memory sqlite3 database
# old kit: ok
    import sqlite3
    return sqlite3.connect(":memory:").execute("select ? + ?", (x, y)).fetchone()[0]
