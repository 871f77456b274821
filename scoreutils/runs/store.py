"""Runs on disk: where results live, and "load the run already made, else make it".

Notebooks call `load_or_train` / `load_or_eval` so that a lesson can reuse a run made by
`python -m scoreutils train ...` (same profile, same method) instead of training again, and so that an
interrupted run resumes from its last checkpoint. The runs themselves are made by `pipeline.py`.

Where: $SCORE_RESULTS if set, else `results/` in the working directory or its parent (notebooks run from
notebooks/). The smoke profile always uses a fresh temporary directory, so tests never read or overwrite
real results. A run made before a `Profile` field existed still counts as the same run when the field
holds its default (`checkpoints.config_difference`).

`TRAIN = False` in a lesson (`colab.setup_lesson`) calls `forbid_making`: then a run that is not on disk
raises `MissingRun`, one line naming it and how to get it, instead of being trained or evaluated. The smoke
profile (tests) and $SCORE_ALLOW_MAKING=1 (`make notebooks`, which makes the shipped runs) are exempt.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..train.checkpoints import config_difference
from ..config import Profile, profile_defaults, results_root, write_json
from ..models import Policy
from .pipeline import Run, load_run, run_eval, run_train, trained_policy  # noqa: F401 (trained_policy: for lessons)

_SMOKE_DIR: Path | None = None
_FORBIDDEN: str | None = None
"""Why runs may not be made now (`forbid_making`), or None: a missing run is made."""


class MissingRun(RuntimeError):
    """A run the lesson needs is not on disk and may not be made (TRAIN = False); the message says which
    and how to get it. Shown in a notebook as its one line, without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is displayed
        return [f"MissingRun: {self}"]


OUTSIDE_A_CLONE = ("this folder is not inside a clone of the kit, whose results/ ships the runs: open the lesson "
                   "from a clone's notebooks/ (in Colab, cell 1 clones it)")


def forbid_making(reason: str | None) -> None:
    """From now on, a run that is missing raises `MissingRun` (saying `reason`, e.g. "TRAIN = False")
    instead of being made; None allows making runs again."""
    global _FORBIDDEN
    _FORBIDDEN = reason


def _may_make(what: str, shown: str, profile: Profile) -> None:
    if _FORBIDDEN is None or profile.name == "smoke" or os.environ.get("SCORE_ALLOW_MAKING") == "1":
        return
    where = (OUTSIDE_A_CLONE if results_root() is None else f"the {profile.name}-profile runs here lack it")
    raise MissingRun(f"{what} {shown} is not here and {_FORBIDDEN} makes nothing ({where}); "
                     f"set TRAIN = True to make it in your own runs folder")


def results_dir(profile: Profile) -> Path:
    """The root folder of runs for `profile` (see the module docstring)."""
    global _SMOKE_DIR
    if profile.name == "smoke":
        if _SMOKE_DIR is None:
            _SMOKE_DIR = Path(tempfile.mkdtemp(prefix="score-smoke-results-"))
        return _SMOKE_DIR
    root = results_root() or Path.cwd() / "results"
    if _FORBIDDEN is None:  # with nothing to make, nothing is created either
        root.mkdir(parents=True, exist_ok=True)
    return root


def _shown(path: Path, profile: Profile) -> str:
    """`path` as printed: relative to the results root ("results/star"), never a machine's absolute path."""
    try:
        return str(Path("results") / path.relative_to(results_dir(profile)))
    except ValueError:
        return path.name


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


