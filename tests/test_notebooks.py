"""The lessons' committed outputs come from their current sources: a notebook edited after it was last
executed by `make notebooks` (tools/run_notebook.py stamps the digest of its cells) fails here."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "tools" / "run_notebook.py")
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outputs_match_sources(path):
    nb = nbformat.read(path, as_version=4)
    stamp = nb.metadata.get("scoreutils", {}).get("source_sha256")
    assert stamp == run_notebook.source_digest(nb), (
        f"{path.name} was edited after its outputs were made: run `make notebooks` (cpu profile) to refresh them")


def test_digest_sees_an_edit():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    before = run_notebook.source_digest(nb)
    nb.cells[-1].source += "\n# edited"
    assert run_notebook.source_digest(nb) != before
