"""The command line end to end on the tiny model, and the offline error paths of load_policy."""
import json
import subprocess
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
