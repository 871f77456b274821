"""tools/student_copy.py (`make student-copy`): a copy without solutions/, linked to the course's repository,
whose notebooks still match their stamped sources."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
_spec = importlib.util.spec_from_file_location("student_copy", ROOT / "tools" / "student_copy.py")
student_copy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_copy)
from run_notebook import source_digest  # noqa: E402

URL = "https://github.com/my-course/kit-2027"


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("course") / "kit"
    assert student_copy.main(["--dest", str(dest), "--repo-url", URL + ".git", "--branch", "spring"]) == 0
    return dest


def test_the_copy_has_no_solutions_and_everything_else(copy):
    assert not (copy / "solutions").exists()
    for rel in ("README.md", "Makefile", "pyproject.toml", "scoreutils/exercises/__init__.py",
                "notebooks/05_stage1.ipynb", "tests/test_exercises.py"):
        assert (copy / rel).is_file(), rel
    assert not (copy / ".venv").exists() and not (copy / "runs").exists()


def test_no_file_of_the_copy_names_the_solutions_folder_as_a_place_to_look(copy):
    for path in [copy / "README.md", *sorted((copy / "notebooks").glob("*.ipynb"))]:
        text = path.read_text()
        assert "in `solutions/`" not in text and "instructors: `solutions/`" not in text, path.name
    assert "with your instructor" in (copy / "notebooks" / "01_base_model_self_correction.ipynb").read_text()


def test_badges_and_install_url_point_at_the_course(copy):
    notebooks = sorted((copy / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 9
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        sources = "\n".join(cell.source for cell in nb.cells)
        badge = f"https://colab.research.google.com/github/my-course/kit-2027/blob/spring/notebooks/{path.name}"
        assert badge in sources, path.name
        assert f'KIT_URL = os.environ.get("SCORE_KIT_URL", "{URL}")' in sources, path.name
        assert student_copy.KIT not in json.dumps(nb), path.name
        # outputs kept, and the copy's own `make test` sees them as made from these sources
        assert nb.metadata["scoreutils"]["source_sha256"] == source_digest(nb)
    assert student_copy.KIT not in (copy / "README.md").read_text()
    assert URL in (copy / "README.md").read_text()


def test_binary_files_are_copied_byte_for_byte(copy):
    figures = sorted((ROOT / "figures").glob("*.png"))[:3]
    assert figures
    for fig in figures:
        assert (copy / "figures" / fig.name).read_bytes() == fig.read_bytes()


def test_the_copy_is_importable_and_its_exercise_tests_skip_the_solutions(copy):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-k",
                           "solution_passes and rloo", "tests/test_exercises.py"],
                          cwd=copy, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 skipped" in proc.stdout and "handed out without the" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "git@github.com:a/b.git", "https://github.com/a", ""])
def test_a_non_github_url_is_refused_in_one_line(tmp_path, url, capsys):
    assert student_copy.main(["--dest", str(tmp_path / "x"), "--repo-url", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "github.com/<owner>/<name>" in err
    assert not (tmp_path / "x").exists()


def test_a_non_empty_destination_or_one_inside_the_kit_is_refused(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert student_copy.main(["--dest", str(tmp_path / "taken"), "--repo-url", URL]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert student_copy.main(["--dest", str(ROOT / "runs" / "copy"), "--repo-url", URL]) == 2
    assert "inside the kit" in capsys.readouterr().err
