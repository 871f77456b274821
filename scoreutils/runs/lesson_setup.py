"""A lesson's first cells, in Colab or anywhere: what this machine is, which profile the lesson runs, what
it will cost here, and where its runs live (the runs shipped in the kit's results/, or your own).

The default is to use the shipped runs: `choose_profile` picks the profile they were made with ("cpu"),
so `runs.load_or_train` finds each of them in results/ and trains nothing. With `train=True` a lesson
runs the profile of this hardware (`config.default_profile`: "gpu" with CUDA) and trains what your own
runs folder lacks (`<kit>/runs/lessons/`, or Google Drive when you ask to keep runs there).

Not here: installing the kit (each notebook's first cell does that, before this package exists) and the
profiles' sizes (`config.py`).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..config import Profile, default_profile, get_profile

SHIPPED_PROFILE = "cpu"
"""The profile of the runs committed under results/ (`make notebooks` and the CLI runs it names)."""
DRIVE_MOUNT = Path("/content/drive")
DRIVE_RUNS = DRIVE_MOUNT / "MyDrive" / "score-kit" / "runs"
OWN_RUNS = Path("runs") / "lessons"
"""Your own runs, relative to the kit's checkout (runs/ is not committed)."""


def kit_root(start: Path | None = None) -> Path | None:
    """The kit's checkout that holds `start` (default: the working directory): the nearest folder, `start`
    or above, with the kit's pyproject.toml; None outside a checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        project = folder / "pyproject.toml"
        if project.is_file() and 'name = "scoreutils"' in project.read_text(errors="replace"):
            return folder
    return None


def hardware() -> dict[str, Any]:
    """The device lessons run on: "cuda" (with the GPU's name and memory) or "cpu"; CPU cores and RAM."""
    import torch

    info: dict[str, Any] = {"device": "cuda" if torch.cuda.is_available() else "cpu", "gpu": None,
                            "gpu_memory_gib": None, "cpu_cores": os.cpu_count(), "ram_gib": None}
    if info["device"] == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30)
    try:
        info["ram_gib"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):
        pass
    return info


def choose_profile(name: str | None = None, train: bool = False) -> Profile:
    """The lesson's profile: `name` (or $SCORE_PROFILE) when given; else, with `train`, the one this hardware
    runs (`default_profile()`: "gpu" with CUDA, else "cpu"); else "cpu", the profile of the shipped runs."""
    name = name or os.environ.get("SCORE_PROFILE") or (default_profile() if train else SHIPPED_PROFILE)
    return get_profile(name)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def shipped_runs(profile_name: str, root: Path | None) -> list[str]:
    """Names of the finished training runs of `profile_name` under `root`/results (the shipped runs)."""
    if root is None or not (root / "results").is_dir():
        return []
    found = []
    for config in sorted((root / "results").rglob("config.json")):
        run = config.parent
        data = _read_json(config) or {}
        if "checkpoints" not in run.parts and (run / "metrics.json").exists() \
                and (data.get("profile") or {}).get("name") == profile_name:
            found.append(str(run.relative_to(root / "results")))
    return found


def lesson_cost(lesson: str, profile: Profile, train: bool = False, root: Path | None = None) -> str:
    """One line: what `lesson` costs in `profile`, from the kit's measurements (results/ of its checkout)."""
    results = (root or kit_root() or Path.cwd()) / "results"
    if profile.name == "smoke":
        return "cost: smoke profile (tiny sizes, for tests); no lesson time is recorded for it"
    if profile.name == "gpu":
        bench = _read_json(results / "bench_gpu.json") or {}
        est = bench.get("t4_estimate") or {}
        if est.get("available") and lesson in est.get("lesson_s", {}):
            high, low = est["lesson_s"][lesson], (est.get("lesson_s_low") or {}).get(lesson)
            span = f"{_duration(low)} to {_duration(high)}" if low is not None and low < high else _duration(high)
            here = (bench.get("measured_gpu") or {}).get("lesson_s", {}).get(lesson)
            return (f"cost: gpu ~{span} on a T4, extrapolated from results/bench_gpu.json (measured on "
                    f"{bench['device']['name']}" + (f", where it took ~{_duration(here)}" if here is not None else "")
                    + f"; {est['method']})")
        return "cost: gpu time unmeasured (results/bench_gpu.json is absent: benchmarks/gpu_profile.py makes it)"
    times = _read_json(results / "notebook_times.json") or {}
    if lesson not in times:
        return f"cost: cpu time unknown (results/notebook_times.json has no entry for {lesson})"
    line = (f"cost: cpu ~{_duration(times[lesson])}, as measured by `make notebooks` on 2 CPU cores with the "
            "shipped runs (results/notebook_times.json)")
    if train:
        walls = [m["train_wall_s"] for m in (_read_json(p) for p in results.rglob("metrics.json"))
                 if isinstance(m, dict) and m.get("profile", {}).get("name") == profile.name and "train_wall_s" in m]
        if walls:
            line += (f"; plus each run it trains: {_duration(min(walls))} to {_duration(max(walls))} on 2 cores "
                     "(train_wall_s of the shipped runs)")
    return line


