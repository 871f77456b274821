"""Sandbox: run model-written Python under limits, and grade code problems with it.

This module holds `run_program` (a child process with a wall-clock timeout, CPU / memory / file-size
limits, a fresh temporary working directory, a stripped environment, truncated output, and a kill of
every process it leaves behind), `extract_code` (the program in a model completion) and `code_reward`
(1.0 when a HumanEval or MBPP problem's tests pass, else 0.0, never an exception).

It is not a security boundary. A Python-level guard, installed before the program runs, blocks forks,
exec, signals, `setsid`, `chdir` and writes or deletions outside the working directory: enough for the
accidents and naive hostile programs a model writes (fork bombs, `rm -rf`, stray files), not for code
that sets out to undo it. Run deliberately untrusted code in a container or VM.
"""
from __future__ import annotations

import ast
import contextlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from .tasks import Problem

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 10_000
"""Bytes of stdout / stderr kept (the tail)."""
MAX_PROGRAM_CHARS = 1_000_000
"""`code_reward` scores longer completions 0.0 without running them."""

# Runs in the child before the program: limits, then the guard, then the program as __main__.
# argv[1] is a JSON config; its random token marks the command line of every process forked from here.
_PRELUDE = r'''
def _setup():
    import builtins, io, json, os, posix, resource, sys, _io, _posixsubprocess, _signal
    cfg = json.loads(sys.argv[1])
    limits = {resource.RLIMIT_CPU: cfg["cpu_s"], resource.RLIMIT_AS: cfg["memory_mb"] << 20,
              resource.RLIMIT_FSIZE: cfg["max_file_mb"] << 20, resource.RLIMIT_CORE: 0,
              resource.RLIMIT_NPROC: cfg["max_procs"]}
    for kind, soft in limits.items():
        hard, cap = soft + (kind == resource.RLIMIT_CPU), resource.getrlimit(kind)[1]  # CPU: SIGXCPU, then KILL
        if cap != resource.RLIM_INFINITY:
            soft, hard = min(soft, cap), min(hard, cap)
        resource.setrlimit(kind, (soft, hard))
    with open(cfg["program"], encoding="utf-8") as f:
        code = compile(f.read(), cfg["program"], "exec")

    work = os.path.realpath(os.getcwd())
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    real_open, real_os_open = builtins.open, os.open

    def deny(what):
        raise PermissionError(f"sandbox: {what}")

    def inside(path, dir_fd=None):  # does `path` (relative to cwd or to `dir_fd`) resolve into `work`?
        try:
            base = os.getcwd() if dir_fd is None else os.readlink(f"/proc/self/fd/{dir_fd}")
            real = os.path.realpath(os.path.join(base, os.fsdecode(path)))
        except (OSError, TypeError, ValueError):  # also: an int (an fd), None
            return False
        return real == work or real.startswith(work + os.sep)

    def blocked(name):
        return lambda *args, **kwargs: deny(f"{name} is disabled")

    def confined(name, real, keys):  # keys: each path argument's name and its dir_fd argument's name
        def fn(*args, **kwargs):
            for i, (key, fd_key) in enumerate(keys):
                if not inside(args[i] if i < len(args) else kwargs.get(key), kwargs.get(fd_key)):
                    deny(f"{name} outside the working directory")
            return real(*args, **kwargs)
        return fn

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and any(c in mode for c in "wax+") and not isinstance(file, int) \
                and not inside(file):
            deny(f"writing {file!r} outside the working directory")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & write_flags and not inside(path, kwargs.get("dir_fd")):
            deny(f"writing {path!r} outside the working directory")
        return real_os_open(path, flags, *args, **kwargs)

    # Processes, signals, identity: off. The rest of os (execl, spawn*, popen), subprocess,
    # multiprocessing, pty and shutil go through these primitives, so they are covered too.
    for name in ("fork", "forkpty", "system", "execv", "execve", "posix_spawn", "posix_spawnp", "kill",
                 "killpg", "pidfd_open", "setsid", "setpgid", "setpgrp", "setpriority", "setuid", "setgid",
                 "seteuid", "setegid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
                 "chroot", "chdir", "fchdir", "fchmod", "fchown", "symlink"):
        for module in (os, posix):
            setattr(module, name, blocked(f"os.{name}"))
    one, two = [("path", "dir_fd")], [("src", "src_dir_fd"), ("dst", "dst_dir_fd")]
    for name, keys in (("remove", one), ("unlink", one), ("rmdir", one), ("mkdir", one), ("chmod", one),
                       ("chown", one), ("lchown", one), ("truncate", one), ("utime", one), ("mkfifo", one),
                       ("mknod", one), ("rename", two), ("replace", two), ("link", two)):
        guarded = confined(f"os.{name}", getattr(posix, name), keys)
        setattr(os, name, guarded)
        setattr(posix, name, guarded)
    os.open = posix.open = guarded_os_open
    builtins.open = io.open = _io.open = guarded_open
    _posixsubprocess.fork_exec = blocked("subprocess")
    _signal.pidfd_send_signal = blocked("signal.pidfd_send_signal")
    resource.setrlimit = resource.prlimit = blocked("resource.setrlimit")

    class DenyImports:  # no ctypes, and no fresh (unguarded) copies of the modules patched above
        def find_spec(name, path=None, target=None):
            if name.split(".")[0] in ("ctypes", "_ctypes", "_cffi_backend", "posix", "_posixsubprocess",
                                      "_signal", "resource", "_io"):
                raise ImportError(f"sandbox: import {name} is disabled")

    sys.meta_path.insert(0, DenyImports)
    sys.argv = [cfg["program"]]
    sys.modules["__main__"].__file__ = cfg["program"]
    return code


exec(globals().pop("_setup")(), globals())
'''


