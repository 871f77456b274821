"""The checkers' common machinery: run a student's function on cases, compare it with a reference, and
print exactly one line (✓ or ✗) without ever raising. Not here: the exercises themselves."""
from __future__ import annotations

import copy
import inspect
import math
import sys
import types
from typing import Any, Callable, Mapping, Sequence

import torch

_MAX_REPR = 70
NOT_IMPLEMENTED = "not implemented yet (replace the raise with your code)"


def short(text: str, limit: int = _MAX_REPR) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def show(x: Any) -> str:
    """A short repr; tensors as their values rounded to 6 decimals."""
    if isinstance(x, torch.Tensor):
        return short(f"tensor({torch.round(x.detach().double(), decimals=6).tolist()})")
    return short(repr(x))


def call_repr(name: str, args: tuple) -> str:
    return f"{name}({', '.join(show(a) for a in args)})"


def verdict(name: str, why: str | None, n: int = 0) -> bool:
    print(f"✓ {name}: passed {n} cases" if why is None else f"✗ {name}: {why}")
    return why is None


def error_line(e: Exception) -> str:
    return f"{type(e).__name__}: {short(' '.join(str(e).split()))}"


class Delegated(Exception):
    """The student's function called the kit's own implementation of the exercise."""


def no_delegation(fn: Callable, *forbidden: Callable | types.ModuleType) -> Callable:
    """`fn`, run so that calling any of `forbidden` (a function, or every function defined in a module)
    makes the check fail with a `Delegated` naming it: the kit's implementation is what the checker
    compares with, so calling it proves nothing. Calls are seen by a profile hook on code objects, so an
    alias (`from scoreutils.losses import stage1_loss as mine`) is seen too. The checker's own calls of the
    reference happen outside it."""
    files, codes = set(), {}
    for item in forbidden:
        if isinstance(item, types.ModuleType):
            files.add(item.__file__)
        else:
            code = getattr(inspect.unwrap(item), "__code__", None)
            if code is not None:
                codes[code] = f"{item.__module__}.{item.__qualname__}"

    def guarded(*args: Any, **kwargs: Any) -> Any:
        seen: list[str] = []

        def hook(frame: types.FrameType, event: str, _: Any) -> None:
            if event == "call" and not seen:
                code = frame.f_code
                if code in codes:
                    seen.append(codes[code])
                elif code.co_filename in files:
                    module = frame.f_globals.get("__name__", "?")
                    seen.append(f"{module}.{code.co_qualname}")

        previous = sys.getprofile()
        sys.setprofile(hook)
        try:
            out = fn(*args, **kwargs)
        except Exception:
            if not seen:
                raise
            out = None
        finally:
            sys.setprofile(previous)
        if seen:
            raise Delegated(f"your function calls the kit's own {seen[0]}, which is what the checker compares "
                            f"with, so it proves nothing: write the computation yourself")
        return out

    return guarded


def run(name: str, cases: Sequence[tuple], check: Callable[[tuple], str | None],
        describe: Callable[[tuple], str] | None = None) -> bool:
    """Apply `check` (None when a case passes, else why not) to every case, catching the student's errors."""
    describe = describe or (lambda args: call_repr(name, args))
    case: tuple = ()
    try:
        for case in cases:
            why = check(case)
            if why is not None:
                return verdict(name, why)
    except NotImplementedError:
        return verdict(name, NOT_IMPLEMENTED)
    except Delegated as e:
        return verdict(name, str(e))
    except Exception as e:
        return verdict(name, f"{error_line(e)} on {describe(case)}")
    return verdict(name, None, len(cases))


Mistakes = Sequence[tuple[str, Callable]]
"""Common wrong answers of an exercise: (what the mistake is, a function making it), for hints."""


def mistake_found(got: Any, args: tuple, mistakes: Mistakes, same: Callable[[Any, Any], bool]) -> str | None:
    """The first of `mistakes` whose function returns what the student's did on `args`, else None."""
    for label, wrong in mistakes:
        try:
            if same(got, wrong(*copy.deepcopy(args))):
                return label
        except Exception:  # a mistake's function that does not apply to this case
            continue
    return None


