"""A lesson's first cells, in Colab or on a fresh machine: the repository URL is declared once (pyproject's
[project.urls]) and every Colab badge and install cell uses it; the profile cell says what the machine is
and what the lesson costs; the runs shipped in results/ are found from a clone (nothing is retrained); and
the install cell, run as it is in a fresh Colab-like environment that already has a torch, installs the
kit without replacing that torch."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import nbformat
import pytest

from scoreutils import colab, get_profile

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
URL = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"']+")
GITHUB_URL = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def _colab_link(lesson: str) -> str:
    return f"https://colab.research.google.com/github/{URL.removeprefix('https://github.com/')}/blob/main/notebooks/{lesson}.ipynb"


# ---------------------------------------------------------------------------------------------
# One URL, declared in pyproject.toml
# ---------------------------------------------------------------------------------------------
def test_badges_and_install_cells_use_the_declared_repository_url():
    assert URL.startswith("https://github.com/") and len(NOTEBOOKS) == 9
    readme = (ROOT / "README.md").read_text()
    assert sorted(COLAB_LINK.findall(readme)) == sorted(_colab_link(p.stem) for p in NOTEBOOKS)  # one per lesson
    assert set(GITHUB_URL.findall(readme)) <= {URL}
    install = {p.stem: _cells(p)[1].source for p in NOTEBOOKS}
    for path in NOTEBOOKS:
        header, cell1, cell2 = _cells(path)[:3]
        assert COLAB_LINK.findall(header.source) == [_colab_link(path.stem)], path.name
        assert "colab-badge.svg" in header.source and "gpu: unmeasured" in header.source
        assert f'"SCORE_KIT_URL", "{URL}")' in cell1.source and set(GITHUB_URL.findall(cell1.source)) == {URL}
        assert cell1.source == install["00_quickstart"]  # the same install cell in every lesson
        assert f'setup_lesson("{path.stem}", SCORE_PROFILE, train=TRAIN' in cell2.source
        assert "TRAIN = False" in cell2.source and "KEEP_RUNS_ON_DRIVE = False" in cell2.source


# ---------------------------------------------------------------------------------------------
# The profile cell
# ---------------------------------------------------------------------------------------------
def test_profile_is_the_shipped_one_unless_training(monkeypatch):
    import torch

    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert colab.choose_profile().name == colab.SHIPPED_PROFILE == "cpu"
    assert colab.choose_profile(train=True).name == "gpu"  # this hardware's profile
    assert colab.choose_profile("smoke", train=True).name == "smoke"
    monkeypatch.setenv("SCORE_PROFILE", "smoke")
    assert colab.choose_profile().name == "smoke"


def test_describe_hardware_says_device_profile_and_cost(monkeypatch, tmp_path):
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    times = json.loads((ROOT / "results" / "notebook_times.json").read_text())
    text = colab.describe_hardware("07_score_and_ablations")
    device, profile, cost = text.splitlines()
    assert device.startswith("device: cpu") and f"{os.cpu_count()} cores" in device
    assert profile.startswith("profile: cpu") and "TRAIN = False" in profile
    assert f"{len(colab.shipped_runs('cpu', ROOT))} of them" in profile and colab.shipped_runs("cpu", ROOT)
    assert f"~{colab._duration(times['07_score_and_ablations'])}," in cost and "notebook_times.json" in cost

    t4 = {"device": "cuda", "gpu": "Tesla T4", "gpu_memory_gib": 14.74, "cpu_cores": 2, "ram_gib": 12.7}
    monkeypatch.setattr(colab, "hardware", lambda: t4)
    gpu_text = colab.describe_hardware("04_naive_multiturn_rl", get_profile("gpu"), train=True)
    assert "Tesla T4 with 14.7 GiB" in gpu_text and "gpu time unmeasured" in gpu_text
    (tmp_path / "results").mkdir()  # a kit whose results/ holds a GPU benchmark
    (tmp_path / "results" / "bench_gpu.json").write_text(json.dumps(
        {"device": {"name": "NVIDIA H100 80GB HBM3"},
         "t4_estimate": {"available": True, "lesson_s": {"04_naive_multiturn_rl": 1500.0}, "method": "ratios"}}))
    cost = colab.lesson_cost("04_naive_multiturn_rl", get_profile("gpu"), root=tmp_path)
    assert "~25 min on a T4" in cost and "H100" in cost and "estimated" in cost


def test_training_goes_to_your_own_runs_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.delenv("SCORE_RESULTS", raising=False)
    kit = tmp_path / "kit"
    (kit / "notebooks").mkdir(parents=True)
    (kit / "pyproject.toml").write_text('[project]\nname = "scoreutils"\n')
    monkeypatch.chdir(kit / "notebooks")
    profile, figures = colab.setup_lesson("05_stage1", train=True)
    assert os.environ["SCORE_RESULTS"] == str(kit / colab.OWN_RUNS / "results")
    assert figures == kit / colab.OWN_RUNS / "figures" and figures.is_dir()
    assert "your own runs" in capsys.readouterr().out
    monkeypatch.delenv("SCORE_RESULTS")
    with pytest.raises(RuntimeError, match="needs Google Colab"):
        colab.setup_lesson("05_stage1", train=True, keep_runs_on_drive=True)


def test_shipped_runs_are_loaded_from_a_clone_not_trained(monkeypatch):
    """What the lessons ask for in the profile chosen without TRAIN is in results/, with the same config."""
    import scoreutils.pipeline
    import scoreutils.runs
    from scoreutils.prompts import SELF_REFINE_TURN2

    def refuse(*args, **kwargs):
        raise AssertionError("a shipped run was not found: it would be made again")

    for module in (scoreutils.runs, scoreutils.pipeline):
        for name in ("run_train", "run_eval"):
            monkeypatch.setattr(module, name, refuse, raising=False)
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.delenv("SCORE_RESULTS", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    profile = colab.choose_profile()
    asked = [("star", None, {}), ("star_plus", None, {}), ("pair_sft", None, {}), ("pair_sft_plus", None, {}),
             ("naive_rl", None, {}), ("stage1", None, {}), ("stage2", None, {}), ("score", "demo/score", {}),
             ("stage2", "stage2_alpha0", {"alpha": 0.0}), ("score", "score_alpha0", {"alpha": 0.0})]
    for method, name, changes in asked:
        run = scoreutils.runs.load_or_train(method, profile.with_(**changes) if changes else profile, name=name)
        assert run.loaded and run.path == ROOT / "results" / (name or method)
    assert scoreutils.runs.load_or_eval(profile, "demo/base", label="base").loaded
    assert scoreutils.runs.load_or_eval(profile, "self_refine", instruction=SELF_REFINE_TURN2).loaded


# ---------------------------------------------------------------------------------------------
# The install cell in a Colab-like environment
# ---------------------------------------------------------------------------------------------
SKIP_FROM_STACK = re.compile(r"^(scoreutils.*|__editable__.*|.*\.pth|torch-.*\.dist-info)$")


def _colab_like_venv(tmp: Path, torch_version: str) -> Path:
    """A fresh venv whose "preinstalled" packages are this project's (.venv's site-packages, seen through a
    folder of links on a .pth line: nothing is copied or downloaded), minus the kit itself, and whose
    torch reports `torch_version` (another version than the project's: its own dist-info)."""
    stack = tmp / "stack"
    stack.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not SKIP_FROM_STACK.match(entry.name):
            (stack / entry.name).symlink_to(entry)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "preinstalled.pth").write_text(f"{stack}\n")
    dist = site / f"torch-{torch_version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {torch_version}\n")
    (dist / "INSTALLER").write_text("pip\n")
    (dist / "RECORD").write_text("")
    return python