@dataclass(frozen=True)
class SandboxResult:
    passed: bool  # exit status 0 within the time limit
    returncode: int  # negative: killed by that signal (-9 on timeout, -24 at the CPU limit)
    timed_out: bool
    stdout: str  # the last OUTPUT_LIMIT bytes, with a note in front when more was written
    stderr: str
    wall_s: float


def run_program(source: str, *, timeout_s: float = 10.0, cpu_s: float | None = None, memory_mb: int = 1024,
                max_file_mb: int = 16, max_procs: int = 64) -> SandboxResult:
    """Run Python `source` in a guarded child process, in a temporary directory deleted afterwards.

    cpu_s defaults to timeout_s + 1 (the wall clock normally fires first); memory_mb bounds the address space,
    max_file_mb each file written (stdout and stderr too), max_procs RLIMIT_NPROC (root ignores it; the guard
    bounds forks instead)."""
    base = Path(tempfile.mkdtemp(prefix="scoreutils-sandbox-")).resolve()
    try:
        work = base / "work"
        work.mkdir()
        program = base / "program.py"
        program.write_text(source, encoding="utf-8")
        token = secrets.token_hex(16)
        config = {"program": str(program), "token": token, "memory_mb": int(memory_mb),
                  "cpu_s": max(1, math.ceil(timeout_s + 1 if cpu_s is None else cpu_s)),
                  "max_file_mb": int(max_file_mb), "max_procs": int(max_procs)}
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "HOME": str(work), "TMPDIR": str(work)}
        with open(base / "stdout", "w+b") as out, open(base / "stderr", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", _PRELUDE, json.dumps(config)],
                                    cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:  # the group and any stray (on a timeout before reaping: the group id is still ours)
                _kill_leftovers(proc.pid, token, str(work))
                proc.wait()
            wall_s = time.perf_counter() - start
            stdout, stderr = _tail(out), _tail(err)
        return SandboxResult(passed=proc.returncode == 0 and not timed_out, returncode=proc.returncode,
                             timed_out=timed_out, stdout=stdout, stderr=stderr, wall_s=wall_s)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _tail(f: BinaryIO, limit: int = OUTPUT_LIMIT) -> str:
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - limit))
    text = f.read().decode("utf-8", errors="replace")
    return text if size <= limit else f"[... {size - limit} bytes truncated ...]\n{text}"


