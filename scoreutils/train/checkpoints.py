"""Run folders on disk: checkpoints, the run's remembered configuration, a lock, and the training log.

A training run's folder holds config.json (what it was started with), log.jsonl (one row per step),
checkpoints/step_NNNNNN/ (adapter, optimizer, scheduler, RNG state, step) and, when finished, the held-out
metrics. This module keeps that folder truthful across crashes and mistakes:
- a checkpoint is written beside and renamed, so a crash never leaves a half-written one;
- resuming loads the newest *intact* checkpoint (a corrupt one is skipped with a warning) and trims the
  log to the rows that checkpoint had seen, so no step is logged twice;
- a folder remembers its configuration and refuses another one, naming the difference (`fresh=True`
  starts over instead);
- a lock refuses a second concurrent run on the same folder, and a finished run loads without it (nor any
  write), so a finished run in a read-only folder loads;
- a half-written last row of log.jsonl (a crash or a full disk mid-write) is dropped with a warning;
- no write replaces a path that is neither a regular file nor a folder (/dev/null, a FIFO, a socket;
  `config.refuse_special_file`);
- a full disk while saving a checkpoint ends in one line, and the last intact checkpoint stays.
Not here: the training loops (`train/__init__.py`), the file helpers (`config.write_atomic`, `config.read_jsonl`).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch

from ..config import jsonl_lines, refuse_special_file, write_atomic, write_json

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
    refuse_special_file(out, out / LOCK, out / CONFIG, out / (CONFIG + ".tmp"))
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / LOCK, "a+")
    except OSError as err:
        raise RunDirError(f"cannot write to {out} ({err.strerror}); choose another --out") from None
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
            write_json(cfg, config)
        yield out
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def finished_run(out: Path, config: dict[str, Any], defaults: dict[str, Any] | None = None) -> bool:
    """True when `out` holds a finished run (metrics.json) of `config` (see `config_difference`). Reads only:
    such a run is loaded without the lock or any write, so a finished run in a read-only folder loads."""
    out = Path(out)
    cfg = out / CONFIG
    if not ((out / "metrics.json").is_file() and cfg.is_file()):
        return False
    return not config_difference(json.loads(cfg.read_text()), config, defaults)


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
    refuse_special_file(out / LOG, out / SHARED)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ckpt, out / "checkpoints" / (ckpt.name + ".tmp"))
    rows = [line for line, row in jsonl_lines(source / LOG) if row.get("step", 0) <= step]
    write_atomic(out / LOG, "".join(line + "\n" for line in rows))
    write_atomic(out / SHARED, json.dumps({"from": os.path.relpath(source, out), "steps": step}))
    (out / "checkpoints" / (ckpt.name + ".tmp")).rename(out / "checkpoints" / ckpt.name)
    return True


def save_checkpoint(out: Path, step: int, policy: Any, opt: Any, sched: Any, extra: dict | None = None) -> Path:
    """Write checkpoints/step_NNNNNN under `out` atomically (beside, then renamed). A full disk ends in a
    `RunDirError` naming the folder and its free space; the half-written copy is removed, the older
    checkpoints are untouched."""
    final = Path(out) / "checkpoints" / f"step_{step:06d}"
    tmp = final.with_name(final.name + ".tmp")
    refuse_special_file(final, tmp)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir(parents=True)
        policy.model.save_pretrained(tmp / "adapter")
        torch.save({"step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "rng_torch": torch.get_rng_state(), "rng_python": random.getstate(), "extra": extra or {}},
                   tmp / "state.pt")
    except Exception as err:
        full, free = _disk_full(err, final.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        if not full:
            raise
        last = latest_checkpoint(out)
        raise RunDirError(f"the disk is full ({free} free) while saving {final.name} in {final.parent}; the last "
                          f"intact checkpoint ({last.name if last else 'none yet'}) is kept: free some space and "
                          "re-run to resume from it") from None
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _disk_full(err: BaseException, folder: Path) -> tuple[bool, str]:
    """(whether `err`, raised while writing under `folder`, means a full disk; the free space there, as text).
    ENOSPC or its message says so; torch.save reports a full disk as a bare RuntimeError, so less than 1 MiB
    left counts too."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    full = (getattr(err, "errno", None) == errno.ENOSPC or "No space left on device" in str(err)
            or (free is not None and free < 2**20))
    return full, "unknown" if free is None else f"{free / 2**20:.1f} MiB"


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
    rows = [line for line, row in jsonl_lines(path) if row.get("step", 0) <= last_step]
    write_atomic(path, "".join(line + "\n" for line in rows))
