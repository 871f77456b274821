"""docs/syllabus.md and solutions/discussion.md hold together with the lessons.

The syllabus has a `## Lesson NN — <title>` section for every notebook (its title as the notebook's), each with
3–5 objectives, prerequisites, six labelled hours lines and every exercise of `scoreutils.exercises.EXERCISES`
under its tier with its checker; every line that gives a time says whether it is measured (naming the file,
which must hold that number) or estimated; the three assignment sets' rubrics add up. The answer key quotes
every question of the lessons' prose — every sentence of a markdown cell that ends in "?" — in a `> ` line of
its lesson's section, followed by an answer. A students' copy has no solutions/: those tests skip, saying why.
Nothing here loads a model or touches the network.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from scoreutils.exercises import EXERCISES, TIERS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SYLLABUS = ROOT / "docs" / "syllabus.md"
SOLUTIONS = ROOT / "solutions"
KEY = SOLUTIONS / "discussion.md"

SECTION = re.compile(r"^## Lesson (\d\d) — (.+?)\s*$", re.M)
HOURS_LINE = re.compile(r"^- \*\*Hours · ([^:*]+):\*\* (.+)$", re.M)
HOURS_KINDS = ("reading", "exercises", "running the lesson on CPU", "training on CPU",
               "training on a free Colab GPU", "total")
"""The hours lines every lesson has (others, such as "training on CPU, scaling curves", may be added)."""
TIME_FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:h|hours?|min|minutes?|s)\b")
LABEL = re.compile(r"— (measured|estimated)\b")
CITED = re.compile(r"`([\w./-]+\.(?:json|jsonl|log))`")
SECONDS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) s\b")

# Questions: a markdown cell is cut into blocks (paragraphs, list items, table rows, headings, quotes; fenced
# code is skipped), each block's whitespace is squashed, and it is split into sentences after ".", "!" or "?"
# (also when a closing bracket, quote or "**" follows); a question is a sentence that ends in "?". A heading
# loses its "#" marks and a leading "NN · " or "N. " numbering.
HEADING_PREFIX = re.compile(r"^#+\s*(?:\d+\s*·\s*|\d+\.\s+)?")
LIST_ITEM = re.compile(r"(?:[-*+]|\d+\.)\s")
SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][)\]\"”'*])|(?<=[.!?]\*\*))\s+")
FENCE = re.compile(r"^\s*(```|~~~)")


def squash(text: str) -> str:
    return " ".join(text.split())


def blocks(markdown: str) -> list[str]:
    """The markdown's paragraphs, list items (without their marker), table cells, quotes and headings (without
    their marks and numbering), each on one line; fenced code is left out."""
    out: list[str] = []
    current: list[str] = []
    fenced = False

    def flush() -> None:
        if current:
            out.append(" ".join(current))
            current.clear()

    for line in markdown.splitlines():
        if FENCE.match(line):
            flush()
            fenced = not fenced
            continue
        s = line.strip()
        if fenced:
            continue
        if not s:
            flush()
        elif s.startswith("#"):
            flush()
            out.append(HEADING_PREFIX.sub("", s))
        elif s.startswith("|"):
            flush()
            out.extend(cell.strip() for cell in s.strip("|").split("|") if cell.strip())
        elif LIST_ITEM.match(s):
            flush()
            current.append(LIST_ITEM.sub("", s, count=1))
        else:
            if s.startswith(">"):
                flush()
            current.append(s)
    flush()
    return out


def questions(markdown: str) -> list[str]:
    """Every sentence of `markdown` that ends in "?", whitespace squashed, in order."""
    return [sentence for block in blocks(markdown) for sentence in SENTENCE_END.split(squash(block))
            if sentence.endswith("?")]


def lesson_questions(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [q for cell in nb.cells if cell.cell_type == "markdown" for q in questions(cell.source)]


def notebook_title(path: Path) -> str:
    """The notebook's first heading without its "# NN · " prefix."""
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    return HEADING_PREFIX.sub("", first.splitlines()[0]).strip()