def describe_hardware(lesson: str, profile: Profile | None = None, train: bool = False) -> str:
    """Three lines for a lesson's first cell: the device (GPU name and memory, or CPU cores and RAM), the
    profile and why it was chosen, and what the lesson will cost on this hardware."""
    hw = hardware()
    profile = profile or choose_profile(train=train)
    ram = f", {hw['ram_gib']:.0f} GiB RAM" if hw["ram_gib"] else ""
    device = (f"device: cuda, {hw['gpu']} with {hw['gpu_memory_gib']:.1f} GiB" if hw["device"] == "cuda"
              else f"device: cpu, {hw['cpu_cores']} cores{ram} (no CUDA GPU)")
    root = kit_root()
    if os.environ.get("SCORE_PROFILE") == profile.name:
        why = "$SCORE_PROFILE"
    elif profile.name != choose_profile(train=train).name:
        why = "as asked"
    elif train:
        why = "TRAIN = True: the profile of this hardware"
    else:
        why = (f"TRAIN = False: the profile of the runs shipped in results/, {len(shipped_runs(profile.name, root))} "
               "of them, loaded instead of trained")
    level = f" level {profile.level}" if profile.task == "arithmetic" else ""
    chosen = f"profile: {profile.name} | model: {profile.model} | task: {profile.task}{level} | {why}"
    return "\n".join([device, chosen, lesson_cost(lesson, profile, train, root)])


def mount_drive_runs(folder: Path = DRIVE_RUNS) -> Path:
    """Mount Google Drive (Colab only) and return `folder` on it, created, for runs that must outlive the session."""
    try:
        from google.colab import drive  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError("KEEP_RUNS_ON_DRIVE needs Google Colab; elsewhere set SCORE_RESULTS to a folder") from None
    drive.mount(str(DRIVE_MOUNT))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def setup_lesson(lesson: str, profile_name: str | None = None, train: bool = False,
                 keep_runs_on_drive: bool = False) -> tuple[Profile, Path]:
    """Everything a lesson's profile cell does: choose the profile (`choose_profile`), point your own runs
    somewhere when training ($SCORE_RESULTS, unless already set: Google Drive with `keep_runs_on_drive`,
    else `<kit>/runs/lessons`), print `describe_hardware`, and return (profile, the figures folder).
    Without `train` (outside the smoke profile) nothing may be made: a run the lesson needs that is not
    shipped raises `runs.MissingRun` naming it, and with no shipped runs at all (outside a clone) this
    raises at once; $SCORE_ALLOW_MAKING=1 lifts that for `make notebooks`, which makes the shipped runs."""
    from ..report.plots import figure_dir
    from .store import results_dir

    from .store import OUTSIDE_A_CLONE, MissingRun, forbid_making

    profile = choose_profile(profile_name, train)
    strict = not train and profile.name != "smoke" and os.environ.get("SCORE_ALLOW_MAKING") != "1"
    forbid_making("TRAIN = False" if strict else None)
    if strict and not os.environ.get("SCORE_RESULTS") and not shipped_runs(profile.name, kit_root()):
        where = OUTSIDE_A_CLONE if kit_root() is None else f"its results/ holds no {profile.name}-profile runs"
        raise MissingRun(f"TRAIN = False uses the shipped runs, and none is found: {where}; or set TRAIN = True "
                         "to make them in your own runs folder")
    figures = figure_dir(profile.name)
    # (also under $SCORE_ALLOW_MAKING: `make notebooks` stores the outputs a student with TRAIN = False sees)
    note = "the shipped runs; TRAIN = False makes nothing (a missing run is named, never made)"
    if train:
        if not os.environ.get("SCORE_RESULTS"):
            base = mount_drive_runs() if keep_runs_on_drive else (kit_root() or Path.cwd()) / OWN_RUNS
            os.environ["SCORE_RESULTS"] = str(base / "results")
        note = "your own runs: loaded when made before, trained otherwise"
        if profile.name != "smoke":
            figures = Path(os.environ["SCORE_RESULTS"]).parent / "figures"
            figures.mkdir(parents=True, exist_ok=True)
    elif os.environ.get("SCORE_RESULTS"):
        note = "$SCORE_RESULTS"
    elif keep_runs_on_drive:
        note += "; KEEP_RUNS_ON_DRIVE keeps your own runs, made only with TRAIN = True"
    if profile.name == "smoke":
        note = "smoke profile: a temporary folder; real results are never read or written"
    print(describe_hardware(lesson, profile, train))
    runs_dir, root = results_dir(profile), kit_root()
    shown = runs_dir.relative_to(root) if root and runs_dir.is_relative_to(root) else runs_dir.name
    print(f"runs: {shown} ({note})")
    return profile, figures


__all__ = ["choose_profile", "describe_hardware", "hardware", "kit_root", "lesson_cost", "mount_drive_runs",
           "setup_lesson", "shipped_runs"]
