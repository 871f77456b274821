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

from scoreutils.runs import lesson_setup
from scoreutils import get_profile

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
    assert lesson_setup.choose_profile().name == lesson_setup.SHIPPED_PROFILE == "cpu"
    assert lesson_setup.choose_profile(train=True).name == "gpu"  # this hardware's profile
    assert lesson_setup.choose_profile("smoke", train=True).name == "smoke"
    monkeypatch.setenv("SCORE_PROFILE", "smoke")
    assert lesson_setup.choose_profile().name == "smoke"


def test_describe_hardware_says_device_profile_and_cost(monkeypatch, tmp_path):
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    times = json.loads((ROOT / "results" / "notebook_times.json").read_text())
    text = lesson_setup.describe_hardware("07_score_and_ablations")
    device, profile, cost = text.splitlines()
    assert device.startswith("device: cpu") and f"{os.cpu_count()} cores" in device
    assert profile.startswith("profile: cpu") and "TRAIN = False" in profile
    assert f"{len(lesson_setup.shipped_runs('cpu', ROOT))} of them" in profile and lesson_setup.shipped_runs("cpu", ROOT)
    assert f"~{lesson_setup._duration(times['07_score_and_ablations'])}," in cost and "notebook_times.json" in cost

    t4 = {"device": "cuda", "gpu": "Tesla T4", "gpu_memory_gib": 14.74, "cpu_cores": 2, "ram_gib": 12.7}
    monkeypatch.setattr(lesson_setup, "hardware", lambda: t4)
    gpu_text = lesson_setup.describe_hardware("04_naive_multiturn_rl", get_profile("gpu"), train=True)
    assert "Tesla T4 with 14.7 GiB" in gpu_text and "gpu time unmeasured" in gpu_text
    (tmp_path / "results").mkdir()  # a kit whose results/ holds a GPU benchmark
    (tmp_path / "results" / "bench_gpu.json").write_text(json.dumps(
        {"device": {"name": "NVIDIA H100 80GB HBM3"},
         "t4_estimate": {"available": True, "lesson_s": {"04_naive_multiturn_rl": 1500.0}, "method": "ratios"}}))
    cost = lesson_setup.lesson_cost("04_naive_multiturn_rl", get_profile("gpu"), root=tmp_path)
    assert "~25 min on a T4" in cost and "H100" in cost and "extrapolated" in cost
    (tmp_path / "results" / "bench_gpu.json").write_text(json.dumps(  # with the range and the unscaled time
        {"device": {"name": "NVIDIA H200"}, "measured_gpu": {"lesson_s": {"04_naive_multiturn_rl": 120.0}},
         "t4_estimate": {"available": True, "lesson_s": {"04_naive_multiturn_rl": 1500.0},
                         "lesson_s_low": {"04_naive_multiturn_rl": 600.0}, "method": "ASSUMPTIONS: ratios"}}))
    cost = lesson_setup.lesson_cost("04_naive_multiturn_rl", get_profile("gpu"), root=tmp_path)
    assert "~10 min to 25 min on a T4" in cost and "where it took ~2 min" in cost and "ASSUMPTIONS" in cost


def test_training_goes_to_your_own_runs_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.delenv("SCORE_RESULTS", raising=False)
    kit = tmp_path / "kit"
    (kit / "notebooks").mkdir(parents=True)
    (kit / "pyproject.toml").write_text('[project]\nname = "scoreutils"\n')
    monkeypatch.chdir(kit / "notebooks")
    profile, figures = lesson_setup.setup_lesson("05_stage1", train=True)
    assert os.environ["SCORE_RESULTS"] == str(kit / lesson_setup.OWN_RUNS / "results")
    assert figures == kit / lesson_setup.OWN_RUNS / "figures" and figures.is_dir()
    assert "your own runs" in capsys.readouterr().out
    monkeypatch.delenv("SCORE_RESULTS")
    with pytest.raises(RuntimeError, match="needs Google Colab"):
        lesson_setup.setup_lesson("05_stage1", train=True, keep_runs_on_drive=True)


