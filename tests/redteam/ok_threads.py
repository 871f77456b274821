# expect: pass
# target: HumanEval/53
# class: correct
# idea: uses a thread pool inside the candidate
# old kit: ok
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        return pool.submit(lambda: x + y).result()