def _kill_leftovers(pgid: int, token: str, workdir: str, rounds: int = 20) -> None:
    """SIGKILL the child's process group, then any process in its session, carrying `token` in its
    command line (everything forked from the child) or working inside `workdir`, until none is left."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    for _ in range(rounds):
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()] if os.path.isdir("/proc") else []
        strays = [pid for pid in pids if pid != os.getpid() and _is_stray(pid, pgid, token.encode(), workdir)]
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    log.warning("sandbox: processes of group %d survived %d kill rounds", pgid, rounds)


def _is_stray(pid: int, pgid: int, marker: bytes, workdir: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state, _ppid, group, session = f.read().rsplit(b")", 1)[1].split()[:4]
        if state == b"Z":  # already dead, waiting to be reaped
            return False
        if int(group) == pgid or int(session) == pgid:
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if marker in f.read():
                return True
        cwd = os.readlink(f"/proc/{pid}/cwd")
        return cwd == workdir or cwd.startswith(workdir + os.sep)
    except (OSError, ValueError, IndexError):
        return False


# A fence, its language tag, and its body up to the closing fence (or the end: truncated output).
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(completion: str, problem: Problem | None = None) -> str:
    """The program in a model completion: inside MBPP's first "[BEGIN] ... [DONE]" (unquoted; what follows is
    the model running on), the last ```python block (else the last fenced block; else the text as is). For
    HumanEval the prompt goes in front: code without `def <entry_point>` is a body continuation, and code with
    one still gets the prompt's imports and helpers (its own definition, coming later, wins)."""
    text = completion
    if "[BEGIN]" in text or "[DONE]" in text:
        begin, done = text.find("[BEGIN]"), text.find("[DONE]")
        if begin >= 0 and (done < 0 or begin < done):  # else the prompt ended in "[BEGIN]"
            text = text[begin + len("[BEGIN]"):]
        text = text.split("[DONE]", 1)[0].strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError):
                unquoted = ast.literal_eval(text)
                text = unquoted if isinstance(unquoted, str) else text
    blocks = list(_FENCE.finditer(text))
    if blocks:
        python = [m for m in blocks if m.group(1).lower() in ("python", "py", "python3")]
        text = (python or blocks)[-1].group(2)
    entry_point = getattr(problem, "entry_point", None)
    if not entry_point:
        return text
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", text, re.MULTILINE):
        return f"{problem.prompt}\n\n{text}"
    return problem.prompt + text


def code_reward(problem: Problem, completion: str, timeout_s: float = 10.0) -> float:
    """1.0 when the program in `completion` passes all of `problem`'s tests, else 0.0; never raises on
    any completion. The program must also reach a random line printed after the tests, so exiting early
    (`sys.exit(0)`, `os._exit(0)`) before they run scores 0.0."""
    if getattr(problem, "kind", None) != "code" or not getattr(problem, "reference", None):
        raise ValueError(f"code_reward needs a code problem with tests, not {getattr(problem, 'id', problem)!r}")
    try:
        if not isinstance(completion, str) or len(completion) > MAX_PROGRAM_CHARS:
            return 0.0
        code = extract_code(completion, problem)
        tests = problem.reference + (f"\n\ncheck({problem.entry_point})\n" if problem.entry_point else "")
        done = f"all tests passed {secrets.token_hex(8)}"
        result = run_program(f"{code}\n\n{tests}\n\nprint({done!r})\n", timeout_s=timeout_s)
        return 1.0 if result.passed and done in result.stdout else 0.0
    except OSError as e:  # the sandbox itself failed (no temp dir, no process): worth a log line
        log.warning("code_reward: sandbox failed on %s: %s", problem.id, e)
        return 0.0
    except Exception:  # whatever a completion does, it scores 0
        return 0.0
