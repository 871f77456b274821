"""The sandbox: HumanEval's canonical solutions pass, wrong ones fail, hostile programs are contained."""
from __future__ import annotations

import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import mbpp_problem
from scoreutils import sandbox
from scoreutils.sandbox import code_reward, extract_code, grade_code, run_program


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
