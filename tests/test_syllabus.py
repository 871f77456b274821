"""docs/syllabus.md covers every lesson and exercise with labelled hours; solutions/discussion.md answers every
question a lesson asks (skipped, saying why, in a students' copy, which has no solutions/)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from scoreutils.exercises import EXERCISES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SYLLABUS = (ROOT / "docs" / "syllabus.md").read_text()
KEY = ROOT / "solutions" / "discussion.md"


def sections(text: str) -> dict[str, str]:
    """'NN' -> the text of the `## Lesson NN — …` section."""
    parts = re.split(r"^## Lesson (\d\d) — .*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def squash(text: str) -> str:
    return " ".join(text.split())


def questions(path: Path) -> list[str]:
    """Each sentence of the lesson's markdown ending in '?' (its self-check excluded: it checks itself), as
    its text after the last sentence end or list marker before it."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown" or cell.source.startswith("### Self-check"):
            continue
        body = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#"))  # no titles
        text = squash(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", body))  # links as their text
        for match in re.finditer(r"[^.?!:]*\?", text):
            q = match.group(0).strip()
            q = re.sub(r"^(?:\*\*[^*]*\*\*|- |[)*]+)\s*", "", q).strip()
            if len(q) > 12:
                found.append(q)
    return found


def test_every_lesson_has_a_syllabus_section_in_order():
    assert list(sections(SYLLABUS)) == [p.name[:2] for p in NOTEBOOKS]


@pytest.mark.parametrize("lesson", sorted(EXERCISES))
def test_the_syllabus_lists_each_exercise_under_its_lesson(lesson):
    section = sections(SYLLABUS)[lesson]
    for tier, name in EXERCISES[lesson]:
        assert f"{tier} `{name}`" in section, (lesson, name)


def test_every_hours_line_labels_each_figure():
    for lesson, section in sections(SYLLABUS).items():
        hours = squash(section.split("- Hours:", 1)[1].split("\n- ", 1)[0])
        figures = [f.strip() for f in hours.rstrip(".").split(";")]
        assert len(figures) >= 3, lesson
        for figure in figures:
            assert re.search(r"\((?:measured|estimated)[,)]|training none|not measured", figure), (lesson, figure)
        assert "results/notebook_times.json" in hours, lesson


def test_three_assignment_sets_with_rubrics():
    sets = re.findall(r"^### (One week|Three weeks|A project)", SYLLABUS, flags=re.M)
    assert sets == ["One week", "Three weeks", "A project"]
    assert SYLLABUS.count("| item | points | full marks when |") == 3
    assert "make student-copy DEST=" in SYLLABUS


needs_key = pytest.mark.skipif(not KEY.exists(), reason="solutions/ is absent: a students' copy has no answer key")


@needs_key
def test_the_key_has_a_section_per_lesson():
    assert list(sections(KEY.read_text())) == [p.name[:2] for p in NOTEBOOKS]


@needs_key
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_key_quotes_every_question_of_the_lesson(path):
    section = sections(KEY.read_text())[path.name[:2]]
    quoted = [squash(line[2:]) for line in section.splitlines() if line.startswith("> ")]
    asked = questions(path)
    assert asked, path.name
    missing = [q for q in asked if not any(q in line for line in quoted)]
    assert not missing, f"{path.name}: questions without an answer in solutions/discussion.md: {missing}"
    answers = [block for block in section.split("\n> ")[1:]]
    assert all(len(block.split("\n", 1)[-1].strip()) > 20 for block in answers), "a quoted question without an answer"


def test_question_extraction_finds_a_known_question():
    asked = questions(ROOT / "notebooks" / "05_stage1.ipynb")
    assert any(q.startswith("Why does the kit not use the popular") for q in asked)
    assert any(q == "Can one attempt's estimate be negative?" for q in asked)
