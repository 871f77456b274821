"""The command line end to end on the tiny model, and the offline error paths of load_policy."""
import json
import subprocess
from pathlib import Path
import sys

import pytest

from scoreutils.config import HubUnreachable
from scoreutils.metrics import METRIC_KEYS
from scoreutils.models import load_policy


def test_eval_cli_writes_metrics_and_episodes(tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run([sys.executable, "-m", "scoreutils", "eval", "--profile", "smoke", "--model", "tiny",
                           "--task", "arithmetic", "--split", "test", "--n", "4", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    for key in METRIC_KEYS + ("acc_t1_ci", "delta_ci", "wall_s", "tokens_per_s", "profile"):
        assert key in res
    assert res["n"] == 4
    episodes = [json.loads(line) for line in open(out.with_suffix(".episodes.jsonl"))]
    assert len(episodes) == 4 and all({"y1", "y2", "r1", "r2", "y1_ids"} <= set(e) for e in episodes)
    assert "Acc@t1" in proc.stdout
    table = subprocess.run([sys.executable, "-m", "scoreutils", "table", f"tiny={out}", "--paper"],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "| tiny | 4 |" in table.stdout and "(paper)" in table.stdout


def test_hub_model_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachable) as err:
        load_policy("some-org/some-model-that-is-not-cached")
    assert "\n" not in str(err.value) and "bundled" in str(err.value)


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="quantization"):
        load_policy("tiny", quantization="3bit")
    with pytest.raises(ValueError, match="not 'bundled'"):
        load_policy("no-such-model-name")


def _main_error(capsys, *argv) -> str:
    """Run the command line in this process; it must exit with status 2 and one line on stderr (no traceback)."""
    from scoreutils.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_eval_refuses_an_out_that_is_a_fifo_and_leaves_it(tmp_path, capsys):
    """A device or FIFO as --out is refused, never replaced by the JSON (as root, `--out /dev/null` would
    otherwise rename a file over the device node). A FIFO in tmp_path stands for /dev/null here."""
    import os
    import stat

    fifo = tmp_path / "eval.json"
    os.mkfifo(fifo)
    err = _main_error(capsys, "eval", "--profile", "smoke", "--model", "tiny", "--n", "2", "--out", str(fifo))
    assert f"{fifo} is a FIFO" in err and "not a regular file" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]
    episodes = tmp_path / "other.episodes.jsonl"  # a FIFO where the episodes would go: refused before any work
    os.mkfifo(episodes)
    err = _main_error(capsys, "eval", "--profile", "smoke", "--model", "tiny", "--n", "2",
                      "--out", str(tmp_path / "other.json"))
    assert f"{episodes} is a FIFO" in err and stat.S_ISFIFO(os.stat(episodes).st_mode)
    assert not (tmp_path / "other.json").exists()


def test_eval_refuses_more_problems_than_the_split_has_at_once(tmp_path, capsys):
    import time

    t0 = time.perf_counter()
    err = _main_error(capsys, "eval", "--profile", "smoke", "--model", "tiny", "--n", "1000000000",
                      "--out", str(tmp_path / "eval.json"))
    assert time.perf_counter() - t0 < 5  # before any model or generation (the generator alone took minutes)
    assert "level 0 has only 173 test problems" in err and "ask for at most 173" in err
    assert not (tmp_path / "eval.json").exists()


@pytest.mark.parametrize("text,says", [
    ('{"n": 4, "acc_t1": NaN, "acc_t2": 0.5, "delta": 0.0, "delta_i_to_c": 0.0, "delta_c_to_i": 0.0}',
     "acc_t1 holds nan, not a finite number"),
    ('{"n": 4, "acc_t1": 0.5, "acc_t2": 0.5, "delta_i_to_c": 0.0, "delta_c_to_i": 0.0}', "has no 'delta'"),
    ('{"n": 4, "acc_t1": 0.5, "acc_t2": 0.5, "delta": 0.0, "delta_i_to_c": 0.0, "delta_c_to_i": 0.0, '
     '"delta_ci": [-Infinity, 0.1]}', "delta_ci holds -inf"),
    ('{"n": 4, "acc_t1": 0.5', "is not a JSON file"),
    ("[1, 2]", "holds a JSON list"),
])
def test_table_of_a_broken_metrics_file_is_one_line_naming_it(tmp_path, capsys, text, says):
    path = tmp_path / "metrics.json"
    path.write_text(text)
    err = _main_error(capsys, "table", f"run={path}")
    assert str(path) in err and says in err


def test_the_demo_ends_with_a_sentence_generated_from_its_numbers():
    from types import SimpleNamespace

    from scoreutils.metrics import self_correction_metrics
    from scoreutils.pipeline import Run, demo_sentence
    from scoreutils.tasks import Problem

    def run(pairs, **extra):
        eps = [SimpleNamespace(problem=Problem(f"p{i}", f"What is {i} + 1?", str(i + 1), "test", "arithmetic"),
                               r1=float(a), r2=float(b)) for i, (a, b) in enumerate(pairs)]
        m = {**self_correction_metrics([e.r1 for e in eps], [e.r2 for e in eps]), "profile": {"name": "cpu"}, **extra}
        return Run("x", Path("."), m, eps)

    base = run([(1, 0)] * 10 + [(0, 0)] * 30, right_to_wrong=0.05, right_to_none=0.2)
    score = run([(1, 1)] * 10 + [(0, 1)] * 2 + [(0, 0)] * 28)
    line = demo_sentence(base, score)
    assert line.startswith("What the table shows: on 40 held-out problems the base model's Δ(t1,t2) is -25.0 points")
    assert "SCoRe − base = +30.0 points" in line and "more than the base model here" in line
    assert "5% revised into a wrong answer and 20% a second attempt with no answer" in line
    assert "inconclusive" in demo_sentence(score, score)
