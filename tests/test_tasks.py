"""Tests for scoreutils.tasks: the generated arithmetic task, HumanEval, local MATH files, hub errors."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from scoreutils import LEVELS, Problem, load_task
from scoreutils.models import HubUnreachable
from scoreutils.tasks import HELD_OUT, TASKS, VALIDATION_FROM, TaskDataError, _split_of, arithmetic_problems

OLD_LEVELS = [lv for lv in sorted(LEVELS) if lv < VALIDATION_FROM]
NEW_LEVELS = [lv for lv in sorted(LEVELS) if lv >= VALIDATION_FROM]


# ---------------------------------------------------------------- arithmetic: determinism, splits
def _texts(problems):
    return [p.prompt for p in problems]


@pytest.mark.parametrize("level", [1, [0, 3, 5]])
def test_arithmetic_is_deterministic_per_seed(level):
    a = load_task("arithmetic", "test", n=40, seed=3, level=level)
    b = load_task("arithmetic", "test", n=40, seed=3, level=level)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    c = load_task("arithmetic", "test", n=40, seed=4, level=level)
    assert _texts(a) != _texts(c)


def test_arithmetic_train_and_test_are_disjoint_across_seeds_and_levels():
    train, test = set(), set()
    for seed in range(3):
        for level in OLD_LEVELS:
            n_test = 60
            test.update(_texts(load_task("arithmetic", "test", n=n_test, seed=seed, level=level)))
            train.update(_texts(load_task("arithmetic", "train", n=120, seed=seed, level=level)))
    assert len(train) > 1000 and len(test) > 500
    assert not train & test
    # The split is a function of the text alone.
    assert all(_split_of(t) == "train" for t in train)
    assert all(_split_of(t) == "test" for t in test)


def test_arithmetic_problem_fields():
    problems = load_task("arithmetic", "train", n=25, seed=1, level=2)
    assert len({p.id for p in problems}) == 25
    assert len(set(_texts(problems))) == 25  # distinct
    for i, p in enumerate(problems):
        assert p.id == f"arithmetic/train/L2/{i:05d}"
        assert (p.split, p.source, p.kind, p.entry_point, p.meta) == ("train", "arithmetic", "math", None,
                                                                        {"level": 2})


def _eval_expression(prompt: str) -> int:
    m = re.fullmatch(r"What is ([-+x()\d ]+)\?", prompt)
    assert m, prompt
    expr = m.group(1).replace(" x ", " * ")
    assert re.fullmatch(r"[-+*()\d ]+", expr), expr
    return eval(expr, {"__builtins__": {}})  # digits, spaces, + - * and parentheses only


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_arithmetic_expression_answers_are_correct(level):
    problems = load_task("arithmetic", "test", n=30, seed=7, level=level)
    for p in problems:
        assert p.reference == str(_eval_expression(p.prompt)), p.prompt
    if level == 3:
        assert any(int(p.reference) < 0 for p in problems)
        assert any("(" in p.prompt for p in problems)


def test_arithmetic_level_shapes():
    one = load_task("arithmetic", "test", n=20, level=1)
    assert all(re.fullmatch(r"What is \d\d [-+x] \d\d\?", p.prompt) for p in one)
    zero = load_task("arithmetic", "test", n=20, level=0)
    assert all(re.fullmatch(r"What is \d\d? [-+x] \d\?", p.prompt) for p in zero)
    two = load_task("arithmetic", "test", n=20, level=2)
    assert all(re.fullmatch(r"What is \d\d( [-+x] \d\d?){2}\?", p.prompt) for p in two)


_WORD_START = re.compile(r"(\w+) has (\d+) (\w+)\.")
_BUY = re.compile(r"Then (\w+) buys (\d+) more (\w+)\.")
_GIVE = re.compile(r"Then (\w+) gives away (\d+) (\w+)\.")
_TIMES = re.compile(r"Then (\w+) gets (\d+) times as many (\w+) as before, in total\.")
_QUESTION = re.compile(r"How many (\w+) does (\w+) have now\?")


def _solve_word_problem(text: str) -> tuple[int, int]:
    """(answer, number of steps) of a generated word problem, by reading its sentences."""
    sentences = re.findall(r"[^.?]+[.?]", text)
    m = _WORD_START.fullmatch(sentences[0].strip())
    assert m, text
    who, total, item = m.group(1), int(m.group(2)), m.group(3)
    steps = 0
    for s in sentences[1:-1]:
        s = s.strip()
        if m := _BUY.fullmatch(s):
            total += int(m.group(2))
        elif m := _GIVE.fullmatch(s):
            assert 1 <= int(m.group(2)) < total, text  # never gives away everything
            total -= int(m.group(2))
        elif m := _TIMES.fullmatch(s):
            total *= int(m.group(2))
        else:
            raise AssertionError(f"unexpected sentence {s!r} in {text!r}")
        assert (m.group(1), m.group(3)) == (who, item), text
        steps += 1
    q = _QUESTION.fullmatch(sentences[-1].strip())
    assert q and (q.group(1), q.group(2)) == (item, who), text
    return total, steps


@pytest.mark.parametrize("level, steps", [(4, {1}), (5, {2, 3})])
def test_arithmetic_word_problem_answers_are_correct(level, steps):
    problems = load_task("arithmetic", "train", n=40, seed=2, level=level)
    seen_steps = set()
    for p in problems:
        answer, k = _solve_word_problem(p.prompt)
        assert p.reference == str(answer), p.prompt
        assert answer > 0
        seen_steps.add(k)
    assert seen_steps == steps


@pytest.mark.parametrize("n", [1, 7, 64])
def test_n_is_respected(n):
    assert len(load_task("arithmetic", "test", n=n, level=[1, 4])) == n


def test_default_n_is_500():
    assert len(load_task("arithmetic", "test")) == 500


def test_level_list_cycles():
    problems = load_task("arithmetic", "train", n=10, level=[5, 0, 3])
    assert [p.meta["level"] for p in problems] == [5, 0, 3, 5, 0, 3, 5, 0, 3, 5]
    assert [p.id.split("/")[2] for p in problems] == ["L5", "L0", "L3"] * 3 + ["L5"]
    # Each level draws from its own stream: the level-0 problems of a mixed list are the first
    # level-0 problems of that split.
    only0 = load_task("arithmetic", "train", n=3, level=0)
    assert [p.prompt for p in problems if p.meta["level"] == 0] == _texts(only0)


def test_level_tuple_is_accepted():
    # Profiles hold levels as tuples.
    assert [p.meta["level"] for p in load_task("arithmetic", "test", n=4, level=(1, 2))] == [1, 2, 1, 2]


@pytest.mark.parametrize("level", [8, -1, [1, 9]])
def test_bad_level(level):
    with pytest.raises(ValueError, match=r"arithmetic level must be one of \[0, 1, 2, 3, 4, 5, 6, 7\]"):
        load_task("arithmetic", "test", n=3, level=level)


def test_too_many_distinct_problems():
    # Level 0 has 30 * 3 * 9 = 810 distinct problems, about a fifth of them in test.
    with pytest.raises(ValueError, match="could not generate 300 distinct"):
        arithmetic_problems("test", 300, level=0)


@pytest.mark.parametrize("split", ["valid", "TEST", ""])
def test_bad_split(split):
    with pytest.raises(ValueError, match=r"split must be 'train', 'validation' or 'test', not"):
        load_task("arithmetic", split, n=3, level=6)


@pytest.mark.parametrize("n", [0, -2])
def test_bad_n(n):
    with pytest.raises(ValueError, match=f"n must be a positive number of problems, not {n}"):
        load_task("arithmetic", "test", n=n)


def test_bad_task_name():
    with pytest.raises(ValueError, match=r"unknown task 'gsm9k'; choose one of arithmetic, math, gsm8k"):
        load_task("gsm9k", "test")


# ---------------------------------------------------------------- levels 0-5 never change; the validation split
# Digests of the problems (ids, texts, answers, meta) levels 0-5 gave before the validation split existed:
# the committed runs and the lessons were made with exactly these, and RL samples train problems by position.
PINNED = {
    (0, "test", 0, 150): "193d60213eb6cf36", (0, "train", 0, 400): "0000f96a9505d142",
    (0, "train", 1, 400): "ccf4ce409c5cd597", (1, "test", 0, 300): "5c2ed75b5a9560bc",
    (1, "train", 0, 400): "65ea8a60aa040584", (2, "test", 0, 300): "f872880182d6f9d5",
    (2, "train", 0, 400): "49f32eba8dee2221", (3, "test", 0, 300): "3983735513b84f3c",
    (3, "train", 0, 400): "32db79133f0a45e0", (4, "test", 0, 300): "06636894ad4895dc",
    (4, "train", 0, 400): "fcf77e0e516f79c9", (5, "test", 0, 300): "f2e24edb342cc633",
    (5, "train", 0, 400): "d06cded7c1d3fd03", (5, "test", 1, 300): "3120062e7f61f60a",
}
FIRST_TEST = {0: "What is 12 - 8?", 1: "What is 40 + 95?", 2: "What is 69 + 94 + 59?",
              3: "What is (54 - 60) x 2 - 86?"}


@pytest.mark.parametrize("key", sorted(PINNED))
def test_levels_0_to_5_are_unchanged(key):
    level, split, seed, n = key
    problems = arithmetic_problems(split, n, seed, level)
    digest = hashlib.sha256(json.dumps([p.to_dict() for p in problems]).encode()).hexdigest()[:16]
    assert digest == PINNED[key]
    if split == "test" and seed == 0 and level in FIRST_TEST:
        assert problems[0].prompt == FIRST_TEST[level]


@pytest.mark.parametrize("level", NEW_LEVELS)
def test_new_levels_split_three_ways(level):
    splits = {s: [] for s in ("train", "validation", "test")}
    for seed in range(3):
        for split, n in (("train", 300), ("validation", 60), ("test", 200)):
            problems = load_task("arithmetic", split, n=n, seed=seed, level=level)
            assert all(p.split == split and p.id.startswith(f"arithmetic/{split}/L{level}/") for p in problems)
            splits[split] += _texts(problems)
    train, validation, test = (set(splits[s]) for s in ("train", "validation", "test"))
    assert not train & validation and not train & test and not validation & test
    for split, texts in splits.items():
        assert {_split_of(t, validation=True) for t in texts} == {split}
    # Their test holds out all of levels 0-5's test hash range: a text levels 0-5 test on is never trained on.
    assert all(_split_of(t) == "train" for t in train)
    assert any(_split_of(t) == "train" for t in test)  # ... and more: [TEST_FRACTION, HELD_OUT[0]) too
    assert HELD_OUT[0] < HELD_OUT[1]


def test_level_6_has_500_held_out_problems_per_seed():
    for seed in range(3):
        test = load_task("arithmetic", "test", n=500, seed=seed, level=6)
        assert len(set(_texts(test))) == 500
        assert {p.prompt.split()[3] for p in test} == {"+", "-", "x"}
    assert len(load_task("arithmetic", "validation", n=150, level=6)) == 150
    assert len(load_task("arithmetic", "train", n=800, level=6)) == 800


@pytest.mark.parametrize("level", NEW_LEVELS)
def test_new_level_answers_and_ranges(level):
    for p in load_task("arithmetic", "train", n=200, seed=5, level=level):
        a, op, b = re.fullmatch(r"What is (\d+) ([-+x]) (\d+)\?", p.prompt).groups()
        a, b = int(a), int(b)
        assert p.reference == str(_eval_expression(p.prompt)), p.prompt
        assert p.meta == {"level": level}
        if level == 6:
            if op == "x":
                assert 1 <= a <= 40 and 1 <= b <= 12
            else:
                assert 1 <= min(a, b) and max(a, b) <= 30 and (op == "+" or b <= a)
            assert int(p.reference) >= 0
        else:
            assert 1 <= a <= 99 and 1 <= b <= 12


@pytest.mark.parametrize("level", OLD_LEVELS)
def test_old_levels_have_no_validation_split(level):
    with pytest.raises(ValueError, match=f"levels below {VALIDATION_FROM} have no validation split"):
        load_task("arithmetic", "validation", n=3, level=level)


def test_old_and_new_levels_do_not_mix():
    with pytest.raises(ValueError, match="cannot be mixed"):
        load_task("arithmetic", "train", n=4, level=[0, 6])
    assert [p.meta["level"] for p in load_task("arithmetic", "validation", n=4, level=[6, 7])] == [6, 7, 6, 7]


def test_only_arithmetic_has_a_validation_split():
    with pytest.raises(ValueError, match="humaneval has no validation split"):
        load_task("humaneval", "validation")


# ---------------------------------------------------------------- HumanEval (packaged, offline)
def test_humaneval_loads_offline():
    problems = load_task("humaneval", "test")
    assert len(problems) == 164
    assert len({p.id for p in problems}) == 164
    assert problems[0].id == "HumanEval/0"
    for p in problems:
        assert (p.kind, p.source, p.split) == ("code", "humaneval", "test")
        assert p.entry_point and f"def {p.entry_point}" in p.prompt
        assert "def check(candidate)" in p.reference
        assert p.meta["canonical_solution"]


def test_humaneval_subsample_is_seeded():
    a = load_task("humaneval", "test", n=5, seed=1)
    assert [p.id for p in a] == [p.id for p in load_task("humaneval", "test", n=5, seed=1)]
    assert [p.id for p in a] != [p.id for p in load_task("humaneval", "test", n=5, seed=2)]
    assert len(load_task("humaneval", "test", n=500)) == 164  # n beyond the set: all of it


def test_humaneval_has_no_train_split():
    with pytest.raises(ValueError, match="only a 'test' split"):
        load_task("humaneval", "train")


# ---------------------------------------------------------------- MATH from a local JSONL
def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


MATH_ROWS = [
    {"problem": "Compute $\\frac{1}{2} + \\frac{1}{2}$.", "solution": "It is $\\boxed{1}$.",
     "level": "Level 1", "type": "Algebra"},
    {"problem": "Simplify $\\sqrt{12}/4$.",
     "solution": "We get \\boxed{2} first, then $\\boxed{\\frac{\\sqrt{3}}{2}}$."},
    {"problem": "Solve for the set.", "solution": "So $x \\in \\boxed{\\{1, 2\\}}$.",
     "unique_id": "test/algebra/7.json"},
    {"problem": "Given answer.", "solution": "Nothing boxed.", "answer": "42"},
]


def test_math_from_local_jsonl(tmp_path):
    path = _write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    problems = load_task("math", "test", path=str(path))
    assert [p.reference for p in problems] == ["1", "\\frac{\\sqrt{3}}{2}", "\\{1, 2\\}", "42"]
    assert [p.id for p in problems] == ["math/test/00000", "math/test/00001", "math/test/test/algebra/7.json",
                                        "math/test/00003"]
    assert [p.prompt for p in problems] == [r["problem"] for r in MATH_ROWS]
    assert all((p.kind, p.source, p.split) == ("math", "math", "test") for p in problems)
    assert problems[0].meta == {"level": "Level 1", "type": "Algebra"}
    # A pathlib.Path works too, as does sub-sampling.
    sub = load_task("math", "train", n=2, seed=0, path=path)
    assert len(sub) == 2 and {p.prompt for p in sub} <= {r["problem"] for r in MATH_ROWS}
    assert all(p.split == "train" for p in sub)


def test_math_jsonl_skips_blank_lines(tmp_path):
    path = _write_jsonl(tmp_path / "math.jsonl", [MATH_ROWS[0], "", "   ", MATH_ROWS[1]])
    assert [p.reference for p in load_task("math", "test", path=path)] == ["1", "\\frac{\\sqrt{3}}{2}"]


@pytest.mark.parametrize("bad_row, message", [
    ({"solution": "\\boxed{3}"}, "line 3 has no 'problem' text"),
    ({"problem": "   ", "solution": "\\boxed{3}"}, "line 3 has no 'problem' text"),
    ({"problem": "What?", "solution": "It is 3."}, "line 3's solution has no \\boxed{} answer"),
    ({"problem": "What?"}, "line 3 has neither 'answer' nor a 'solution' string"),
    ('{"problem": "What?", "solution": ', "line 3 is not valid JSON"),
    ("[1, 2]", "line 3 has no 'problem' text"),
])
def test_malformed_math_row_names_its_line(tmp_path, bad_row, message):
    # Line 3 of the file (after a blank line 2): the message must point at the line a reader sees.
    path = _write_jsonl(tmp_path / "bad.jsonl", [MATH_ROWS[0], "", bad_row, MATH_ROWS[1]])
    with pytest.raises(TaskDataError) as info:
        load_task("math", "test", path=path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_math_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such JSONL file"):
        load_task("math", "test", path=tmp_path / "absent.jsonl")


# ---------------------------------------------------------------- hub data sets, offline
@pytest.mark.parametrize("name, split", [("gsm8k", "test"), ("gsm8k", "train"), ("mbpp", "test"),
                                         ("math", "test"), ("math", "train")])
def test_hub_tasks_offline_raise_one_line(monkeypatch, name, split):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachable) as info:
        load_task(name, split, n=3)
    message = str(info.value)
    assert "\n" not in message
    assert "Hugging Face Hub" in message and "arithmetic" in message


def test_every_task_is_covered():
    assert set(TASKS) == {"arithmetic", "math", "gsm8k", "humaneval", "mbpp"}


# ---------------------------------------------------------------- Problem serialisation
def test_problem_round_trip():
    problems = [*load_task("arithmetic", "test", n=2, level=[1, 5]), load_task("humaneval", "test")[3],
                Problem("x/1", "p", "r", "train", "math", meta={"nested": {"a": [1, 2]}})]
    for p in problems:
        d = json.loads(json.dumps(p.to_dict()))
        q = Problem.from_dict(d)
        assert q == p
        assert q.meta == p.meta and q.entry_point == p.entry_point and q.kind == p.kind
        assert q.to_dict() == p.to_dict()


def test_problem_from_minimal_dict_has_defaults():
    p = Problem.from_dict({"id": "a", "prompt": "b", "reference": "c", "split": "test", "source": "math"})
    assert (p.kind, p.entry_point, p.meta) == ("math", None, {})


# ---------------------------------------------------------------- the validation split from the command line
def test_eval_cli_on_the_validation_split(tmp_path, capsys):
    from scoreutils.__main__ import main

    out = tmp_path / "val.json"
    main(["eval", "--profile", "smoke", "--model", "tiny", "--level", "6", "--split", "validation", "--n", "3",
          "--max-new-tokens", "2", "--out", str(out)])
    assert json.loads(out.read_text())["split"] == "validation"
    ids = [json.loads(line)["problem"]["id"] for line in open(out.with_suffix(".episodes.jsonl"))]
    assert ids == [p.id for p in load_task("arithmetic", "validation", n=3, level=6)]
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:  # the smoke profile's level 0 has none: one line, exit status 2
        main(["eval", "--profile", "smoke", "--model", "tiny", "--split", "validation", "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "have no validation split" in err


# ---------------------------------------------------------------- the shared test set
def test_every_problem_of_a_level_is_enumerated_once_and_keeps_its_split():
    from scoreutils.tasks import arithmetic_problems, every_arithmetic_problem

    test = every_arithmetic_problem("test", 6)
    assert len(test) >= 700 and len({p.prompt for p in test}) == len(test)
    assert all(p.split == "test" and p.meta == {"level": 6} for p in test)
    train = {p.prompt for p in every_arithmetic_problem("train", 6)}
    validation = {p.prompt for p in every_arithmetic_problem("validation", 6)}
    assert not ({p.prompt for p in test} & train) and not (train & validation)
    answers = {p.prompt: p.reference for p in test}
    for seed in (0, 3):  # every seeded draw is a subset of the enumeration, with the same answers
        drawn = arithmetic_problems("test", 300, seed, 6)
        assert all(answers[p.prompt] == p.reference for p in drawn)
    with pytest.raises(ValueError, match="no enumerable problem space"):
        every_arithmetic_problem("test", 2)


def test_the_repro_profile_evaluates_every_seed_on_the_same_problems():
    from scoreutils.config import get_profile
    from scoreutils.runs.pipeline import profile_problems

    repro = get_profile("repro")
    assert repro.test_set == "all"
    a, b = profile_problems(repro, "test"), profile_problems(repro.replace(seed=4), "test")
    assert [p.prompt for p in a] == [p.prompt for p in b] and len(a) >= 700
    assert all(p.meta["turn1_format"] == repro.turn1_format for p in a)
    short = profile_problems(repro.replace(seed=2), "test", n=50)
    assert [p.prompt for p in short] == [p.prompt for p in profile_problems(repro, "test", n=50)]
    sampled = get_profile("cpu")  # the default: each seed draws its own
    assert [p.prompt for p in profile_problems(sampled, "test")] != [
        p.prompt for p in profile_problems(sampled.replace(seed=1), "test")]
    with pytest.raises(ValueError, match="test_set must be"):
        get_profile("cpu", test_set="some")


def test_outcomes_of_one_attempt():
    from scoreutils.rewards import different_answers, has_answer, outcome
    from scoreutils.tasks import Problem, load_task

    p = Problem("p", "What is 2 + 3?", "5", "test", "arithmetic")
    assert [outcome(p, t) for t in ("2 + 3 = 5", "2 + 3 = 6", "I'm sorry for the confusion.")] == \
        ["right", "wrong", "none"]
    assert outcome(p, "The final answer is 5.", reward=0.0) == "wrong"  # a given reward is trusted
    assert has_answer(p, "\\boxed{7}") and not has_answer(p, "Let me think again.")
    assert different_answers(p, "5", "6") and not different_answers(p, "5", "Sorry.")
    assert not different_answers(p, "The answer is 5.", "So it is 5.0")
    code = load_task("humaneval", "test")[0]
    body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    assert outcome(code, body, reward=0.0) == "wrong" and outcome(code, "I am sorry, I cannot.", reward=0.0) == "none"
    assert different_answers(code, body, body.replace("any", "all")) and not different_answers(code, body, body)


# ---------------------------------------------------------------- impossible counts are refused at once
@pytest.mark.parametrize("split,level,says", [
    ("test", 0, "level 0 has only 173 test problems; ask for at most 173"),
    ("validation", 6, "level 6 has only 193 validation problems"),
    ("test", 1, "at most 1,000,000 problems are generated at levels [1]"),
    ("train", [6, 7], "levels [6, 7] taking turns give at most"),
])
def test_an_impossible_n_is_refused_at_once(split, level, says):
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="could not generate 1000000000 distinct") as err:
        load_task("arithmetic", split, n=10**9, level=level)
    assert time.perf_counter() - t0 < 1.0  # before drawing: 200 n + 10,000 tries used to take minutes
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_count_bound_is_exact_for_enumerable_levels():
    from scoreutils.tasks import arithmetic_split_size, every_arithmetic_problem, most_arithmetic_problems

    assert arithmetic_split_size("test", 0) == len(every_arithmetic_problem("test", 0)) == 173
    every = arithmetic_problems("test", 173, level=0)  # the whole split is still reachable
    assert len({p.prompt for p in every}) == 173
    with pytest.raises(ValueError, match="ask for at most 173"):
        arithmetic_problems("test", 174, level=0)
    assert len(load_task("arithmetic", "test", n=40, level=1)) == 40  # a feasible n at a level not enumerated
    assert most_arithmetic_problems("validation", [6, 7]) == min(193 * 2, 371 * 2 + 1)