def test_shipped_runs_are_loaded_from_a_clone_not_trained(monkeypatch):
    """What the lessons ask for in the profile chosen without TRAIN is in results/, with the same config."""
    import scoreutils.runs
    import scoreutils.runs.pipeline
    import scoreutils.runs.store
    from scoreutils.prompts import SELF_REFINE_TURN2

    def refuse(*args, **kwargs):
        raise AssertionError("a shipped run was not found: it would be made again")

    for module in (scoreutils.runs.store, scoreutils.runs.pipeline):
        for name in ("run_train", "run_eval"):
            monkeypatch.setattr(module, name, refuse, raising=False)
    monkeypatch.delenv("SCORE_PROFILE", raising=False)
    monkeypatch.delenv("SCORE_RESULTS", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    profile = lesson_setup.choose_profile()
    asked = [("star", None, {}), ("star_plus", None, {}), ("pair_sft", None, {}), ("pair_sft_plus", None, {}),
             ("naive_rl", None, {}), ("stage1", None, {}), ("stage2", None, {}), ("score", "demo/score", {}),
             ("score", "score_alpha0", {"alpha": 0.0})]
    for method, name, changes in asked:
        run = scoreutils.runs.load_or_train(method, profile.replace(**changes) if changes else profile, name=name)
        assert run.loaded and run.path == ROOT / "results" / (name or method)
    assert scoreutils.runs.load_or_eval(profile, "demo/base", label="base").loaded
    assert scoreutils.runs.load_or_eval(profile, "self_refine", instruction=SELF_REFINE_TURN2).loaded


# ---------------------------------------------------------------------------------------------
# The install cell in a Colab-like environment
# ---------------------------------------------------------------------------------------------
KIT_ONLY = re.compile(r"^(scoreutils.*|__editable__.*|.*\.pth)$")
SKIP_FROM_STACK = re.compile(r"^(scoreutils.*|__editable__.*|.*\.pth|torch-.*\.dist-info)$")


def _colab_like_venv(tmp: Path, torch_version: str | None = None) -> Path:
    """A fresh venv whose "preinstalled" packages are this interpreter's (its site-packages, seen through a
    folder of links on a .pth line: nothing is copied or downloaded), minus the kit itself; with
    `torch_version`, its torch reports that version (its own dist-info), else the real one's."""
    stack = tmp / "stack"
    stack.mkdir()
    skip = SKIP_FROM_STACK if torch_version else KIT_ONLY
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not skip.match(entry.name):
            (stack / entry.name).symlink_to(entry)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "preinstalled.pth").write_text(f"{stack}\n")
    if torch_version is None:
        return python
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
    check = ("\nimport scoreutils.runs, scoreutils.runs.pipeline, scoreutils.runs.store\n"
             "scoreutils.runs.pipeline.run_train = scoreutils.runs.store.run_train = None  # loading must not train\n"
             "run = scoreutils.runs.load_or_train('stage1', profile)\n"
             "print('LOADED', run.loaded, run.path)\n")
    out = _run(python, FAKE_COLAB + lessons + check, tmp_path, dict(env, SCORE_KIT_DIR=str(clone))).stdout
    assert f"cloned file://{kit} into {clone.name}/ (shallow)" in out and out.count("CELLS-OK cpu") == len(NOTEBOOKS)
    assert f"working folder: {clone.name}/notebooks" in out and "profile: cpu" in out
    assert f"LOADED True {clone / 'results' / 'stage1'}" in out
    assert json.loads(_run(python, TORCH_STATE, work, env).stdout) == before


