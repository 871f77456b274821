"""The red-team corpus (tests/redteam/*.py): hostile and tricky programs, each with the verdict it must
get, graded as training grades them; after each one, nothing outside may have changed.

A case's header says what it is:
    # expect: pass | fail          the verdict (code_reward 1.0 / 0.0; run_program's `passed`)
    # target: HumanEval/N | mbpp | program
                                   a completion graded against that problem's tests (mbpp: a small
                                   MBPP-style problem, add(a, b)), or a bare program run by run_program
    # class: false-pass | escape | bomb | exit | correct
    # idea: what it tries
    # needs: kernel                (optional) only the kernel's layers stop it: run where the sandbox has
                                   its namespaces, never in the guard-only mode
    # timeout: S                   (optional) seconds, default 5
A HumanEval case's body is a completion (usually the function's body, indented), not a module of its
own. The body may name things outside the sandbox, filled in per case: __OUTSIDE__ (a world-writable
directory), __CANARY__ (a world-writable file in it), __SECRET_FILE__ (a root-only file), __SECRET_VAR__
(an environment variable of the test process holding a secret), __PORT__ / __UDP_PORT__ (listening on
127.0.0.1), __UNIX__ / __ABSTRACT__ (listening AF_UNIX sockets), __MARKER__ (a name for processes and
files), __KIT__ (the kit's root). Every case, whatever its verdict, must leave all of them untouched,
and no secret may reach the program's output.
"""
from __future__ import annotations

import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scoreutils import sandbox
from scoreutils.sandbox import grade_code, run_program

CORPUS = sorted(Path(__file__).with_name("redteam").glob("*.py"))
KIT = Path(__file__).resolve().parents[1]
CLASSES = ("false-pass", "escape", "bomb", "exit", "correct")


@dataclass(frozen=True)
class Case:
    name: str
    expect: str
    target: str
    cls: str
    idea: str
    needs: str
    timeout: float
    body: str


def load_case(path: Path) -> Case:
    text = path.read_text()
    head = {}
    for line in text.splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, value = line[2:].split(":", 1)
        head[key.strip()] = value.strip()
    return Case(path.stem, head["expect"], head["target"], head["class"], head["idea"], head.get("needs", ""),
                float(head.get("timeout", 5)), text)


CASES = [load_case(path) for path in CORPUS]


def mbpp_problem():
    from scoreutils.tasks import Problem

    return Problem(id="mbpp/test/1", prompt="Write a function to add two numbers.", split="test",
                   source="mbpp", kind="code", reference="assert add(1, 2) == 3\nassert add(-1, 1) == 0")


@pytest.fixture(scope="module")
def humaneval():
    from scoreutils.tasks import load_task

    return {p.id: p for p in load_task("humaneval", "test")}


