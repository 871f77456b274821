"""The command line end to end on the tiny model, and the offline error paths of load_policy."""
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
import sys

import pytest

from scoreutils.config import Profile
from scoreutils.models import HubUnreachable
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
    from scoreutils.__main__ import main

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
    from scoreutils.runs.pipeline import Run, demo_sentence
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


@dataclass(frozen=True)
class _ProfileWithWarmup(Profile):
    warmup_steps: int = 0
    """Steps of linear learning rate warmup before the schedule starts."""


def _help(capsys, parser, *argv) -> str:
    """The help `parser` prints for `argv` (ending in --help), its whitespace made single spaces."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(list(argv))
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_a_new_profile_field_is_a_train_option_with_its_docstring_as_help(capsys):
    """One setting, one edit: a field with an attribute docstring on the profile class is an option."""
    from scoreutils.__main__ import _parser

    parser = _parser(_ProfileWithWarmup)
    text = _help(capsys, parser, "train", "--help")
    assert "--warmup-steps N Steps of linear learning rate warmup before the schedule starts." in text
    args = parser.parse_args(["train", "--method", "score", "--out", "run", "--warmup-steps", "3"])
    assert args.warmup_steps == 3
    assert "--warmup-steps" not in _help(capsys, parser, "eval", "--help")  # eval takes EVAL_FIELDS only


def test_profile_options_parse_to_the_fields_types_and_only_given_ones_are_set():
    from scoreutils.__main__ import _parser

    args = _parser().parse_args(["train", "--method", "score", "--out", "run", "--level", "6", "7",
                                 "--quantization", "none", "--share-prompt", "No", "--lr", "1e-5",
                                 "--lora-targets", "q_proj", "v_proj", "--max-new-tokens", "8", "--beta1", "0"])
    assert (args.level, args.quantization, args.share_prompt, args.lr) == ((6, 7), None, False, 1e-5)
    assert (args.lora_targets, args.max_new_tokens, args.beta1) == (("q_proj", "v_proj"), 8, 0.0)
    assert not hasattr(args, "steps") and not hasattr(args, "model")  # left out: the profile's value stays
    args = _parser().parse_args(["eval", "--out", "e.json", "--level", "6", "--n", "3", "--seed", "2"])
    assert (args.level, args.n, args.seed) == (6, 3, 2)


@pytest.mark.parametrize("argv,says", [
    (["train", "--method", "score", "--steps", "-1"], "steps must be at least 0, not -1"),
    (["train", "--method", "score", "--lr", "nan"], "lr must be a finite number >= 0, not nan"),
    (["train", "--method", "score", "--seed", "-3"], "seed must be at least 0, not -3"),
    (["train", "--method", "score", "--lora-alpha", "-8"], "lora_alpha must be a finite number >= 0"),
    (["eval", "--level", "0", "-2"], "level must be at least 0, not (0, -2)"),
    (["train", "--method", "score", "--stage2-reward", "dense"], "stage2_reward must be one of bonus, progress"),
    (["train", "--method", "score", "--stage2-turn1", "free"], "stage2_turn1 must be one of reward, anchor"),
    (["train", "--method", "score", "--stage2-samples-per-problem", "1"], "stage2_samples_per_problem must be 0"),
    (["train", "--method", "score", "--progress-gamma", "1.5"], "progress_gamma must be between 0 and 1"),
])
def test_a_value_out_of_range_is_the_profiles_one_line_error(tmp_path, capsys, argv, says):
    out = tmp_path / "run"
    err = _main_error(capsys, *argv, "--profile", "smoke", "--model", "tiny", "--out", str(out))
    assert says in err and "python -m scoreutils" not in err  # Profile.__post_init__'s words, not argparse's
    assert not out.exists()


@pytest.mark.parametrize("option,text,says", [
    ("--steps", "x", "argument --steps: 'x' is not a whole number"),
    ("--lr", "fast", "argument --lr: 'fast' is not a number"),
    ("--share-prompt", "maybe", "argument --share-prompt: 'maybe' is not true or false"),
])
def test_a_value_of_the_wrong_type_is_a_one_line_argparse_error(tmp_path, capsys, option, text, says):
    err = _main_error(capsys, "train", "--profile", "smoke", "--method", "score", "--out", str(tmp_path / "run"),
                      option, text)
    assert says in err and "see python -m scoreutils train --help" in err


def test_train_help_lists_beta2_with_its_docstring(capsys):
    from scoreutils.__main__ import _parser

    text = _help(capsys, _parser(), "train", "--help")
    assert "--beta2 X Stage I's strong KL weight on attempt 1 (Eq. 3)." in text
    assert "--max-new-tokens N Per attempt." in text and "--seed N Seeds sampling" in text
