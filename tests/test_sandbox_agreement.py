"""The sandbox agrees with the official HumanEval harness on realistic output: the corpus of correct-but-
unusual and wrong programs (benchmarks/agreement_corpus.py) gets its recorded official verdict, except the
documented disagreements; programs run with __name__ other than "__main__"; standard-library containers
and numpy values cross as data and are rebuilt on the tests' side with its own classes, while a
program's own look-alikes of them (subclasses, classes of the same name, fake numpy types) do not."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from scoreutils.sandbox import ProgramTests, grade_code, run_program

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str, path: Path):
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def humaneval():
    from scoreutils.tasks import load_task

    return {p.id: p for p in load_task("humaneval", "test")}


@pytest.fixture(scope="module")
def bench():
    return _module("sandbox_agreement", ROOT / "benchmarks" / "sandbox_agreement.py")


def passes(program: str, tests: str) -> bool:
    result = run_program(program, tests=ProgramTests(tests), timeout_s=10)
    return result.passed


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------
def test_corpus_gets_the_recorded_official_verdicts(bench, humaneval):
    """Every entry of the corpus, through the kit, against the official harness's recorded verdict (the
    full comparison, re-running the official harness too, is `python benchmarks/sandbox_agreement.py`)."""
    corpus = bench.load_corpus()
    assert len(corpus.CORRECT) >= 50 and len(corpus.WRONG) >= 50
    assert len({e.name for e in corpus.CORPUS}) == len(corpus.CORPUS)
    assert sum(e.official for e in corpus.CORPUS) >= 50 and sum(not e.official for e in corpus.CORPUS) >= 50
    start = time.perf_counter()
    result = bench.corpus_agreement(list(humaneval.values()), workers=2, run_official=False)
    elapsed = time.perf_counter() - start
    print(f"\ncorpus: {result['agree']}/{result['programs']} agree with the recorded official verdicts, "
          f"{len(result['explained_disagreements'])} documented disagreements, {elapsed:.1f} s")
    assert result["programs"] == len(corpus.CORPUS)
    assert result["unexplained_disagreements"] == [], result["unexplained_disagreements"]
    # every documented disagreement is one (and is in the sandbox's docstring)
    known = {e.name for e in corpus.CORPUS if e.known}
    assert {d["name"] for d in result["explained_disagreements"]} == known
    from scoreutils import sandbox

    for reason in {e.known.split(":")[0] for e in corpus.CORPUS if e.known}:
        assert reason in sandbox.__doc__, reason


# ---------------------------------------------------------------------------------------------
# __name__
# ---------------------------------------------------------------------------------------------
def test_graded_programs_do_not_run_as_main(humaneval):
    program = '''def add(x, y):
    return x + y

def name():
    return __name__

import sys
def main_module():
    return sys.modules["__main__"].__name__

if __name__ == "__main__":
    raise SystemExit("the main block ran")
'''
    assert passes(program, "assert name() != '__main__' and name() == main_module()")
    problem = humaneval["HumanEval/53"]
    for block in ("print(add(int(input()), int(input())))", "import unittest\n    unittest.main()",
                  "import sys\n    sys.exit(1)", "while True:\n        pass"):
        completion = f"def add(x: int, y: int):\n    return x + y\n\nif __name__ == '__main__':\n    {block}\n"
        result = grade_code(problem, completion, timeout_s=5)
        assert result.passed, (block, result.detail)
    # a bare program (no tests) still runs as __main__
    result = run_program("if __name__ == '__main__':\n    print('main ran')\n")
    assert result.passed and "main ran" in result.stdout


# ---------------------------------------------------------------------------------------------
# Containers and numpy values: rebuilt with the tests' own classes
# ---------------------------------------------------------------------------------------------
CONVERTED = {
    "counter": ("import collections\ndef f():\n    return collections.Counter('abca')\n",
                "import collections\nr = f()\nassert type(r) is collections.Counter and r == {'a': 2, 'b': 1, 'c': 1}\n"
                "assert r['z'] == 0"),
    "defaultdict": ("from collections import defaultdict\ndef f():\n    d = defaultdict(list)\n    d['a'].append(1)\n"
                    "    return d\n",
                    "import collections\nr = f()\nassert type(r) is collections.defaultdict and r == {'a': [1]}\n"
                    "assert r.default_factory is list and r['b'] == []"),
    "defaultdict_lambda": ("import collections\ndef f():\n    d = collections.defaultdict(lambda: 7)\n    d[1] += 1\n"
                           "    return d\n",
                           "import collections\nr = f()\nassert type(r) is collections.defaultdict and r == {1: 8}\n"
                           "assert r.default_factory is None"),
    "ordereddict": ("from collections import OrderedDict\ndef f():\n    d = OrderedDict(b=1, a=2)\n"
                    "    d.move_to_end('b')\n    return d\n",
                    "import collections\nr = f()\nassert type(r) is collections.OrderedDict and list(r) == ['a', 'b']\n"
                    "assert r == {'a': 2, 'b': 1}"),
    "deque": ("import collections\ndef f():\n    return collections.deque([1, 2, 3], maxlen=5)\n",
              "import collections\nr = f()\nassert type(r) is collections.deque and r.maxlen == 5\n"
              "assert r == collections.deque([1, 2, 3]) and r != [1, 2, 3]"),
    "namedtuple": ("from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef f():\n    return P(1, [2])\n",
                   "r = f()\nassert type(r) is tuple and r == (1, [2])"),
    "typing_namedtuple": ("from typing import NamedTuple\nclass P(NamedTuple):\n    x: int\n    y: str = 'a'\n"
                          "def f():\n    return P(3)\n",
                          "r = f()\nassert type(r) is tuple and r == (3, 'a')"),
    "nested": ("import collections\nimport numpy as np\ndef f():\n"
               "    return {'c': collections.Counter('aa'), 'n': [np.int64(3), np.float32(0.5)]}\n",
               "import collections, numpy\nr = f()\nassert type(r['c']) is collections.Counter and r['c'] == {'a': 2}\n"
               "assert type(r['n'][0]) is numpy.int64 and type(r['n'][1]) is numpy.float32 and r['n'] == [3, 0.5]"),
    "numpy_scalars": ("import numpy as np\ndef f():\n    return [np.float64(2.5), np.int32(-4), np.uint64(2**64 - 1),"
                      " np.bool_(True), np.complex128(1 + 2j), np.float16(0.5)]\n",
                      "import numpy as np\nr = f()\n"
                      "assert [type(x) for x in r] == [np.float64, np.int32, np.uint64, np.bool_, np.complex128, "
                      "np.float16]\nassert r == [2.5, -4, 2**64 - 1, True, 1 + 2j, 0.5]\n"
                      "assert r[3] is not True  # an np.bool_, as the official harness would see it"),
    "numpy_arrays": ("import numpy as np\ndef f():\n    return [np.arange(6).reshape(2, 3), np.array(2.5), "
                     "np.zeros((0, 3), dtype=bool), np.array([1 + 1j])]\n",
                     "import numpy as np\na, b, c, d = f()\nassert type(a) is np.ndarray and a.dtype == np.int64 "
                     "and a.shape == (2, 3) and a.tolist() == [[0, 1, 2], [3, 4, 5]]\n"
                     "assert b.shape == () and b == 2.5 and c.shape == (0, 3) and c.dtype == bool\n"
                     "assert d.dtype == np.complex128 and d[0] == 1 + 1j\n"
                     "try:\n    assert a == [[0, 1, 2], [3, 4, 5]]\nexcept ValueError:\n    pass  # ambiguous, as officially\n"
                     "else:\n    raise AssertionError('an array compared as a list')"),
}


@pytest.mark.parametrize("name", list(CONVERTED))
def test_standard_values_cross_as_themselves(name):
    program, tests = CONVERTED[name]
    result = run_program(program, tests=ProgramTests(tests), timeout_s=10)
    assert result.passed, result.detail


def test_counter_and_numpy_returns_pass_humaneval(humaneval):
    counter = ("    import collections\n    c = collections.Counter(test.split())\n    top = max(c.values(), default=0)\n"
               "    return collections.Counter({k: v for k, v in c.items() if v == top})\n")
    assert grade_code(humaneval["HumanEval/111"], counter).passed
    numpy = "    import numpy as np\n    return np.modf(number)[0]\n"
    assert grade_code(humaneval["HumanEval/2"], numpy).passed


# Each must fail: the value is not one of the captured types (or is, and then only its data crosses).
HOSTILE = {
    "counter_subclass_always_equal": (111, '''    import collections
    class Histogram(collections.Counter):
        def __eq__(self, other):
            return True
    return Histogram()
'''),
    "class_named_counter_right_contents": (111, '''    class Counter(dict):
        pass
    counts = Counter()
    for w in test.split():
        counts[w] = counts.get(w, 0) + 1
    top = max(counts.values(), default=0)
    return Counter({k: v for k, v in counts.items() if v == top})
'''),
    "counter_class_patched": (111, '''    import collections
    collections.Counter.__eq__ = lambda self, other: True
    collections.Counter.__ne__ = lambda self, other: False
    collections.Counter.items = lambda self: iter([("a", 2), ("b", 2)])
    collections.Counter.keys = lambda self: iter(["a", "b"])
    collections.Counter.__iter__ = lambda self: iter(["a", "b"])
    return collections.Counter()
'''),
    "defaultdict_subclass": (111, '''    import collections
    class D(collections.defaultdict):
        def __eq__(self, other):
            return True
    return D(int)
'''),
    "ordereddict_subclass": (111, '''    import collections
    class D(collections.OrderedDict):
        def __eq__(self, other):
            return True
    return D()
'''),
    "fake_namedtuple": (8, '''    class P(tuple):
        _fields = ("sum", "product")
        def __eq__(self, other):
            return True
        __hash__ = tuple.__hash__
    return P((0, 0))
'''),
    "namedtuple_always_equal": (8, '''    from typing import NamedTuple
    class P(NamedTuple):
        s: int
        p: int
        def __eq__(self, other):
            return True
        def __iter__(self):
            return iter((0, 1))
    return P(-1, -1)
'''),
    "fake_numpy_float": (2, '''    class float64(float):
        __module__ = "numpy"
        def __eq__(self, other):
            return True
        def __sub__(self, other):
            return float64(0.0)
        def __abs__(self):
            return 0.0
        def __lt__(self, other):
            return True
    return float64(0.25)
'''),
    "numpy_float_subclass": (2, '''    import numpy as np
    class F(np.float64):
        def __eq__(self, other):
            return True
        def __sub__(self, other):
            return F(0.0)
        def __abs__(self):
            return 0.0
    return F(0.25)
'''),
    "numpy_ndarray_subclass": (42, '''    import numpy as np
    class A(np.ndarray):
        def __eq__(self, other):
            return True
    return np.zeros(3).view(A)
'''),
    "numpy_object_array": (42, '''    import numpy as np
    class Any:
        def __eq__(self, other):
            return True
    a = np.empty(1, dtype=object)
    a[0] = Any()
    return a
'''),
    "numpy_nan": (2, '''    import numpy as np
    return np.float64("nan")
'''),
    "numpy_imported_by_a_computed_name": (2, '''    np = __import__("nu" + "mpy")
    return np.modf(number)[0]
'''),
    "deque_subclass": (42, '''    import collections
    class Q(collections.deque):
        def __eq__(self, other):
            return True
    return Q()
'''),
    "deque_for_a_list": (42, '''    import collections
    return collections.deque(x + 1 for x in l)
'''),
    "ctypes_used": (53, '''    import ctypes
    return ctypes.c_int(x + y).value
'''),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_look_alikes_do_not_cross(name, humaneval):
    task, completion = HOSTILE[name]
    result = grade_code(humaneval[f"HumanEval/{task}"], completion, timeout_s=10)
    assert not result.passed, name


def test_unused_ctypes_import_runs(humaneval):
    assert grade_code(humaneval["HumanEval/53"], "import ctypes\n\ndef add(x, y):\n    return x + y\n").passed
    program = "import ctypes\ntry:\n    ctypes.CDLL(None)\nexcept ImportError as e:\n    print('refused', e)\n"
    result = run_program(program)
    assert result.passed and "refused" in result.stdout, result