def names_alive(comm: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == comm and \
                    Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
                found.append(int(pid))
        except OSError:
            pass
    return found


class World:
    """The things outside the sandbox that a case may try to reach, and the checks that it did not."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        token = secrets.token_hex(8)
        self.outside = tmp / "outside"
        self.outside.mkdir()
        self.outside.chmod(0o777)  # writable by anyone: only the sandbox can stop a write
        self.canary = self.outside / "canary.txt"
        self.canary.write_text("intact")
        self.canary.chmod(0o666)
        self.secret_file = self.outside / "secret.txt"
        self.file_secret = f"file-secret-{token}"
        self.secret_file.write_text(self.file_secret)
        self.secret_file.chmod(0o600)
        self.before = sorted(p.name for p in self.outside.iterdir())
        self.env_var, self.env_secret = f"SCORE_REDTEAM_SECRET_{token}", f"env-secret-{token}"
        monkeypatch.setenv(self.env_var, self.env_secret)
        self.marker = f"rt{token}"
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_path = str(tmp / "listen.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)
        self.unix.listen()
        self.abstract_name = f"\0score-redteam-{token}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind(self.abstract_name)
        self.abstract.listen()
        self.sentinel = subprocess.Popen(["sleep", "120"])
        self.shm_before = Path("/proc/sysvipc/shm").read_text() if Path("/proc/sysvipc/shm").exists() else ""

    def fill(self, text: str) -> str:
        values = {"__OUTSIDE__": str(self.outside), "__CANARY__": str(self.canary), "__KIT__": str(KIT),
                  "__SECRET_FILE__": str(self.secret_file), "__SECRET_VAR__": self.env_var,
                  "__PORT__": self.tcp.getsockname()[1], "__UDP_PORT__": self.udp.getsockname()[1],
                  "__UNIX__": self.unix_path, "__ABSTRACT__": self.abstract_name, "__MARKER__": self.marker}
        for key, value in values.items():
            text = text.replace(key, repr(value))
        return text

    def effects(self, output: str) -> list[str]:
        """Every outside change found (empty: none)."""
        found = []
        if not self.canary.exists() or self.canary.read_text() != "intact" or self.canary.stat().st_mode & 0o777 != 0o666:
            found.append("the canary file changed")
        if self.outside.exists() and sorted(p.name for p in self.outside.iterdir()) != self.before:
            found.append(f"files appeared outside: {sorted(p.name for p in self.outside.iterdir())}")
        for name, sock in (("tcp", self.tcp), ("unix", self.unix), ("abstract", self.abstract), ("udp", self.udp)):
            if select.select([sock], [], [], 0)[0]:
                found.append(f"the {name} socket was reached")
        for secret in (self.env_secret, self.file_secret):
            if secret in output:
                found.append(f"a secret leaked: {secret}")
        if any(Path(d, self.marker).exists() for d in ("/tmp", "/dev/shm")):
            found.append("a file appeared in /tmp or /dev/shm")
        key = f"{int(self.marker[-8:], 16):d}"
        shm = Path("/proc/sysvipc/shm").read_text() if Path("/proc/sysvipc/shm").exists() else ""
        if any(line.split()[:1] == [key] for line in shm.splitlines()) and shm != self.shm_before:
            found.append("a System V shared memory segment outlived the program")
        deadline = time.time() + 5
        while names_alive(self.marker) and time.time() < deadline:
            time.sleep(0.05)
        if names_alive(self.marker):
            found.append("processes outlived the program")
        if self.sentinel.poll() is not None:
            found.append("a process outside was killed")
        return found

    def close(self) -> None:
        for sock in (self.tcp, self.udp, self.unix, self.abstract):
            sock.close()
        self.sentinel.kill()
        self.sentinel.wait()
        for d in ("/tmp", "/dev/shm"):
            Path(d, self.marker).unlink(missing_ok=True)


def grade(case: Case, world: World, humaneval: dict, isolation: str = "auto") -> sandbox.SandboxResult:
    body = world.fill(case.body)
    if case.target == "program":
        return run_program(body, timeout_s=case.timeout, isolation=isolation)
    problem = mbpp_problem() if case.target == "mbpp" else humaneval[case.target]
    return grade_code(problem, body, timeout_s=case.timeout, isolation=isolation)


def check(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, humaneval: dict, isolation: str) -> None:
    world = World(tmp_path, monkeypatch)
    try:
        start = time.perf_counter()
        result = grade(case, world, humaneval, isolation)
        elapsed = time.perf_counter() - start
        effects = world.effects(result.stdout + result.stderr + result.detail)
    finally:
        world.close()
    verdict = "pass" if result.passed else "fail"
    assert verdict == case.expect, f"{case.name}: {verdict}, expected {case.expect}\n{result.detail}\n{result.stderr[-2000:]}"
    assert not effects, f"{case.name}: {effects}"
    assert elapsed < case.timeout + 10, elapsed  # bounded: the wall clock holds, cleanup is quick


def test_corpus_is_labelled():
    assert len(CASES) >= 60
    for case in CASES:
        assert case.expect in ("pass", "fail") and case.cls in CLASSES and case.needs in ("", "kernel"), case
        assert case.target in ("program", "mbpp") or case.target.startswith("HumanEval/"), case
    counts = {cls: sum(c.cls == cls for c in CASES) for cls in CLASSES}
    print("\nred-team corpus:", len(CASES), counts, "expect pass:", sum(c.expect == "pass" for c in CASES))
    assert all(counts.values())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, tmp_path, monkeypatch, humaneval):
    if case.needs == "kernel" and sandbox._isolation("auto") != "namespaces":
        pytest.skip("only the kernel's layers stop this one, and this machine gives the sandbox no namespaces")
    check(case, tmp_path, monkeypatch, humaneval, "auto")


GUARD_ONLY = [c for c in CASES if c.cls in ("false-pass", "exit", "correct") and not c.needs]


@pytest.mark.parametrize("case", GUARD_ONLY, ids=[c.name for c in GUARD_ONLY])
def test_verdict_holds_without_the_kernel_layers(case, tmp_path, monkeypatch, humaneval):
    """The verdict's design (tests in the supervisor, plain values, a verdict pipe the program lacks) does
    not rest on namespaces: the same false passes fail and correct programs pass in the guard-only mode."""
    check(case, tmp_path, monkeypatch, humaneval, "guard")


def test_world_sees_what_it_checks(tmp_path, monkeypatch):
    """The checks can fail: each outside effect, made from here, is seen."""
    world = World(tmp_path, monkeypatch)
    try:
        assert world.effects("") == []
        world.canary.write_text("changed")
        socket.create_connection(("127.0.0.1", world.tcp.getsockname()[1])).close()
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", world.udp.getsockname())
        effects = world.effects(world.env_secret)
        assert len(effects) == 4, effects
        os.kill(world.sentinel.pid, signal.SIGKILL)
        world.sentinel.wait()
        assert "a process outside was killed" in world.effects("")
    finally:
        world.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