def _same_config(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return not config_difference(old, new, {"profile": profile_defaults()})


def same_profile(saved: dict[str, Any], profile: Profile) -> bool:
    """True when `saved` (a profile as a results file stored it) describes `profile` (fields added to
    `Profile` since then count as equal at their defaults)."""
    return _same_config({"profile": saved}, {"profile": profile.to_dict()})


def made_by_reproduce(profile: Profile, fits: Callable[[Path], bool]) -> Path | None:
    """The folder of a finished run of `make reproduce` (results/<profile>/<run>/seed<k>/, profile "repro")
    for which `fits(folder)` holds, else None: a lesson run in that profile reads the reproduction's runs."""
    root = results_dir(profile) / profile.name
    if profile.name == "smoke" or not root.is_dir():
        return None
    return next((f for f in sorted(root.glob(f"*/seed{profile.seed}"))
                 if (f / "metrics.json").exists() and (f / "config.json").exists() and fits(f)), None)


def load_or_train(method: str, profile: Profile, name: str | None = None) -> Run:
    """The finished run of `method` in `profile` under results/NAME (default: the method name) or among
    `make reproduce`'s runs, else train it now (resuming from its last checkpoint if one exists). A folder
    holding a run of another profile or method is left untouched; this run then goes to
    results/NAME-<fingerprint>."""
    name = name or method
    wanted = {"method": method, "profile": profile.to_dict()}
    made = made_by_reproduce(profile, lambda f: _same_config(json.loads((f / "config.json").read_text()), wanted))
    if made is not None:
        print(f"loaded the {method} run in {_shown(made, profile)} (made by `make reproduce`)")
        return load_run(made, name)
    path = results_dir(profile) / name
    config = path / "config.json"
    if config.exists() and not _same_config(json.loads(config.read_text()), wanted):
        path = path.with_name(f"{path.name}-{_fingerprint(wanted)}")
    if (path / "metrics.json").exists():
        print(f"loaded the {method} run in {_shown(path, profile)} (made earlier with the same profile)")
        return load_run(path, name)
    _may_make(f"the {method} run", _shown(path, profile), profile)
    run = run_train(method, profile, path)
    run.name = name
    return run


def load_or_eval(profile: Profile, name: str = "base", policy: Policy | Callable[[], Policy] | None = None,
                 split: str = "test", n: int | None = None, instruction: str | None = None,
                 label: str | None = None) -> Run:
    """Greedy evaluation of `policy` (default: the base model; a zero-argument callable is called only
    when the evaluation must run) saved as results/NAME.json, or read back when a file of the same
    profile, split, size and instruction is already there."""
    if policy is None:
        made = made_by_reproduce(profile, lambda f: json.loads((f / "config.json").read_text()).get("method") == "eval"
                                 and _same_eval(f / "metrics.json", profile, split, n, instruction))
        if made is not None:
            print(f"loaded the evaluation {_shown(made / 'metrics.json', profile)} (made by `make reproduce`)")
            return load_run(made / "metrics.json", name)
    out = results_dir(profile) / f"{name}.json"
    if out.exists() and not _same_eval(out, profile, split, n, instruction):  # another run's: keep it
        out = out.with_name(f"{out.stem}-{_fingerprint([profile.to_dict(), split, n, instruction])}.json")
    if out.exists() and _same_eval(out, profile, split, n, instruction):
        print(f"loaded the evaluation {_shown(out, profile)} (made earlier with the same profile)")
        return load_run(out, name)
    _may_make(f"the evaluation {name}", _shown(out, profile), profile)
    if callable(policy) and not isinstance(policy, Policy):  # a factory, called only now that it must run
        policy = policy()
    run = run_eval(profile, out, split=split, n=n, policy=policy, label=label or name, instruction=instruction)
    run.name = name
    return run


def _same_eval(path: Path, profile: Profile, split: str, n: int | None, instruction: str | None) -> bool:
    old = json.loads(path.read_text())
    return (_same_config({"profile": old.get("profile") or {}}, {"profile": profile.to_dict()})
            and old.get("split") == split and old.get("n") == (n or profile.n_eval)
            and old.get("instruction") == instruction)


SCALING_SIZES = {"smoke": (2, 4), "cpu": (100, 4), "gpu": (32, 16)}
"""(problems, samples per problem) of a lesson's inference-compute scaling per profile. gpu: 32 x 16 x 2
models = 1,024 two-attempt episodes, ~20 min on a T4 at the gpu profile's assumed 50 ms per 32-row decode
step (an estimate, see config.py), budgets 2-16."""


def load_or_scale(profile: Profile, makers: dict[str, Callable[[], Policy]], path: Path,
                  temperature: float = 0.7) -> dict[str, list[dict[str, float]]]:
    """Inference-compute scaling curves (`metrics.scaling_table`) for each policy in `makers` (name -> a
    factory, called only when its curve must be made), at `SCALING_SIZES[profile.name]`. Saved to `path`
    after each policy, so a disconnect loses at most the curve being made; curves saved with the same
    profile and sizes are read back, not sampled again."""
    from .pipeline import profile_problems
    from ..rollout import sample_episodes
    from ..metrics import scaling_table

    n_problems, samples = SCALING_SIZES.get(profile.name, SCALING_SIZES["gpu"])
    budgets = [b for b in (2, 4, 8, 16, 32) if b <= samples]
    saved = json.loads(path.read_text()) if path.exists() else {}
    same = (saved.get("problems"), saved.get("samples")) == (n_problems, samples) and \
        same_profile(saved.get("profile") or {}, profile)
    curves = dict(saved.get("curves") or {}) if same else {}
    if all(name in curves for name in makers):
        print(f"loaded {_shown(path, profile)} (made earlier with the same profile and sizes)")
        return {name: curves[name] for name in makers}
    problems = None
    for name, make in makers.items():
        if name in curves:
            print(f"{name}: its curve loaded from {_shown(path, profile)}")
            continue
        _may_make(f"the scaling curve of {name}", _shown(path, profile), profile)
        problems = problems or profile_problems(profile, "test", n_problems)
        eps = sample_episodes(make(), problems, max_new_tokens=profile.max_new_tokens, temperature=temperature,
                              samples_per_problem=samples, batch_size=profile.batch_size, seed=profile.seed, desc=name)
        curves[name] = scaling_table(eps, budgets)
        write = {"profile": profile.to_dict(), "problems": n_problems, "samples": samples, "curves": curves}
        write_json(path, write)
    return curves
