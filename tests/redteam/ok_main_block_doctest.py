# expect: pass
# target: HumanEval/53
# class: correct
# idea: an `if __name__ == '__main__'` block running doctest
# old kit: ok
    return x + y


if __name__ == "__main__":
    import doctest
    doctest.testmod()