# ---------------------------------------------------------------------------------------------
# TRAIN = False makes nothing
# ---------------------------------------------------------------------------------------------
def test_train_false_names_a_missing_run_in_one_line_and_makes_nothing(monkeypatch, tmp_path, capsys):
    import scoreutils.runs.pipeline
    import scoreutils.runs

    def refuse(*args, **kwargs):
        raise AssertionError("TRAIN = False trained or evaluated")

    for module in (scoreutils.runs.store, scoreutils.runs.pipeline):
        for name in ("run_train", "run_eval"):
            monkeypatch.setattr(module, name, refuse, raising=False)
    for var in ("SCORE_PROFILE", "SCORE_RESULTS", "SCORE_ALLOW_MAKING"):
        monkeypatch.delenv(var, raising=False)

    # in a clone: cell 2 counts the shipped runs; a run that is not among them is named, not made
    monkeypatch.chdir(ROOT / "notebooks")
    profile, _ = lesson_setup.setup_lesson("05_stage1")
    out = capsys.readouterr().out
    assert f"{len(lesson_setup.shipped_runs('cpu', ROOT))} of them" in out and str(ROOT) not in out
    assert scoreutils.runs.load_or_train("stage1", profile).loaded  # a shipped one still loads
    with pytest.raises(scoreutils.runs.MissingRun) as err:
        scoreutils.runs.load_or_train("stage1", profile.replace(lr=1.234e-4), name="stage1_lr")
    line = str(err.value)
    assert "\n" not in line and "results/stage1_lr" in line and "TRAIN = True" in line and str(ROOT) not in line
    assert err.value._render_traceback_() == [f"MissingRun: {line}"]  # what a notebook shows: the one line
    with pytest.raises(scoreutils.runs.MissingRun, match="the evaluation base_n7 results/base_n7.json"):
        scoreutils.runs.load_or_eval(profile, "base_n7", n=7)
    assert not (ROOT / "results" / "stage1_lr").exists() and not (ROOT / "results" / "base_n7.json").exists()

    # outside a clone (a restarted runtime that skipped cell 1): cell 2 stops at once, and writes nothing
    away = tmp_path / "elsewhere"
    away.mkdir()
    monkeypatch.chdir(away)
    with pytest.raises(scoreutils.runs.MissingRun, match="not inside a clone of the kit") as err:
        lesson_setup.setup_lesson("01_base_model_self_correction")
    assert "\n" not in str(err.value) and list(away.iterdir()) == []

    # TRAIN = True, the smoke profile and `make notebooks` may make runs
    monkeypatch.setenv("SCORE_ALLOW_MAKING", "1")
    lesson_setup.setup_lesson("05_stage1")
    assert scoreutils.runs.store._FORBIDDEN is None


# ---------------------------------------------------------------------------------------------
# The install cell's failures: one line naming the cause
# ---------------------------------------------------------------------------------------------
def _cell_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SCORE_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", HF_HUB_OFFLINE="1", **changes)
    return env