def compare(name: str, fn: Callable, reference: Callable, same: Callable[[Any, Any], bool],
            mistakes: Mistakes = ()) -> Callable[[tuple], str | None]:
    """A check calling `reference` and `fn` on copies of a case's arguments and comparing with `same`; a
    failure that matches one of `mistakes` names it ("looks like: ...")."""
    def check(args: tuple) -> str | None:
        want = reference(*copy.deepcopy(args))
        got = fn(*copy.deepcopy(args))
        if same(got, want):
            return None
        line = f"{call_repr(name, args)} -> expected {show(want)}, got {show(got)}"
        found = mistake_found(got, args, mistakes, same)
        return line if found is None else f"{line}; looks like: {found}"
    return check


def equal(got: Any, want: Any) -> bool:
    return type(got) is type(want) and got == want


def close(tol: float) -> Callable[[Any, Any], bool]:
    """Whether `got` matches `want` (a float, a tensor, or a tuple of them) within `tol`; never raises."""
    def same(got: Any, want: Any) -> bool:
        try:
            if isinstance(want, torch.Tensor):
                got = torch.as_tensor(got).detach().double()
                return got.shape == want.shape and bool(torch.allclose(got, want.double(), rtol=tol, atol=tol))
            if isinstance(want, tuple):
                return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
            return (not isinstance(got, (str, bytes)) and math.isfinite(float(got))
                    and math.isclose(float(got), want, rel_tol=tol, abs_tol=tol))
        except (TypeError, ValueError, RuntimeError):
            return False
    return same


def loss_and_grads(fn: Callable, args: tuple) -> tuple[Any, torch.Tensor | None, torch.Tensor | None]:
    """fn's loss value (of the tensor it returns, or of its `.loss`) and its gradients w.r.t. the first two
    arguments (the attempts' log-probs); (what it returned, None, None) when that is not a scalar tensor
    carrying a gradient."""
    seq1, seq2 = (t.clone().requires_grad_(True) for t in args[:2])
    out = fn(seq1, seq2, *(a.clone() if isinstance(a, torch.Tensor) else a for a in args[2:]))
    loss = getattr(out, "loss", out)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
        return out, None, None
    loss.backward()
    return (loss.item(), *(torch.zeros_like(s) if s.grad is None else s.grad for s in (seq1, seq2)))


# --- experiments: the student's function runs once; its result's shape is checked -----------------------

def number(x: Any) -> float | None:
    """x as a finite float (a Python or NumPy number, or a one-element tensor), else None."""
    if isinstance(x, bool) or isinstance(x, (str, bytes)):
        return None
    try:
        value = float(x.item() if isinstance(x, torch.Tensor) else x)
    except (TypeError, ValueError, RuntimeError, AttributeError):
        return None
    return value if math.isfinite(value) else None


def summary_problem(summary: Any, keys: Mapping[str, tuple[float, float]], where: str) -> str | None:
    """Why `summary` is not a dict holding every key of `keys` as a number within its (low, high) range;
    None when it is. Key "n" must be a whole number of at least 1."""
    if not isinstance(summary, Mapping):
        return f"{where} should be a dict with keys {sorted(keys)}, got {show(summary)}"
    missing = [k for k in keys if k not in summary]
    if missing:
        return f"{where} lacks {', '.join(repr(k) for k in missing)} (has {sorted(map(str, summary))})"
    for key, (low, high) in keys.items():
        value = number(summary[key])
        if value is None:
            return f"{where}[{key!r}] should be a number, got {show(summary[key])}"
        if key == "n" and (value != int(value) or value < 1):
            return f"{where}['n'] should be a whole number of problems >= 1, got {show(summary[key])}"
        if not low <= value <= high:
            hint = " (fractions, not %)" if high == 1.0 and value > 1 else ""
            return f"{where}[{key!r}] = {show(summary[key])} is outside [{low:g}, {high:g}]{hint}"
    return None


def experiment(name: str, fn_or_result: Any, problem: Callable[[Any], str | None],
               describe: Callable[[Any], str]) -> bool:
    """Run the student's experiment (a zero-argument function; a result passed as it is also works), then
    print ✓ with `describe(result)` when `problem(result)` is None, else ✗ with the problem. Never raises."""
    try:
        result = fn_or_result() if callable(fn_or_result) else fn_or_result
        if result is None:
            return verdict(name, "no result yet (your function returned None)")
        why = problem(result)
        if why is not None:
            return verdict(name, why)
        line = describe(result)
    except NotImplementedError:
        return verdict(name, NOT_IMPLEMENTED)
    except Delegated as e:
        return verdict(name, str(e))
    except Exception as e:
        return verdict(name, f"{error_line(e)} (raised while running your experiment)")
    print(f"✓ {name}: {line}")
    return True
