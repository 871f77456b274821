"""Tests for benchmarks/_common.py: the offline setup and the child-process runner (its result line, and
the failure record of a child that exits non-zero, prints no result line or runs past its time-out)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHILD = """import json, sys, time
sys.path.insert(0, {benchmarks!r})
import _common
spec = json.loads(sys.argv[2])
print("progress", flush=True)
if spec["do"] == "ok":
    _common.send_result({{"value": spec["value"]}})
elif spec["do"] == "raise":
    raise ValueError("broken measurement")
elif spec["do"] == "sleep":
    time.sleep(30)
"""


@pytest.fixture(scope="module")
def common():
    """benchmarks/_common.py, loaded from its file (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_common", ROOT / "benchmarks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def child(tmp_path):
    """A child script following the protocol: `spec["do"]` says whether it succeeds, raises, prints no
    result line or sleeps past the time-out; returns its path."""
    path = tmp_path / "child.py"
    path.write_text(CHILD.format(benchmarks=str(ROOT / "benchmarks")))
    return str(path)


def test_run_child_returns_the_result_line(common, child):
    assert common.run_child(child, {"do": "ok", "value": 3}, 60, "ok") == {"value": 3}


@pytest.mark.parametrize("do, error", [("raise", "exit 1"), ("nothing", "exit 0 without a result line"),
                                       ("sleep", "timed out after 2 s")])
def test_a_failed_child_gives_a_failure_record(common, child, capsys, do, error):
    record = common.run_child(child, {"do": do}, 2, f"child {do}")
    assert record["what"] == f"child {do}" and record["failed"] is True and record["error"] == error
    if do == "raise":
        assert "ValueError: broken measurement" in record["output_tail"]
    else:
        assert "progress" in record["output_tail"]
    assert common.failed([{"value": 1}, record]) == [f"child {do}"]
    assert f"measurement child {do} failed ({error})" in capsys.readouterr().err


def test_offline_keeps_what_the_environment_sets(common, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    for name in ("HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)
    common.offline()
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1" and os.environ["TOKENIZERS_PARALLELISM"] == "false"