def sections(text: str) -> list[tuple[str, str, str]]:
    """(lesson number, title, body) of each `## Lesson NN — title` section, in order; a body ends at the next
    `## ` heading."""
    heads = list(SECTION.finditer(text))
    out = []
    for m in heads:
        rest = text[m.end():]
        nxt = re.search(r"^## ", rest, re.M)
        out.append((m.group(1), m.group(2), rest[:nxt.start()] if nxt else rest))
    return out


def quoted_entries(body: str) -> list[tuple[str, str]]:
    """(quoted text, the text after it up to the next quote) for each run of `>` lines in `body`."""
    runs: list[tuple[bool, list[str]]] = []
    for line in body.splitlines():
        quote = line.startswith(">")
        if runs and runs[-1][0] == quote:
            runs[-1][1].append(line)
        else:
            runs.append((quote, [line]))
    return [(squash(" ".join(line[1:] for line in lines)), squash(" ".join(runs[i + 1][1])) if i + 1 < len(runs) else "")
            for i, (quote, lines) in enumerate(runs) if quote]


def missing_questions(key_text: str) -> dict[str, list[str]]:
    """Lesson -> the questions of its notebook that no `>` entry of its section quotes."""
    by_lesson = {n: body for n, _, body in sections(key_text)}
    out = {}
    for path in NOTEBOOKS:
        quoted = {q for q, _ in quoted_entries(by_lesson.get(path.name[:2], ""))}
        missing = [q for q in lesson_questions(path) if q not in quoted]
        if missing:
            out[path.name[:2]] = missing
    return out


LESSONS = [p.name[:2] for p in NOTEBOOKS]
TEXT = SYLLABUS.read_text(encoding="utf-8") if SYLLABUS.exists() else ""
BY_LESSON = {n: (title, body) for n, title, body in sections(TEXT)}


# --- the syllabus -----------------------------------------------------------------------------------------

def test_there_are_nine_lessons_and_exercises_for_each():
    assert SYLLABUS.is_file(), "docs/syllabus.md is missing"
    assert len(NOTEBOOKS) >= 9
    assert sorted(EXERCISES) == LESSONS, "scoreutils.exercises.EXERCISES and notebooks/ list different lessons"


