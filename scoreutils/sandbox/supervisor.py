"""The sandbox's child: a supervisor that isolates a program in a process of its own and, for a code
problem, runs the problem's tests against it; plus the wire format between the two. `launcher`
starts it, compiled with its siblings, as `python -I -S -B -c BOOT CODE TOKEN VERDICT_FD`, with two
framed JSON messages on stdin (the setup, then the tests). Stdlib only; not part of the package's API.
Without `site` (~40 ms with editable installs) it puts site-packages on sys.path itself (no .pth files).

- The supervisor (the caller's user) makes itself non-dumpable, reads the setup, forks the program
  process, and only then reads the tests. It runs them itself: each name the tests take from the
  program is a stand-in (`Remote`) that calls into the program process, so builtins, helpers and
  comparisons stay its own. After the tests, it writes the verdict to VERDICT_FD, in one write.
- The program process isolates itself (`isolation.isolate`), installs `guard`, runs
  the program (as __main__; with tests as module `program`, so a main block does not run, as in the
  official harness) and then answers: look names up, call a function (`serve`). Values cross as JSON
  of exact builtin types (`encode` / `decode`), plus Counter, OrderedDict, defaultdict, deque,
  namedtuple instances (as tuples) and numpy numeric scalars and arrays, each recognised by the
  identity of its exact type with a class captured before the program ran (`capture`) and rebuilt
  from its data by the receiving side's own classes; anything else crosses as a handle.
"""
from __future__ import annotations

import builtins
import collections
import json
import os
import signal
import site
import struct
import sys
import types

TYPE_CHECKING = False  # importing typing costs milliseconds at every start; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any, Callable

CONFIG_LIMIT = 64 << 20  # bytes of each message on stdin
SETUP_FAILED = 125  # the program process's exit status when its isolation could not be set up
MAX_DEPTH = 100  # nesting of a value crossing the pipe
_HEADER = struct.Struct(">I")
_CONTAINERS = {"l": list, "t": tuple, "s": set, "f": frozenset}
_TAGS = {list: "l", tuple: "t", set: "s", frozenset: "f"}
# Standard-library values that cross as data and are rebuilt on the other side with that side's own classes
# (see `encode`). Captured when this module loads, before any program runs; a value is one of them only if
# its exact type IS the captured class (a subclass, a look-alike or a class named "Counter" is not).
_COUNTER, _ORDERED, _DEFAULT, _DEQUE = collections.Counter, collections.OrderedDict, collections.defaultdict, \
    collections.deque
_MAPPINGS = {"C": _COUNTER, "O": _ORDERED}
_DICT_ITEMS, _ORDERED_ITEMS, _TUPLE_ITER = dict.items, collections.OrderedDict.items, tuple.__iter__
_FACTORIES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict, "set": set,
              "tuple": tuple, "frozenset": frozenset}  # a defaultdict's default_factory that crosses (else None)
_NAMEDTUPLES: dict[int, type] = {}  # id -> each class collections.namedtuple made in this process (`capture`)
_NUMPY: dict[str, Any] = {}  # the program process's numpy, captured before the program ran (`capture`)
_NUMPY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: the dtypes that cross as data
# Modules the tests may import themselves when the program supplied one of their names.
_TEST_MODULES = {"math", "cmath", "random", "re", "string", "itertools", "functools", "collections", "heapq", "bisect",
                 "operator", "fractions", "decimal", "statistics", "copy", "hashlib", "json", "datetime", "typing"}