def _run(python: Path, code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


TORCH_STATE = "import importlib.metadata as m, json, torch; print(json.dumps([m.version('torch'), torch.__file__]))"
FAKE_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"


def test_install_cell_keeps_the_installed_torch(tmp_path):
    import importlib.metadata

    major, minor = importlib.metadata.version("torch").split("+")[0].split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"  # another torch than the pinned one, inside pyproject's range
    kit = tmp_path / "kit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(kit)], check=True)  # the kit as committed (HEAD)
    python = _colab_like_venv(tmp_path, other)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SCORE_", "PYTHON"))}
    env.update(SCORE_KIT_URL=f"file://{kit}", PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0",  # (sic: pip reads "0" as --no-build-isolation) build offline
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    work = tmp_path / "work"
    work.mkdir()
    before = json.loads(_run(python, TORCH_STATE, work, env).stdout)
    assert before[0] == other
    _run(python, "import importlib.util, sys; sys.exit(importlib.util.find_spec('scoreutils') is not None)", work, env)

    cell = _cells(NOTEBOOKS[0])[1].source
    out = _run(python, cell, work, env).stdout
    assert f"keeping torch {other}" in out and f"installed scoreutils from scoreutils @ git+file://{kit}" in out
    assert json.loads(_run(python, TORCH_STATE, work, env).stdout) == before  # same version, same files
    where = _run(python, "import scoreutils; print(scoreutils.__file__)", work, env).stdout.strip()
    assert Path(where).is_relative_to(python.parent.parent) and not Path(where).is_relative_to(ROOT)

    # Colab: the first two cells of every lesson clone the kit, work in its notebooks/ and load its runs.
    clone = tmp_path / "colab" / "score-kit"
    lessons = "\n".join(f"exec({_cells(p)[1].source!r}); exec({_cells(p)[2].source!r}); print('CELLS-OK', profile.name)"
                        for p in NOTEBOOKS)
    check = ("\nimport scoreutils.pipeline, scoreutils.runs\n"
             "scoreutils.pipeline.run_train = scoreutils.runs.run_train = None  # loading must not train\n"
             "run = scoreutils.runs.load_or_train('stage1', profile)\n"
             "print('LOADED', run.loaded, run.path)\n")
    out = _run(python, FAKE_COLAB + lessons + check, tmp_path, dict(env, SCORE_KIT_DIR=str(clone))).stdout
    assert f"cloned file://{kit} into {clone} (shallow)" in out and out.count("CELLS-OK cpu") == len(NOTEBOOKS)
    assert f"working folder: {clone / 'notebooks'}" in out and "profile: cpu" in out
    assert f"LOADED True {clone / 'results' / 'stage1'}" in out
    assert json.loads(_run(python, TORCH_STATE, work, env).stdout) == before