def test_a_section_per_notebook_in_order_with_its_title():
    assert [n for n, _, _ in sections(TEXT)] == LESSONS
    for path in NOTEBOOKS:
        assert BY_LESSON[path.name[:2]][0] == notebook_title(path), path.name


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_section_has_objectives_prerequisites_hours_and_exercises(lesson):
    body = BY_LESSON[lesson][1]
    for part in ("### Objectives", "### Prerequisites", "### Hours", "### Exercises"):
        assert part in body, f"lesson {lesson}: no {part}"
    objectives = body.split("### Objectives", 1)[1].split("\n### ", 1)[0]
    bullets = [line for line in objectives.splitlines() if line.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"lesson {lesson}: {len(bullets)} objectives (3 to 5)"
    assert f"notebooks/{next(p.name for p in NOTEBOOKS if p.name[:2] == lesson)}" in body


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_is_listed_under_its_lesson_with_tier_and_checker(lesson):
    body = BY_LESSON[lesson][1]
    for tier, name in EXERCISES[lesson]:
        assert tier in TIERS
        row = rf"^\| {re.escape(tier)} \| `{name}` \| `check_{name}` \|"
        assert re.search(row, body, re.M), f"lesson {lesson}: no row '| {tier} | `{name}` | `check_{name}` |'"
    named = set(re.findall(r"`check_(\w+)`", body))
    assert named <= {name for _, name in EXERCISES[lesson]}, f"lesson {lesson} names other lessons' checkers"


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_lesson_has_every_hours_line(lesson):
    kinds = [kind for kind, _ in HOURS_LINE.findall(BY_LESSON[lesson][1])]
    assert not [k for k in HOURS_KINDS if k not in kinds], f"lesson {lesson}: hours lines {kinds}"


def prose_blocks(markdown: str) -> list[str]:
    """Paragraphs, list items (with their continuation lines) and table rows of `markdown`, fenced code left out."""
    out: list[list[str]] = []
    fenced, open_block = False, False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced, open_block = not fenced, False
            continue
        s = line.strip()
        if fenced or not s:
            open_block = False
            continue
        if not open_block or s.startswith(("#", "|")) or LIST_ITEM.match(s):
            out.append([])
        out[-1].append(s)
        open_block = not s.startswith(("#", "|"))
    return [" ".join(b) for b in out]


def test_every_time_figure_says_measured_or_estimated():
    """Each hours line carries exactly one label; any other paragraph, list item or table row that gives a
    time says which kind it is."""
    unlabelled = [b for b in prose_blocks(TEXT) if TIME_FIGURE.search(b) and not re.search(r"\b(measured|estimated)\b", b)]
    assert not unlabelled, "time figures without 'measured' or 'estimated':\n" + "\n".join(unlabelled)
    lines = HOURS_LINE.findall(TEXT)
    assert len(lines) >= 6 * len(LESSONS)
    for kind, rest in lines:
        assert len(LABEL.findall(rest)) == 1, f"hours line '{kind}' needs exactly one '— measured' or '— estimated'"


def _measured(path: str, lesson: str) -> float | None:
    """What a measured line may cite, in seconds: the lesson's notebook time, or a run's logged wall time."""
    data = json.loads((ROOT / path).read_text())
    if path == "results/notebook_times.json":
        return data[next(p.stem for p in NOTEBOOKS if p.name[:2] == lesson)]
    return float(data.get("train_wall_s") or 0.0) + float(data.get("wall_s") or 0.0)


def measured_problems(lesson: str, body: str) -> list[str]:
    """What is wrong with the measured hours lines of a lesson's section: no source named, a source that does
    not exist, or a number of seconds that the sources do not hold (notebook times within 25% or 5 s, as
    `make notebooks` re-measures them; a run's logged train_wall_s + wall_s within 1% or 2 s)."""
    problems = []
    for kind, rest in HOURS_LINE.findall(body):
        label = LABEL.search(rest)
        if not label or label.group(1) != "measured":
            continue
        before, after = rest.split("— measured", 1)
        cited = CITED.findall(after)
        if not cited:
            problems.append(f"'{kind}': measured, but no source file named")
            continue
        absent = [path for path in cited if not (ROOT / path).is_file()]
        if absent:
            problems.append(f"'{kind}': {', '.join(absent)} does not exist")
            continue
        stated = SECONDS.search(before)
        if stated:
            value, total = float(stated.group(1)), sum(_measured(path, lesson) for path in cited)
            times_only = cited == ["results/notebook_times.json"]
            if abs(value - total) > (max(5.0, 0.25 * total) if times_only else max(2.0, 0.01 * total)):
                problems.append(f"'{kind}': says {value:g} s, {', '.join(cited)} hold {total:.1f} s")
    return problems


@pytest.mark.parametrize("lesson", LESSONS)
def test_measured_hours_cite_files_that_hold_the_number(lesson):
    assert not measured_problems(lesson, BY_LESSON[lesson][1]), lesson


def test_the_hours_checks_catch_planted_mistakes():
    line = "- **Hours · training on CPU:** {} — measured: `results/naive_rl/metrics.json`\n"
    assert not measured_problems("04", line.format("1671 s (0.46 h)"))
    assert measured_problems("04", line.format("1200 s (0.33 h)"))  # not what the run logged
    assert measured_problems("04", line.replace("naive_rl", "no_such_run").format("1671 s"))
    assert measured_problems("04", "- **Hours · reading:** 1 h — measured\n")  # no source
    assert [b for b in prose_blocks("Setup takes 3 h.\n\n- about 2 min per run\n  (estimated)\n")
            if not re.search(r"\b(measured|estimated)\b", b)] == ["Setup takes 3 h."]


def test_three_assignment_sets_whose_rubrics_add_up():
    part = TEXT.split("## Assignment sets", 1)[1].split("\n## ", 1)[0]
    sets = re.split(r"^### ", part, flags=re.M)[1:]
    assert [s.split(":", 1)[0] for s in sets] == ["One week", "Three weeks", "Project"]
    for s in sets:
        assert "Hand in" in s, s.splitlines()[0]
        rows = [line for line in s.splitlines() if line.startswith("| ") and not line.startswith("| item")]
        points = [re.match(r"\| (.+?) \| \**(\d+)\** \|", row) for row in rows if not row.startswith("|---")]
        assert all(points), s.splitlines()[0]
        items = [(m.group(1), int(m.group(2))) for m in points]
        assert items and items[-1][0] == "**total**", f"{s.splitlines()[0]}: the rubric's last row is not its total"
        added = sum(value for _, value in items[:-1])
        assert added == items[-1][1], f"{s.splitlines()[0]}: the items add up to {added}, not {items[-1][1]}"


def test_the_students_copy_command_and_no_link_into_solutions():
    assert "make student-copy DEST=<folder> REPO_URL=<your course's git URL>" in TEXT
    links = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    assert not [link for link in links if "solutions" in link], "a students' copy has no solutions/: do not link it"


# --- the answer key ---------------------------------------------------------------------------------------

needs_solutions = pytest.mark.skipif(
    not SOLUTIONS.is_dir(), reason="solutions/ is absent: this copy of the kit was handed out without the answer "
                                   "key (solutions/discussion.md), so there is nothing to check")


@needs_solutions
def test_the_key_has_a_section_per_lesson_in_order():
    assert KEY.is_file(), "solutions/discussion.md is missing"
    found = sections(KEY.read_text(encoding="utf-8"))
    assert [n for n, _, _ in found] == LESSONS
    for (n, title, _), path in zip(found, NOTEBOOKS):
        assert title == notebook_title(path), path.name


@needs_solutions
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_key_quotes_and_answers_every_question_of_the_lesson(path):
    body = {n: b for n, _, b in sections(KEY.read_text(encoding="utf-8"))}[path.name[:2]]
    asked = lesson_questions(path)
    assert asked, f"{path.name}: no question found (the extraction rule is broken)"
    entries = quoted_entries(body)
    quoted = [q for q, _ in entries]
    missing = [q for q in asked if q not in quoted]
    assert not missing, f"{path.name}: questions not quoted in solutions/discussion.md: {missing}"
    stale = [q for q in quoted if q not in asked]
    assert not stale, f"{path.name}: quoted in solutions/discussion.md but not asked by the lesson: {stale}"
    assert len(quoted) == len(set(quoted)), f"{path.name}: a question quoted twice"
    unanswered = [q for q, answer in entries if len(answer.split()) < 15]
    assert not unanswered, f"{path.name}: quoted without an answer: {unanswered}"


# --- the rule itself, on planted text ---------------------------------------------------------------------

def test_the_question_rule_on_planted_markdown():
    md = ("# 03 · How much does it change? Edit-distance ratios\n"
          "**Reading the results.** The matrix, e.g. its top row, counts breaks. Questions: how many moved\n"
          "at all? Does it fix more — and does the interval exclude 0?\n\n"
          "- a list item asks why (see `x.y`)?\n"
          "Return it (you may call the warm-up.) Why divide by the *sum*: what is the largest value?\n"
          "```python\nprint('not a question?')\n```\n"
          "## 4. What changed?\n| a | b? |\n")
    assert questions(md) == ["How much does it change?", "Questions: how many moved at all?",
                             "Does it fix more — and does the interval exclude 0?",
                             "a list item asks why (see `x.y`)?",
                             "Why divide by the *sum*: what is the largest value?", "What changed?", "b?"]


@needs_solutions
def test_a_key_missing_a_question_is_caught():
    text = KEY.read_text(encoding="utf-8")
    assert not missing_questions(text)
    first = lesson_questions(NOTEBOOKS[5])[0]
    gap = text.replace(f"> {first}\n", "> (removed)\n", 1)
    assert missing_questions(gap) == {NOTEBOOKS[5].name[:2]: [first]}