# ------------------------------------------------------------------------------------------------
# Framing and values
# ------------------------------------------------------------------------------------------------
def send(fd: int, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(fd: int, limit: int) -> Any:
    """The next message, or None at the end of the stream."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (n,) = _HEADER.unpack(header)
    if n > limit:
        raise ValueError(f"a message of {n} bytes (the limit is {limit})")
    data = _read_exact(fd, n)
    if data is None:
        return None
    return json.loads(data)


def encode(value: Any, handle: Callable[[Any], Any], depth: int = 0) -> Any:
    """`value` as JSON; exact builtin types only, anything else goes to `handle`."""
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value
    if kind is int:
        return value if -(1 << 53) < value < (1 << 53) else ["i", format(value, "x")]
    if depth >= MAX_DEPTH:
        raise ValueError("nested too deeply")
    if kind in _TAGS:
        return [_TAGS[kind], *(encode(v, handle, depth + 1) for v in value)]
    if kind is dict:
        out = ["d"]
        for k, v in value.items():
            out += (encode(k, handle, depth + 1), encode(v, handle, depth + 1))
        return out
    if kind is bytes or kind is bytearray:
        return ["b" if kind is bytes else "y", value.hex()]
    if kind is complex:
        return ["c", value.real, value.imag]
    if kind is _COUNTER or kind is _ORDERED or kind is _DEFAULT:  # read by the C methods: a method the
        if kind is _DEFAULT:                                        # program set on Counter is not called
            factory = value.default_factory
            out = ["D", next((name for name, f in _FACTORIES.items() if factory is f), None)]
        else:
            out = ["C" if kind is _COUNTER else "O"]
        for k, v in (_ORDERED_ITEMS if kind is _ORDERED else _DICT_ITEMS)(value):
            out += (encode(k, handle, depth + 1), encode(v, handle, depth + 1))
        return out
    if kind is _DEQUE:
        return ["Q", value.maxlen, *(encode(v, handle, depth + 1) for v in value)]
    if _NAMEDTUPLES.get(id(kind)) is kind:  # made by collections.namedtuple: its items, as a plain tuple
        return ["t", *(encode(v, handle, depth + 1) for v in _TUPLE_ITER(value))]
    if "ndarray" in _NUMPY:
        if _NUMPY["scalars"].get(id(kind)) is kind:
            return ["n", value.dtype.str, encode(_NUMPY["item"](value), handle, depth + 1)]
        scalar = value.dtype.type if kind is _NUMPY["ndarray"] else None
        if scalar is not None and _NUMPY["scalars"].get(id(scalar)) is scalar:
            return ["a", value.dtype.str, [int(n) for n in value.shape],
                    *(encode(v, handle, depth + 1) for v in _NUMPY["tolist"](_NUMPY["ravel"](value)))]
    return handle(value)


def capture(program: str) -> None:
    """In the program process, before the program runs: note the classes collections.namedtuple makes
    from now on (so their instances cross as tuples), and capture numpy when the program mentions it (so
    its scalars and numeric arrays cross as data). Later lookups use only what was captured here."""
    real = collections.namedtuple

    def namedtuple(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("module", sys._getframe(1).f_globals.get("__name__", "__main__"))  # as the real one
        made = real(*args, **kwargs)
        _NAMEDTUPLES[id(made)] = made  # held here: its id is never reused
        return made

    namedtuple.__doc__, namedtuple.__wrapped__ = real.__doc__, real  # type: ignore[attr-defined]
    collections.namedtuple = namedtuple  # type: ignore[assignment]
    _NUMPY["no_import"] = True  # never import it later here: the program may have planted its own
    if "numpy" in program:
        capture_numpy()


def capture_numpy() -> bool:
    """Fill `_NUMPY` from this process's numpy (importing it); False when there is none."""
    if "ndarray" in _NUMPY:
        return True
    _one_blas_thread()
    try:
        import numpy
    except BaseException as e:  # not installed, or a broken install
        _NUMPY["error"] = f"{type(e).__name__}: {e}"
        return False
    scalars = {}
    for kind in set(numpy.sctypeDict.values()):
        try:
            if issubclass(kind, numpy.generic) and numpy.dtype(kind).kind in _NUMPY_KINDS and \
                    kind is not numpy.longdouble and kind is not numpy.clongdouble:  # no Python type holds these
                scalars[id(kind)] = kind
        except TypeError:
            pass
    _NUMPY.update(module=numpy, ndarray=numpy.ndarray, scalars=scalars, item=numpy.generic.item,
                  tolist=numpy.ndarray.tolist, ravel=numpy.ndarray.ravel)
    return True


def _one_blas_thread() -> None:
    """No BLAS threads for a numpy imported from here on: the supervisor cannot start any after
    unshare(CLONE_NEWPID) (OpenBLAS then raises SIGINT), and in the program process they would count
    against RLIMIT_NPROC."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _numpy_value(tag: str, items: list[Any], handle: Callable[[int], Any], depth: int) -> Any:
    """A numpy scalar ("n": dtype, value) or array ("a": dtype, shape, flat values), rebuilt with this
    process's own numpy from plain numbers; numeric and bool dtypes only."""
    if not ("ndarray" in _NUMPY or (not _NUMPY.get("no_import") and capture_numpy())):
        raise ValueError(f"not a plain value (no numpy here: {_NUMPY.get('error', '')})")
    code = items[0]
    if not (type(code) is str and 3 <= len(code) <= 4 and code[0] in "<>|=" and code[1] in _NUMPY_KINDS
            and code[2:].isascii() and code[2:].isdigit()):
        raise ValueError("not a plain value")
    numpy = _NUMPY["module"]
    dtype = numpy.dtype(code)
    values = [decode(v, handle, depth + 1) for v in items[2 if tag == "a" else 1:]]
    if not all(type(v) in (bool, int, float, complex) for v in values):
        raise ValueError("not a plain value")
    if tag == "n":
        if len(values) != 1:
            raise ValueError("not a plain value")
        return dtype.type(values[0])
    shape, size = items[1], 1
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("not a plain value")
    for n in shape:
        size *= n
    if size != len(values):
        raise ValueError("not a plain value")
    return numpy.array(values, dtype=dtype).reshape(shape)


def decode(node: Any, handle: Callable[[int], Any], depth: int = 0) -> Any:
    """The value `encode` wrote; raises ValueError on anything else (never builds another type: the
    containers and numpy values are this process's own classes, filled with plain data)."""
    kind = type(node)
    if node is None or kind in (bool, str, int, float):
        return node
    if kind is not list or not node or type(node[0]) is not str or depth >= MAX_DEPTH:
        raise ValueError("not a plain value")
    tag, items = node[0], node[1:]
    if tag in _CONTAINERS:
        return _CONTAINERS[tag]([decode(v, handle, depth + 1) for v in items])
    if tag == "d" and len(items) % 2 == 0:
        values = [decode(v, handle, depth + 1) for v in items]
        return dict(zip(values[::2], values[1::2]))
    if len(items) == 1 and type(items[0]) is str and tag in ("i", "b", "y"):
        if tag == "i":
            return int(items[0], 16)
        return bytes.fromhex(items[0]) if tag == "b" else bytearray.fromhex(items[0])
    if tag == "c" and len(items) == 2 and all(type(x) in (int, float) for x in items):
        return complex(items[0], items[1])
    if tag == "h" and len(items) == 1 and type(items[0]) is int:
        return handle(items[0])
    if tag in ("C", "O", "D"):
        factory = None
        if tag == "D":
            if not items or not (items[0] is None or (type(items[0]) is str and items[0] in _FACTORIES)):
                raise ValueError("not a plain value")
            factory, items = _FACTORIES.get(items[0]) if items[0] is not None else None, items[1:]
        if len(items) % 2 == 0:
            values = [decode(v, handle, depth + 1) for v in items]
            mapping = _DEFAULT(factory) if tag == "D" else _MAPPINGS[tag]()
            for k, v in zip(values[::2], values[1::2]):
                mapping[k] = v
            return mapping
    if tag == "Q" and items and (items[0] is None or (type(items[0]) is int and items[0] >= 0)):
        return _DEQUE([decode(v, handle, depth + 1) for v in items[1:]], items[0])
    if tag in ("n", "a") and len(items) >= 2:
        return _numpy_value(tag, items, handle, depth)
    raise ValueError("not a plain value")


# ------------------------------------------------------------------------------------------------
# The supervisor's side: stand-ins for the program's objects, and the tests
# ------------------------------------------------------------------------------------------------
class ProgramError(Exception):
    """The program raised a non-builtin exception or broke the protocol."""


class ProgramExited(ProgramError):
    """The program's process is gone."""


class Remote:
    """A stand-in for one of the program's objects: it can be called or passed back to the program;
    comparing, hashing, iterating, testing it for truth or reading its attributes raises TypeError."""

    __slots__ = ("_channel", "_id")

    def __init__(self, channel: Channel, ident: int) -> None:
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", ident)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self._id, args, kwargs)

    def __repr__(self) -> str:
        return f"<program object #{self._id}>"

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("sandbox: the program returned an object that is not plain data of an exact builtin type")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __len__ = __iter__ = _refuse
    __contains__ = __getitem__ = __index__ = __int__ = __float__ = __complex__ = __getattr__ = __setattr__ = _refuse


class Channel:
    """The supervisor's end of the pipes to the program process."""

    def __init__(self, requests: int, replies: int, limit: int) -> None:
        self.requests, self.replies, self.limit = requests, replies, limit

    def receive(self) -> Any:
        message = recv(self.replies, self.limit)
        if message is None:
            raise ProgramExited("the program process exited")
        return message

    def value(self, node: Any) -> Any:
        return decode(node, lambda ident: Remote(self, ident))

    def request(self, message: Any) -> Any:
        send(self.requests, message)
        reply = self.receive()
        if type(reply) is list and len(reply) == 2 and reply[0] == "ok":
            return reply[1]
        if type(reply) is list and len(reply) == 3 and reply[0] == "raise" and all(type(r) is str for r in reply):
            cls = getattr(builtins, reply[1], None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                raise cls(reply[2])
            raise ProgramError(f"{reply[1]}: {reply[2]}")
        raise ProgramError("the program process broke the protocol")

    def call(self, ident: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.value(self.request(["call", ident, encode(list(args), _passed), encode(kwargs, _passed)]))


def _passed(value: Any) -> Any:
    if type(value) is Remote:
        return ["h", value._id]
    raise TypeError(f"sandbox: a {type(value).__name__} cannot be passed to the program")


def run_tests(channel: Channel, tests: dict[str, Any]) -> None:
    """Run the tests; return normally only when they pass. Builtins, the tests' own names and the
    helpers of the (trusted) prompt are the supervisor's; only `names` (the tests' free names that
    are none of those, and the entry point) come from the program."""
    _one_blas_thread()  # tests that import numpy themselves
    scope: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
    if tests["prompt"]:  # only when the tests use one of its helpers
        try:
            exec(compile(tests["prompt"], "<prompt>", "exec"), scope)
        except Exception:  # a prompt that does not run on its own only loses its helpers
            pass
    code = compile(tests["code"], "<test>", "exec")
    if channel.receive() != ["ready"]:
        raise ProgramError("the program process broke the protocol")
    names = tests["names"]
    found = channel.request(["get", names])
    if type(found) is not list or len(found) != len(names):
        raise ProgramError("the program process broke the protocol")
    for name, item in zip(names, found):
        scope.pop(name, None)
        if type(item) is list and len(item) == 2 and item[0] == "module" and item[1] in _TEST_MODULES:
            scope[name] = __import__(item[1])
        elif type(item) is list and len(item) == 2 and item[0] == "value":
            scope[name] = channel.value(item[1])
    exec(code, scope)
    entry = tests["entry_point"]
    if entry:
        if entry not in scope:
            raise NameError(f"the program does not define {entry!r}")
        scope["check"](scope[entry])


def supervise(setup: dict[str, Any], pid: int, channel: Channel, verdict: dict[str, Any]) -> None:
    """Wait for the program process's setup, then for its exit (no tests) or run the tests against it."""
    notes = channel.receive()
    if type(notes) is not list or len(notes) != 2 or notes[0] != "setup":
        verdict["detail"] = f"sandbox: the program process could not be set up: {notes[1] if notes else ''}"
        verdict["returncode"] = _wait(pid, setup)
        return
    verdict["notes"] = notes[1]
    if not setup["serve"]:
        verdict["returncode"] = _wait(pid, setup)
        verdict["passed"] = verdict["returncode"] == 0
        return
    tests = recv(0, CONFIG_LIMIT)  # only now: the program process does not hold fd 0
    try:
        run_tests(channel, tests)
        verdict["passed"], verdict["returncode"] = True, 0
    except ProgramExited:
        verdict["returncode"] = _wait(pid, setup)
        verdict["detail"] = f"the program exited (status {verdict['returncode']}) before its tests were done"
        return
    except BaseException as e:  # the tests failed: the first failure, as the tests' traceback shows it
        import linecache
        import traceback
        for name, text in (("<prompt>", tests["prompt"]), ("<test>", tests["code"])):
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        lines = traceback.format_exception(type(e), e, e.__traceback__)
        verdict["detail"] = "".join(line for line in lines if "supervisor.py" not in line)[-4000:]
        sys.stderr.write(verdict["detail"])
        sys.stderr.flush()
        verdict["returncode"] = 1
    os.close(channel.requests)
    os.kill(pid, signal.SIGKILL)  # its output is flushed after every call
    _wait(pid, setup, killed=True)


def _wait(pid: int, setup: dict[str, Any], killed: bool = False) -> int:
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if not killed and code == -signal.SIGKILL and usage.ru_utime + usage.ru_stime >= setup["cpu_s"] - 0.5:
        code = -signal.SIGXCPU  # the CPU limit (as init of its pid namespace it ignores SIGXCPU itself)
    return code


# ------------------------------------------------------------------------------------------------
# The program process
# ------------------------------------------------------------------------------------------------
def serve(requests: int, replies: int, namespace: dict[str, Any], limit: int, flush: Callable[[], None]) -> None:
    """Answer the supervisor until it closes the pipe: ["get", names] and ["call", handle, args, kwargs]."""
    objects: list[Any] = []

    def handle(value: Any) -> Any:
        objects.append(value)
        return ["h", len(objects) - 1]

    def plain(value: Any) -> Any:
        try:
            return encode(value, handle)
        except (ValueError, RecursionError):
            return handle(value)

    def lookup(name: Any) -> Any:
        if type(name) is not str or name not in namespace:
            return ["missing"]
        value = namespace[name]
        if type(value) is types.ModuleType:
            return ["module", getattr(value, "__name__", "")]
        return ["value", plain(value)]

    while (message := recv(requests, limit)) is not None:
        try:
            if message[0] == "get":
                reply = ["ok", [lookup(name) for name in message[1]]]
            else:
                function = objects[message[1]]
                args, kwargs = decode(message[2], objects.__getitem__), decode(message[3], objects.__getitem__)
                reply = ["ok", plain(function(*args, **kwargs))]
        except BaseException as e:  # also SystemExit and KeyboardInterrupt raised by the program
            try:
                text = str(e)[:2000]
            except BaseException:
                text = ""
            reply = ["raise", type(e).__name__, text]
        flush()
        send(replies, reply)


def program_process(setup: dict[str, Any], requests: int, replies: int, isolation: Any, guard: Any) -> int:
    """Isolate, run the program as __main__, serve: the exit status, as Python would give it."""
    try:
        notes = isolation.isolate(setup)
    except BaseException as e:
        send(replies, ["failed", f"{type(e).__name__}: {e}"])
        return SETUP_FAILED
    send(replies, ["setup", notes])
    stdout, stderr = sys.stdout, sys.stderr

    def flush() -> None:
        for stream in {id(s): s for s in (sys.stdout, sys.stderr, stdout, stderr)}.values():
            try:
                stream.flush()
            except BaseException:
                pass

    for name in [m for m in sys.modules if m.split(".")[0] in ("ctypes", "_ctypes", "sandbox_isolation")]:
        del sys.modules[name]
    # With tests, as the official harness runs it: __name__ is not "__main__", so its main block does not run.
    main = types.ModuleType("program" if setup["serve"] else "__main__")
    main.__dict__.update(__file__="program.py", __builtins__=builtins)
    sys.modules["__main__"], sys.modules[main.__name__], sys.argv = main, main, ["program.py"]
    try:
        code = compile(setup["program"], "program.py", "exec")
        guard.install(setup["work"], setup["hidden"], setup["disk_mb"] << 20, setup["max_files"])
        if setup["serve"]:
            capture(setup["program"])
        exec(code, main.__dict__)
        flush()
        if setup["serve"]:
            send(replies, ["ready"])
            serve(requests, replies, main.__dict__, setup["message_limit"], flush)
        return 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return int(e.code or 0) & 0xFF
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:
        try:
            import linecache
            import traceback
            linecache.cache["program.py"] = (len(setup["program"]), None, setup["program"].splitlines(True),
                                             "program.py")
            traceback.print_exception(type(e), e, e.__traceback__.tb_next)  # from the program's frame on
        except BaseException:  # the program broke the traceback machinery
            os.write(2, f"{type(e).__name__}: {e}\n".encode(errors="replace"))
        return 1
    finally:
        flush()


def main(isolation: Any, guard: Any) -> None:
    """The supervisor: `isolation` and `guard` are the sibling modules, already imported."""
    verdict_fd = int(sys.argv[-1])
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)  # nobody reads our memory, fds or environment via /proc or ptrace
    setup = recv(0, CONFIG_LIMIT)
    verdict: dict[str, Any] = {"passed": False, "returncode": None, "detail": "", "isolation": setup["mode"],
                               "notes": []}
    sys.path.extend(path for path in site.getsitepackages() if os.path.isdir(path))  # no .pth files run
    site.setquit()  # exit() and quit(), as `site` would define them
    site.setcopyright()
    site.sethelper()
    try:
        if setup["mode"] == "namespaces":
            isolation.unshare(isolation.CLONE_NEWPID | isolation.CLONE_NEWNET | isolation.CLONE_NEWIPC)
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = SETUP_FAILED
            try:
                for fd in (verdict_fd, requests_w, replies_r):
                    os.close(fd)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)  # the tests are still to come on fd 0
                os.close(null)
                status = program_process(setup, requests_r, replies_w, isolation, guard)
            finally:
                os._exit(status)
        os.close(requests_r)
        os.close(replies_w)
        supervise(setup, pid, Channel(requests_w, replies_r, setup["message_limit"]), verdict)
    except BaseException as e:
        verdict["detail"] = verdict["detail"] or f"sandbox: {type(e).__name__}: {e}"
    if not (type(verdict["notes"]) is list and all(type(n) is str for n in verdict["notes"])):
        verdict["notes"] = []
    verdict["detail"] = verdict["detail"][-1500:]
    os.write(verdict_fd, json.dumps(verdict).encode()[:4000])  # one write: one packet of the verdict pipe
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: the verdict is written
