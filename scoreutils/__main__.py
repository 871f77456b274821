"""Command line: `python -m scoreutils eval | train | demo | table`. It parses arguments and prints; the
work is done by `runs/pipeline.py`.

  eval   greedy two-attempt evaluation -> F.json (metrics with CIs, timing, config) + F.episodes.jsonl
  train  one method in a profile -> DIR/{config.json, log.jsonl, checkpoints/, metrics.json, ...}
  demo   base eval -> SCoRe in the chosen profile -> eval; tables on stdout, figures in figures/
  table  the metrics table of result JSON files

A user error (a bad number, more problems than the task has, an unwritable --out or one that is a device or
FIFO, a run folder of another configuration, a metrics file with a missing or non-finite value, no hub) ends
in one line saying what is wrong and what to do, and exit status 2; `--debug` shows the traceback instead.
A finished training run is loaded without writing, so `train --out` may name a read-only folder holding one.

`train` takes an option for every field of `config.Profile` (`--max-new-tokens` sets `max_new_tokens`),
`eval` for those an evaluation reads (`EVAL_FIELDS`); each option's help is its field's docstring. A new
field becomes a `train` option with no edit here (an `eval` one once named in `EVAL_FIELDS`). The command
line checks only that a value is of the field's type; its range is checked once, by `Profile.__post_init__`.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import math
import os
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import Profile, get_profile

EPILOG = "Add --debug to see the traceback of an error."


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (no usage block)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _whole(text: str) -> int:
    """`text` as a whole number; else an argparse error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    """`text` as a number (nan and inf too: the profile refuses them); else an argparse error."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _truth(text: str) -> bool:
    """`text` as a bool: true/yes/1 or false/no/0, in any case; else an argparse error."""
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false (true/false, yes/no, 1/0)")
    return value


def _or_none(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser that reads "none" as None and any other text as `parse` does."""
    return lambda text: None if text.lower() == "none" else parse(text)


def _count(minimum: int) -> Callable[[str], int]:
    """A parser of whole numbers >= `minimum` (for --n, which is not a profile field)."""
    def parse(text: str) -> int:
        value = _whole(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


# The scalar types a profile field may have on the command line: (parser, metavar).
_SCALARS: dict[type, tuple[Callable[[str], Any], str]] = {
    int: (_whole, "N"), float: (_number, "X"), str: (str, "TEXT"), bool: (_truth, "{true,false}")}

# The profile fields `eval` takes: those an evaluation reads (the model it loads, the problems it draws,
# the lengths and batch of greedy generation). `train` takes every field.
EVAL_FIELDS = ("model", "quantization", "dtype", "task", "level", "turn1_format", "test_set", "n_eval",
               "max_new_tokens", "batch_size", "seed")


class _Several(argparse.Action):
    """Stores the values of a one-or-more option as a tuple; with `single`, one value as itself (a field
    such as `level: int | tuple[int, ...]`)."""

    def __init__(self, *args: Any, single: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.single = single

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values[0] if self.single and len(values) == 1 else tuple(values))


def _option(hint: Any) -> dict[str, Any] | None:
    """The `add_argument` keywords that read a field of type `hint`: a scalar (int, float, str, bool),
    `S | None` ("none" gives None), `tuple[S, ...]` or `S | tuple[S, ...]` (one or more values); None for
    any other type."""
    args = typing.get_args(hint)
    if hint in _SCALARS:
        parse, metavar = _SCALARS[hint]
        return {"type": parse, "metavar": metavar}
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] in _SCALARS:
        parse, metavar = _SCALARS[args[0]]
        return {"type": parse, "metavar": metavar, "nargs": "+", "action": _Several}
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2 and args[0] in _SCALARS:
        parse, metavar = _SCALARS[args[0]]
        if args[1] is type(None):
            return {"type": _or_none(parse), "metavar": f"{metavar}|none"}
        if args[1] == tuple[args[0], ...]:
            return {"type": parse, "metavar": metavar, "nargs": "+", "action": _Several, "single": True}
    return None


def _field_docs(cls: type) -> dict[str, str]:
    """The attribute docstring of each field of the dataclass `cls` that has one (the string statement
    right after the field in the source of `cls` or of a dataclass it derives from), in one line."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError):  # no source: a class made by make_dataclass or typed in a console
            continue
        for stmt, after in zip(body, body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


def _add_profile_options(parser: argparse.ArgumentParser, cls: type, names: Sequence[str] | None = None) -> None:
    """Add to `parser` an option --field-name for each field of the profile class `cls` (only those in
    `names`, when given), its help the field's attribute docstring. Left out: `name` (--profile chooses
    the profile) and a field of a type `_option` cannot read (none today). An option left out of a command
    is absent from the namespace; ranges are checked once, by `Profile.__post_init__`."""
    docs = _field_docs(cls)
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group("profile fields", "each option replaces that field of the profile "
                                      "(scoreutils.config.Profile); TEXT|none: the word none gives None")
    for field in dataclasses.fields(cls):
        option = _option(hints[field.name])
        if field.name == "name" or option is None or (names is not None and field.name not in names):
            continue
        text = docs.get(field.name, f"override the profile's {field.name}")
        group.add_argument("--" + field.name.replace("_", "-"), default=argparse.SUPPRESS,
                           help=text.replace("%", "%%"), **option)


def _parser(profile_cls: type = Profile) -> argparse.ArgumentParser:
    """The command line's parser; `eval` and `train` take the fields of `profile_cls` as options."""
    ap = _Parser(prog="python -m scoreutils", description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = ap.add_subparsers(dest="cmd", required=True)
    from .runs.pipeline import METHODS

    ev = sub.add_parser("eval", help="greedy two-attempt evaluation")
    tr = sub.add_parser("train", help="train one method, then evaluate")
    de = sub.add_parser("demo", help="base eval -> SCoRe -> eval, with figures")
    for p in (ev, tr, de):
        p.add_argument("--profile", default=None, help="smoke | cpu | repro | gpu (default: from the hardware)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    ev.add_argument("--split", default="test", choices=["train", "validation", "test"],
                    help="validation: generated arithmetic, levels 6+ (choose regimes there, report on test)")
    ev.add_argument("--n", type=_count(1), default=None, help="problems (default: the profile's n_eval)")
    ev.add_argument("--out", type=Path, required=True)
    _add_profile_options(ev, profile_cls, EVAL_FIELDS)
    tr.add_argument("--method", required=True, choices=METHODS)
    tr.add_argument("--fresh", action="store_true", help="delete a run of another configuration in --out first")
    tr.add_argument("--out", type=Path, required=True)
    _add_profile_options(tr, profile_cls)
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
    from .config import refuse_special_file

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
    from .report.paper import TABLE_MATH

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
    from .runs import pipeline
    from .metrics import metrics_table

    if args.cmd == "table":
        return _table(args)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Profile) if hasattr(args, f.name)}
    profile = get_profile(args.profile, **given)  # Profile.__post_init__ refuses a value out of range
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
    from .train.checkpoints import RunDirError
    from .models import HubUnreachable

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


if __name__ == "__main__":
    main()
