"""Command line: `python -m scoreutils eval | train | demo | table`. It parses arguments and prints; the
work is done by `pipeline.py`.

  eval   greedy two-attempt evaluation -> F.json (metrics with CIs, timing, config) + F.episodes.jsonl
  train  one method in a profile -> DIR/{config.json, log.jsonl, checkpoints/, metrics.json, ...}
  demo   base eval -> SCoRe in the chosen profile -> eval; tables on stdout, figures in figures/
  table  the metrics table of result JSON files

A user error (a bad number, more problems than the task has, an unwritable --out or one that is a device or
FIFO, a run folder of another configuration, a metrics file with a missing or non-finite value, no hub) ends
in one line saying what is wrong and what to do, and exit status 2; `--debug` shows the traceback instead.
A finished training run is loaded without writing, so `train --out` may name a read-only folder holding one.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from .config import get_profile

EPILOG = "Add --debug to see the traceback of an error."


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (no usage block)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m scoreutils", description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = ap.add_subparsers(dest="cmd", required=True)
    from .pipeline import METHODS

    ev = sub.add_parser("eval", help="greedy two-attempt evaluation")
    tr = sub.add_parser("train", help="train one method, then evaluate")
    de = sub.add_parser("demo", help="base eval -> SCoRe -> eval, with figures")
    for p in (ev, tr, de):
        p.add_argument("--profile", default=None, help="smoke | cpu | repro | gpu (default: from the hardware)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    for p in (ev, tr):
        p.add_argument("--model", default=None, help="override the profile's model ('tiny' for tests)")
    ev.add_argument("--task", default=None)
    ev.add_argument("--level", type=_count(0), nargs="+", default=None)
    ev.add_argument("--split", default="test", choices=["train", "validation", "test"],
                    help="validation: generated arithmetic, levels 6+ (choose regimes there, report on test)")
    ev.add_argument("--n", type=_count(1), default=None, help="problems (default: the profile's n_eval)")
    ev.add_argument("--max-new-tokens", type=_count(1), default=None)
    ev.add_argument("--out", type=Path, required=True)
    tr.add_argument("--method", required=True, choices=METHODS)
    tr.add_argument("--steps", type=_count(0), default=None)
    tr.add_argument("--alpha", type=_rate, default=None, help="override the Stage II bonus scale (Eq. 4)")
    tr.add_argument("--beta1", type=_rate, default=None, help="override the KL weight on trained attempts")
    tr.add_argument("--beta2", type=_rate, default=None, help="override Stage I's KL weight on attempt 1 (Eq. 3)")
    tr.add_argument("--lr", type=_rate, default=None, help="override the learning rate")
    tr.add_argument("--seed", type=_count(0), default=None, help="override the profile's seed")
    tr.add_argument("--fresh", action="store_true", help="delete a run of another configuration in --out first")
    tr.add_argument("--out", type=Path, required=True)
    de.add_argument("--out", type=Path, default=Path("runs/demo"))
    de.add_argument("--figures", type=Path, default=Path("figures"))
    tb = sub.add_parser("table", help="print the metrics table of result JSON files (eval / train outputs)")
    tb.add_argument("files", nargs="+", type=Path, help="NAME=FILE.json or FILE.json")
    tb.add_argument("--paper", action="store_true", help="add the paper's Table 1/2 rows (MATH500)")
    tb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return ap


def _writable(path: Path, is_dir: bool) -> None:
    """Fail now, not after an hour of work, when `path` cannot be written, or exists and is neither a
    regular file nor a folder (/dev/null, a FIFO: never replaced)."""
    from .checkpoints import refuse_special_file

    folder = path if is_dir else path.parent
    refuse_special_file(path, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"cannot write to {folder} ({err.strerror}); choose another --out") from None
    if not is_dir and path.is_dir():
        raise IsADirectoryError(f"--out {path} is a folder; give a file name such as {path / 'eval.json'}")


def _metrics_file(path: Path) -> dict[str, Any]:
    """The metrics JSON at `path`, checked: a JSON object holding every metric of the table as a finite number
    (and its interval, when given, as two); else ValueError, one line naming the file and the problem."""
    from .metrics import METRIC_KEYS

    try:
        res = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a JSON file ({err}); give the JSON an eval or train run wrote") from None
    if not isinstance(res, dict):
        raise ValueError(f"{path} holds a JSON {type(res).__name__}, not the metrics object of an eval or train run")
    for key in METRIC_KEYS:
        if key not in res:
            raise ValueError(f"{path} has no {key!r}: not the metrics of an eval or train run")
        ci = res.get(key + "_ci", [])
        if not isinstance(ci, list) or len(ci) not in (0, 2):
            raise ValueError(f"{path}: {key}_ci is {ci!r}, not a pair of numbers")
        for name, value in [(key, res[key])] + [(key + "_ci", v) for v in ci]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{path}: {name} holds {value!r}, not a finite number (the run that wrote it "
                                 "went wrong; run it again)")
    return res


def _table(args: argparse.Namespace) -> None:
    from .metrics import metrics_table
    from .paper import TABLE_MATH

    rows = {}
    for spec in args.files:
        name, _, path = str(spec).rpartition("=")
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} does not exist (give the JSON an eval or train run wrote)")
        res = _metrics_file(Path(path))
        rows[name or res.get("label", Path(path).stem)] = res
    paper = {k: TABLE_MATH[k] for k in ("base", "STaR D+", "Pair-SFT D+", "SCoRe")} if args.paper else None
    print(metrics_table(rows, paper))


def run(args: argparse.Namespace) -> None:
    from . import pipeline
    from .metrics import metrics_table

    if args.cmd == "table":
        return _table(args)
    overrides: dict[str, Any] = {}
    for key in ("model", "task", "max_new_tokens", "steps", "alpha", "beta1", "beta2", "lr", "seed"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if getattr(args, "level", None):
        overrides["level"] = args.level[0] if len(args.level) == 1 else tuple(args.level)
    profile = get_profile(args.profile, **overrides)
    if args.cmd == "eval":
        _writable(args.out, is_dir=False)  # and run_eval refuses a special file beside it before any work
        res = pipeline.run_eval(profile, args.out, split=args.split, n=args.n).metrics
        print(metrics_table({res["model"]: res}))
        print(f"wall {res['wall_s']:.1f} s, {res['tokens_per_s']:.1f} generated tokens/s -> {args.out}")
    elif args.cmd == "train":
        if not (args.out / "metrics.json").is_file():  # a finished run loads, read-only (pipeline.run_train)
            _writable(args.out, is_dir=True)
        run_ = pipeline.run_train(args.method, profile, args.out, fresh=args.fresh)
        res = run_.metrics
        if "sft_pairs" in res:
            print(f"{args.method}: {res['sft_pairs']} pairs from {res['sft_traces']} traces", file=sys.stderr)
        print(metrics_table({args.method: res}))
        how = "loaded (already finished)" if run_.loaded else f"train {res['train_wall_s']:.0f} s"
        print(f"{how} -> {args.out}")
    else:
        _writable(args.out, is_dir=True)
        _writable(args.figures, is_dir=True)
        demo = pipeline.run_demo(profile, args.out, args.figures)
        print("\n" + metrics_table({"base": demo.base.metrics}) + "\n")
        print(f"\nprofile {profile.name}: {demo.base.metrics['n']} held-out problems, greedy\n")
        print(metrics_table({"base": demo.base.metrics, "SCoRe": demo.score.metrics}))
        print("\n" + pipeline.demo_sentence(demo.base, demo.score))
        print(f"\ndemo wall time: {demo.wall_s:.0f} s; episodes in {args.out}; figures: "
              + ", ".join(str(p) for p in demo.figures))


# Errors that mean "the user asked for something that cannot be done", answered in one line.
def _user_errors() -> tuple[type[BaseException], ...]:
    from .checkpoints import RunDirError
    from .config import HubUnreachable

    return (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
            RunDirError, HubUnreachable, FloatingPointError)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.debug:
        return run(args)
    try:
        run(args)
    except _user_errors() as err:
        print(f"error: {err} ({EPILOG[:-1].lower()})", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted: a re-run resumes from the last checkpoint", file=sys.stderr)
        raise SystemExit(130) from None