def _failing_cell(python: Path, cwd: Path, env: dict[str, str], prelude: str = "") -> str:
    """Run the install cell; it must fail with InstallError. Returns the error's one line."""
    code = (prelude + "try:\n    exec(compile(CELL, 'cell1', 'exec'))\nexcept Exception as e:\n"
            "    print('RAISED', type(e).__name__, repr(e._render_traceback_()))\n")
    proc = subprocess.run([str(python), "-c", f"CELL = {_cells(NOTEBOOKS[0])[1].source!r}\n" + code], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    raised = [l for l in proc.stdout.splitlines() if l.startswith("RAISED ")]
    assert raised, f"the cell did not fail:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    name, shown = raised[0].split(" ", 2)[1:]
    lines = eval(shown)  # the list of lines a notebook shows
    assert name == "InstallError" and len(lines) == 1 and "\n" not in lines[0], raised
    return lines[0]


def test_the_cells_torch_floor_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = next(d for d in project if d.startswith("torch")).split(">=")[1].split(",")[0]
    assert f"TORCH_FLOOR = ({floor.replace('.', ', ')})" in _cells(NOTEBOOKS[0])[1].source
    floors = dict(line.split("==") for line in (ROOT / "constraints-floor.txt").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert floors["torch"] == floor + ".0"
    for dep in project:  # every lower bound of pyproject is the version the floor set tests
        name, low = re.match(r"([\w.-]+)(?:\[[^]]*\])?>=([\w.]+)", dep).groups()
        assert floors[name] in (low, low + ".0"), (name, low, floors[name])


def test_a_torch_below_the_floor_stops_the_cell_in_one_line_before_pip(tmp_path):
    python = _colab_like_venv(tmp_path, "2.9.1")
    work = tmp_path / "work"
    work.mkdir()
    line = _failing_cell(python, work, _cell_env(SCORE_KIT_URL="file:///nowhere"))
    assert "torch 2.9.1 is older than the kit's floor 2.11" in line and "pip install -U torch" in line


def test_an_unreachable_repository_is_one_line_naming_git_and_pips_reason(tmp_path):
    python = _colab_like_venv(tmp_path, "2.99.0")
    work = tmp_path / "work"
    work.mkdir()
    missing = f"file://{tmp_path}/no-such-kit"
    line = _failing_cell(python, work, _cell_env(SCORE_KIT_URL=missing, SCORE_KIT_DIR=str(tmp_path / "clone")),
                         prelude=FAKE_COLAB)
    assert line.startswith(f"InstallError: git clone {missing} failed (exit 128): fatal:"), line
    line = _failing_cell(python, work, _cell_env(SCORE_KIT_URL=missing))  # not Colab: pip installs from the URL
    assert line.startswith(f"InstallError: pip install scoreutils @ git+{missing} failed (exit 1): ")
    assert "does not appear to be a git repository" in line and "keep-torch" not in line, line


# ---------------------------------------------------------------------------------------------
# At Colab's own versions (`make test-floor`: this interpreter holds constraints-floor.txt's set)
# ---------------------------------------------------------------------------------------------
def _at_the_floor() -> bool:
    import importlib.metadata

    floors = dict(line.split("==") for line in (ROOT / "constraints-floor.txt").read_text().splitlines()
                  if line and not line.startswith("#"))
    return all(importlib.metadata.version(n).split("+")[0] == floors[n] for n in ("torch", "transformers", "peft"))


@pytest.mark.skipif(not _at_the_floor(), reason="needs the floor set (Colab's torch 2.11 & co.): `make test-floor` runs it")
def test_lesson_01_at_colab_versions_installs_keeping_torch_and_makes_nothing(tmp_path):
    """Colab's list preinstalled (the real torch 2.11), the kit absent: cell 1 clones and installs it
    without touching torch, and lesson 01 with TRAIN = False runs to its end on the shipped runs with no
    traceback and no machine path in its output."""
    kit = tmp_path / "kit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(kit)], check=True)  # the kit as committed (HEAD)
    python = _colab_like_venv(tmp_path)
    env = _cell_env(SCORE_KIT_URL=f"file://{kit}", SCORE_KIT_DIR=str(tmp_path / "colab" / "score-kit"),
                    PIP_NO_BUILD_ISOLATION="0", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    before = json.loads(_run(python, TORCH_STATE, tmp_path, env).stdout)
    assert before[0].startswith("2.11.")
    cells = [c.source for c in _cells(ROOT / "notebooks" / "01_base_model_self_correction.ipynb")
             if c.cell_type == "code"]
    lesson = "\n".join(
        [f"exec({cells[0]!r})",
         "import scoreutils.runs, scoreutils.runs.pipeline, scoreutils.runs.store\n"
         "scoreutils.runs.pipeline.run_train = scoreutils.runs.pipeline.run_eval = None  # TRAIN = False: nothing is made\n"
         "scoreutils.runs.store.run_train = scoreutils.runs.store.run_eval = None",
         *(f"exec({c!r})" for c in cells[1:]), "print('LESSON-DONE')"])
    proc = subprocess.run([str(python), "-c", FAKE_COLAB + lesson], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "LESSON-DONE" in proc.stdout, out[-4000:]
    assert f"keeping torch {before[0]}" in out and "Traceback" not in out
    assert json.loads(_run(python, TORCH_STATE, tmp_path, env).stdout) == before
    shown = out.replace(f"file://{kit}", "KIT_URL")
    for path in (str(tmp_path), str(ROOT), str(Path.home())):
        assert path not in shown, [l for l in shown.splitlines() if path in l][:3]
