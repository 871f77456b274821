"""Run folders on disk: checkpoints, the run's remembered configuration, a lock, and the training log.

A training run's folder holds config.json (what it was started with), log.jsonl (one row per step),
checkpoints/step_NNNNNN/ (adapter, optimizer, scheduler, RNG state, step) and, when finished, the held-out
metrics. This module keeps that folder truthful across crashes and mistakes:
- a checkpoint is written beside and renamed, so a crash never leaves a half-written one;
- resuming loads the newest *intact* checkpoint (a corrupt one is skipped with a warning) and trims the
  log to the rows that checkpoint had seen, so no step is logged twice;
- a folder remembers its configuration and refuses another one, naming the difference (`fresh=True`
  starts over instead);
- a lock refuses a second concurrent run on the same folder.
Not here: the training loops (`train.py`).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch

CONFIG = "config.json"
LOG = "log.jsonl"
LOCK = ".lock"
SHARED = "shared_prefix.json"


class RunDirError(RuntimeError):
    """A run folder cannot be used as asked; the message says why and what to do (one line)."""


# ---------------------------------------------------------------------------------------------
# The run's configuration and lock
# ---------------------------------------------------------------------------------------------
def _normal(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(obj))


def config_difference(old: dict[str, Any], new: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """Names (dotted) of the fields where `new` differs from `old`. A field `old` lacks counts as equal
    when `new` holds its default (`defaults`, nested like `new`): runs made before a field existed stay valid."""
    old, new, defaults = _normal(old), _normal(new), _normal(defaults or {})
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, defaults.get(key, "<missing>")), new.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{d}" for d in config_difference(a, b, defaults.get(key) or {})]
        elif a != b:
            diffs.append(key)
    return diffs


def _describe(old: dict, new: dict, names: list[str]) -> str:
    def get(d: dict, dotted: str) -> Any:
        for part in dotted.split("."):
            d = d.get(part, "<missing>") if isinstance(d, dict) else "<missing>"
        return d
    return ", ".join(f"{n} {get(old, n)!r} -> {get(new, n)!r}" for n in names[:4]) + (" ..." if len(names) > 4 else "")


@contextlib.contextmanager
def claim_run_dir(out: Path, config: dict[str, Any], fresh: bool = False,
                  defaults: dict[str, Any] | None = None) -> Iterator[Path]:
    """Hold `out` for one run of `config`: lock it, and check or write its config.json.

    Raises `RunDirError` when another process holds the folder, or when it holds a run of another
    configuration (unless `fresh`, which deletes the old run first). `defaults` are the values assumed
    for fields an older config.json lacks (see `config_difference`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / LOCK, "a+")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunDirError(f"{out} is in use by another run; wait for it to finish or choose another --out") from None
        cfg = out / CONFIG
        if cfg.exists() and fresh:
            for child in out.iterdir():
                if child.name != LOCK:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        if cfg.exists():
            old = json.loads(cfg.read_text())
            diff = config_difference(old, config, defaults)
            if diff:
                raise RunDirError(f"{out} holds a run of another configuration ({_describe(old, config, diff)}); "
                                  "choose another --out, or pass --fresh to delete it and start over")
        else:
            tmp = cfg.with_name(CONFIG + ".tmp")
            tmp.write_text(json.dumps(config, indent=2))
            tmp.replace(cfg)
        yield out
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


# ---------------------------------------------------------------------------------------------
# Checkpoints: adapter + optimizer + scheduler + RNG + step. Written to a temp dir, then renamed.
# ---------------------------------------------------------------------------------------------
def start_from(out: Path, source: Path, step: int) -> bool:
    """Begin the run in `out` where the run in `source` stood after `step` steps: a copy of its checkpoint at
    `step` and of its log rows up to it, noted in `out`/SHARED as {"from": source relative to out, "steps": step}. Only for
    steps the caller knows to be the same in both runs (e.g. SCoRe's Stage I, which no α changes, seeded by
    step number); a resumed `train_rl` then goes on from there. Does nothing and returns False when `out`
    has a checkpoint or metrics already, or `source` has no checkpoint at `step`."""
    out, source = Path(out), Path(source)
    ckpt = source / "checkpoints" / f"step_{step:06d}"
    if (out / "metrics.json").exists() or checkpoints(out) or not ckpt.is_dir():
        return False
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ckpt, out / "checkpoints" / (ckpt.name + ".tmp"))
    rows = [line for line in (source / LOG).read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step] if (source / LOG).exists() else []
    (out / LOG).write_text("".join(line + "\n" for line in rows))
    (out / SHARED).write_text(json.dumps({"from": os.path.relpath(source, out), "steps": step}))
    (out / "checkpoints" / (ckpt.name + ".tmp")).rename(out / "checkpoints" / ckpt.name)
    return True


def save_checkpoint(out: Path, step: int, policy: Any, opt: Any, sched: Any, extra: dict | None = None) -> Path:
    """Write checkpoints/step_NNNNNN under `out` atomically (beside, then renamed)."""
    final = Path(out) / "checkpoints" / f"step_{step:06d}"
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    policy.model.save_pretrained(tmp / "adapter")
    torch.save({"step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng_torch": torch.get_rng_state(), "rng_python": random.getstate(), "extra": extra or {}},
               tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def checkpoints(out: Path) -> list[Path]:
    """Finished checkpoints under `out`, oldest first."""
    root = Path(out) / "checkpoints"
    return sorted(p for p in root.glob("step_*") if not p.name.endswith(".tmp")) if root.exists() else []


def latest_checkpoint(out: Path) -> Path | None:
    found = checkpoints(out)
    return found[-1] if found else None


def load_adapter(path: Path, policy: Any) -> None:
    """Put the adapter weights of checkpoint `path` into `policy`."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(policy.model, load_file(path / "adapter" / "adapter_model.safetensors"))


def load_checkpoint(path: Path, policy: Any, opt: Any, sched: Any) -> dict[str, Any]:
    """Restore adapter weights, optimizer, scheduler and RNG from `path`; returns the saved state."""
    state = torch.load(path / "state.pt", weights_only=False)
    load_adapter(path, policy)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng_torch"])
    random.setstate(state["rng_python"])
    return state


def resume(out: Path, policy: Any, opt: Any, sched: Any, trim: bool = True) -> dict[str, Any] | None:
    """Load the newest intact checkpoint under `out` (warning about each corrupt one skipped) and, with
    `trim` (the main process), trim log.jsonl to the steps it had seen. None (and, with `trim`, an empty
    log) when there is nothing to resume."""
    state = None
    for path in reversed(checkpoints(out)):
        try:
            state = load_checkpoint(path, policy, opt, sched)
            break
        except Exception as err:  # noqa: BLE001 - any unreadable file means: try the one before
            warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}); trying an older one", stacklevel=2)
    if trim:
        trim_log(Path(out) / LOG, state["step"] if state else 0)
    return state


def trim_log(path: Path, last_step: int) -> None:
    """Keep only the log rows of steps <= `last_step` (the rows a resumed run has not redone)."""
    if not path.exists():
        return
    with open(path) as f:
        rows = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= last_step]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(rows))
    os.replace(tmp, path)
