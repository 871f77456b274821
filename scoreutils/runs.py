"""Runs on disk: where results live, and "load the run the CLI already made, else make it".

Notebooks call `load_or_train` / `load_or_eval` so that a lesson can reuse a run made by
`python -m scoreutils train ...` (same profile, same method) instead of training again, and so that an
interrupted run resumes from its last checkpoint. A run directory holds config.json, log.jsonl,
checkpoints/, metrics.json and metrics.episodes.jsonl (see `cli.run_train`).

Where: $SCORE_RESULTS if set (in Colab, point it at Google Drive so a disconnect loses nothing), else
`results/` in the working directory or its parent (notebooks run from notebooks/). The smoke profile
always uses a fresh temporary directory, so tests never read or overwrite real results.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Profile

_SMOKE_DIR: Path | None = None


def results_dir(profile: Profile) -> Path:
    """The root folder of runs for `profile` (see the module docstring)."""
    global _SMOKE_DIR
    if profile.name == "smoke":
        if _SMOKE_DIR is None:
            _SMOKE_DIR = Path(tempfile.mkdtemp(prefix="score-smoke-results-"))
        return _SMOKE_DIR
    if os.environ.get("SCORE_RESULTS"):
        root = Path(os.environ["SCORE_RESULTS"])
    else:
        here = Path.cwd()
        root = next((c for c in (here / "results", here.parent / "results") if c.is_dir()), here / "results")
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class Run:
    """One finished run: its metrics (the `eval` keys), held-out episodes, training log and folder."""

    name: str
    path: Path
    metrics: dict[str, Any]
    episodes: list[dict[str, Any]]
    log: list[dict[str, Any]] = field(default_factory=list)
    loaded: bool = False
    """True when read from disk, False when computed by this call."""

    @property
    def r1(self) -> list[float]:
        return [e["r1"] for e in self.episodes]

    @property
    def r2(self) -> list[float]:
        return [e["r2"] for e in self.episodes]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in open(path)] if path.exists() else []


def _normal(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(obj))


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_normal(obj), sort_keys=True).encode()).hexdigest()[:8]


def load_or_train(method: str, profile: Profile, name: str | None = None) -> Run:
    """The finished run of `method` in `profile` under results/NAME (default: the method name), or train it
    now (resuming from its last checkpoint if one exists). A folder holding a run of another profile or
    method is left untouched; this run then goes to results/NAME-<fingerprint>."""
    from .cli import run_train

    name = name or method
    wanted = {"method": method, "profile": profile.to_dict()}
    path = results_dir(profile) / name
    config = path / "config.json"
    if config.exists() and _normal(json.loads(config.read_text())) != _normal(wanted):
        path = path.with_name(f"{path.name}-{_fingerprint(wanted)}")
    metrics_path = path / "metrics.json"
    loaded = metrics_path.exists() and _normal(json.loads((path / "config.json").read_text())) == _normal(wanted)
    if loaded:
        print(f"loaded the {method} run in {path} (made earlier with the same profile)")
        metrics = json.loads(metrics_path.read_text())
    else:
        metrics = run_train(method, profile, path)
    return Run(name, path, metrics, _jsonl(path / "metrics.episodes.jsonl"), _jsonl(path / "log.jsonl"), loaded)


def load_or_eval(profile: Profile, name: str = "base", policy: Any = None, split: str = "test",
                 n: int | None = None, instruction: str | None = None, label: str | None = None) -> Run:
    """Greedy evaluation of `policy` (default: the base model; a zero-argument callable is called only
    when the evaluation must run) saved as results/NAME.json, or read back when a file of the same
    profile, split, size and instruction is already there."""
    from .cli import run_eval

    out = results_dir(profile) / f"{name}.json"
    if out.exists() and not _same_eval(out, profile, split, n, instruction):  # another run's: keep it
        out = out.with_name(f"{out.stem}-{_fingerprint([profile.to_dict(), split, n, instruction])}.json")
    if out.exists() and _same_eval(out, profile, split, n, instruction):
        print(f"loaded the evaluation {out} (made earlier with the same profile)")
        return Run(name, out, json.loads(out.read_text()), _jsonl(out.with_suffix(".episodes.jsonl")), loaded=True)
    if callable(policy):  # a factory, called only now that the evaluation has to run
        policy = policy()
    metrics = run_eval(profile, out, split=split, n=n, policy=policy, label=label or name, instruction=instruction)
    return Run(name, out, metrics, _jsonl(out.with_suffix(".episodes.jsonl")))


def _same_eval(path: Path, profile: Profile, split: str, n: int | None, instruction: str | None) -> bool:
    old = json.loads(path.read_text())
    return (_normal(old.get("profile")) == _normal(profile.to_dict()) and old.get("split") == split
            and old.get("n") == (n or profile.n_eval) and old.get("instruction") == instruction)


def ablation_table(rows: dict[str, dict], paper: dict[str, tuple[float, float, float]] | None = None) -> str:
    """A Markdown table of Acc@t1, Acc@t2 and Δ (in %, with 95% intervals) in the layout of the paper's
    Table 4, with its rows (t1, t2, Δ) beside the kit's when given."""
    lines = ["| method | n | Acc@t1 | Acc@t2 | Δ(t1,t2) |", "|---|---|---|---|---|"]
    for name, m in rows.items():
        cells = [f"{100 * m[k]:.1f} [{100 * m[k + '_ci'][0]:.1f}, {100 * m[k + '_ci'][1]:.1f}]"
                 for k in ("acc_t1", "acc_t2", "delta")]
        lines.append(f"| {name} | {m['n']} | " + " | ".join(cells) + " |")
    for name, vals in (paper or {}).items():
        lines.append(f"| {name} (paper) | 500 | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    return "\n".join(lines)


def trained_policy(run: Run, profile: Profile) -> Any:
    """A fresh LoRA policy carrying the adapter of `run`'s last checkpoint (for evaluating it again)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from .cli import _policy
    from .train import latest_checkpoint

    ckpt = latest_checkpoint(run.path)
    if ckpt is None:
        raise FileNotFoundError(f"{run.path} has no checkpoint to load (was it trained with this kit?)")
    policy = _policy(profile, lora=True)
    set_peft_model_state_dict(policy.model, load_file(ckpt / "adapter" / "adapter_model.safetensors"))
    return policy
