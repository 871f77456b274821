"""The sandbox's kernel layers: what the program's process does to itself (`isolate`), as root where it
can, before any of the program's code runs; plus the two system calls the supervisor needs
(`unshare`, `prctl`). Stdlib only (ctypes for the calls Python 3.11 lacks): `supervisor` loads it
in the sandbox's child.

Not here: the Python-level guard (`guard`) and the verdict (`supervisor`).
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal

TYPE_CHECKING = False  # importing typing costs milliseconds at every start; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = \
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MS_FLAGS = {"nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
DEVICES = ("null", "zero", "full", "random", "urandom")
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


# A seccomp filter: the kernel keyring calls fail with EPERM. Keyrings belong to a uid and outlive its
# processes, so without it one program could leave a note (a solution, say) for a later one of the same uid.
# Also refused: every other syscall ABI of the machine (i386, x32), which would dodge the numbers below.
_SECCOMP = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}


def deny_keyrings() -> bool:
    """Install the filter (after no_new_privs); False on machines it has no numbers for."""
    arch = _SECCOMP.get(os.uname().machine)
    if arch is None:
        return False
    audit_arch, numbers = arch
    deny, allow = 0x00050000 | 1, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    n = len(numbers)
    program = [(0x20, 0, 0, 4), (0x15, 1, 0, audit_arch), (0x06, 0, 0, deny),  # arch: native, or refuse
               (0x20, 0, 0, 0), (0x35, n + 1, 0, 0x40000000)]  # the call's number; x32 calls: refuse
    program += [(0x15, n - i, 0, number) for i, number in enumerate(numbers)]
    program += [(0x06, 0, 0, allow), (0x06, 0, 0, deny)]
    filters = (ctypes.c_uint64 * len(program))(*(code | jt << 16 | jf << 24 | k << 32 for code, jt, jf, k in program))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Program(len(program), ctypes.cast(filters, ctypes.c_void_p))
    _check(_libc.prctl(22, 2, ctypes.byref(prog), 0, 0), "prctl(SECCOMP)")  # PR_SET_SECCOMP, MODE_FILTER
    return True


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def remount_readonly(root: str, keep: set[str]) -> None:
    """Every mount at or under `root` read-only and nosuid (keeping its other flags), except `keep`."""
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for line in lines:
        fields = line.split()
        point = fields[4]
        for escape, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
            point = point.replace(escape, char)  # mountinfo's octal escapes
        if point in keep or not (point == root or point.startswith(root + "/")):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
        for name in fields[5].split(","):
            flags |= MS_FLAGS.get(name, 0)
        mount(None, point, None, flags)


def _chroot_view(setup: dict[str, Any]) -> None:
    """A new mount namespace, and a chroot into a read-only view of the system: `binds` (/usr, /etc, the
    Python installation), `links` (merged-/usr symlinks), `hidden` masked by empty read-only tmpfs (at
    every path the view reaches it by: `mask_points`), five /dev devices, a fresh /proc (only this pid
    namespace's processes), an empty read-only /tmp, and `work` on a tmpfs of `disk_mb` and `max_files`
    owned by `uid`. Raises when a hidden path the view reaches cannot be masked (see `mask`)."""
    root, work, uid = setup["root"], setup["work"], setup["uid"]
    points = mask_points(setup["binds"], setup["hidden"])  # from the host's paths, before any mount
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    for path in setup["binds"]:
        os.makedirs(root + path, exist_ok=True)
        mount(path, root + path, None, MS_BIND | MS_REC)
    for link, target in setup["links"]:
        os.symlink(target, root + link)
    keep = {root + "/proc", root + work}
    os.makedirs(root + "/dev")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{root}/dev/{name}", "w").close()
            mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
            keep.add(f"{root}/dev/{name}")
    for name in ("fd", "stdin", "stdout", "stderr"):
        os.symlink({"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                    "stderr": "/proc/self/fd/2"}[name], f"{root}/dev/{name}")
    for path in ("/proc", "/tmp", work):
        os.makedirs(root + path, exist_ok=True)
    mount("tmpfs", root + work, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          f"size={setup['disk_mb']}m,nr_inodes={setup['max_files']},mode=700,uid={uid},gid={uid}")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    remount_readonly(root, keep)
    os.chdir(root)
    os.chroot(".")  # as an unprivileged uid without capabilities there is no way back (nor a user namespace)
    mask(points, setup["hidden"])  # inside the chroot: at the paths exactly as the program sees them


def mask_points(binds: list[str], hidden: list[str]) -> list[str]:
    """Every path by which the chroot view reaches a `hidden` path that exists: for each bind whose source
    (resolved: a bind mount follows symlinks) holds the hidden path's resolved form, the bind's mount
    point as mounted (unresolved, e.g. a symlinked venv's sys.prefix) joined with the rest. A hidden
    path under no bind is not in the view (a home directory's cache): nothing to mask there. Raises
    OSError when a bind lies inside a hidden path (masking it would hide what the view needs)."""
    points: list[str] = []
    for path in hidden:
        if not os.path.lexists(path):
            continue  # nothing there to hide
        real = os.path.realpath(path)
        for bind in binds:
            source = os.path.realpath(bind)
            if real == source or real.startswith(source.rstrip("/") + "/"):
                point = os.path.normpath(bind + real[len(source):])
                if point not in points:
                    points.append(point)
            elif source.startswith(real.rstrip("/") + "/"):
                raise OSError(f"sandbox: cannot mask the hidden path {path}: it holds {bind}, which the view needs")
    return points


def mask(points: list[str], hidden: list[str]) -> None:
    """Mount an empty read-only tmpfs on each of `points` (paths in this process's root, as root), then
    check that each of `points` and `hidden` that exists here is one of those masks. Never skips: a point
    that is not a directory here, or a hidden path left readable, raises OSError naming it."""
    devices: set[int] = set()
    done: list[str] = []
    for point in sorted(points, key=len):  # outer first: what lies inside one is masked with it
        if any(point.startswith(outer.rstrip("/") + "/") for outer in done):
            continue
        if os.path.islink(point) or not os.path.isdir(point):
            what = "not a directory" if os.path.lexists(point) else "no such directory"
            raise OSError(f"sandbox: cannot mask the hidden path {point}: {what} in the sandbox's view")
        mount("tmpfs", point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")
        devices.add(os.stat(point).st_dev)
        done.append(point)
    for path in [*points, *hidden]:
        try:
            device = os.stat(path).st_dev
        except (FileNotFoundError, NotADirectoryError):
            continue  # not in the view (or inside a mask)
        if device not in devices:
            raise OSError(f"sandbox: the hidden path {path} is readable in the sandbox's view (no mask on it)")


def isolate(setup: dict[str, Any]) -> list[str]:
    """Isolate this process as `setup["mode"]` says; raise if a layer that mode needs fails.

    "namespaces" (root): `_chroot_view` (the supervisor has already given this process its own pid,
    network and IPC namespaces). "namespaces" and "uid" (root): uid and gid `uid`, no supplementary
    groups. Every mode: the working directory, rlimits (CPU, address space, file size, processes, open
    files, no core), no new privileges (setuid binaries do nothing) and SIGKILL when the supervisor
    dies. Returns notes for the verdict."""
    mode, uid, cpu = setup["mode"], setup["uid"], setup["cpu_s"]
    if mode == "namespaces":
        _chroot_view(setup)
    os.chdir(setup["work"])
    # As init of its pid namespace the process ignores SIGXCPU: the hard limit (SIGKILL) must be the soft one.
    limits = {resource.RLIMIT_CPU: (cpu, cpu if mode == "namespaces" else cpu + 1), resource.RLIMIT_CORE: (0, 0),
              resource.RLIMIT_AS: (setup["memory_mb"] << 20,) * 2, resource.RLIMIT_NOFILE: (256, 256),
              resource.RLIMIT_FSIZE: (setup["max_file_mb"] << 20,) * 2, resource.RLIMIT_NPROC: (setup["max_procs"],) * 2}
    for kind, (soft, hard) in limits.items():
        cap = resource.getrlimit(kind)[1]
        if cap != resource.RLIM_INFINITY:
            soft, hard = min(soft, cap), min(hard, cap)
        resource.setrlimit(kind, (soft, hard))
    if mode in ("namespaces", "uid"):
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
    notes = [f"{mode}: uid {os.getuid()}, gid {os.getgid()}, groups {os.getgroups()}, pid {os.getpid()}"]
    return notes + ([] if deny_keyrings() else [f"no seccomp filter on {os.uname().machine}"])
