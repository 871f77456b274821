"""Checkers for the notebooks' "your turn" exercises: small pieces of SCoRe the student writes.

Each exercise has one checker, `check_<name>(student_fn) -> bool`. It runs the student's function on
hand-picked and seeded random cases, compares it with the kit's own implementation, prints one line
(`✓ <name>: passed N cases`, or `✗ <name>: ...` with the first failing input, the expected value and
the one returned) and returns True or False. A checker never raises: an unfinished exercise
(`raise NotImplementedError`) or a crash is reported on that line.

Reference solutions, written independently of the kit, are in `solutions/exercises.py` at the repository
root (for instructors); they are not in the notebooks.
"""
from __future__ import annotations

import copy
import math
import random
from typing import Any, Callable, Sequence

import torch

from . import answers, losses, metrics, sandbox

_MAX_REPR = 70
_NOT_IMPLEMENTED = "not implemented yet (replace the raise with your code)"


def _short(text: str, limit: int = _MAX_REPR) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _show(x: Any) -> str:
    """A short repr; tensors as their values rounded to 6 decimals."""
    if isinstance(x, torch.Tensor):
        return _short(f"tensor({torch.round(x.detach().double(), decimals=6).tolist()})")
    return _short(repr(x))


def _call(name: str, args: tuple) -> str:
    return f"{name}({', '.join(_show(a) for a in args)})"


def _verdict(name: str, why: str | None, n: int = 0) -> bool:
    print(f"✓ {name}: passed {n} cases" if why is None else f"✗ {name}: {why}")
    return why is None


def _run(name: str, cases: Sequence[tuple], check: Callable[[tuple], str | None],
         describe: Callable[[tuple], str] | None = None) -> bool:
    """Apply `check` (None when a case passes, else why not) to every case, catching the student's errors."""
    describe = describe or (lambda args: _call(name, args))
    case: tuple = ()
    try:
        for case in cases:
            why = check(case)
            if why is not None:
                return _verdict(name, why)
    except NotImplementedError:
        return _verdict(name, _NOT_IMPLEMENTED)
    except Exception as e:
        return _verdict(name, f"{type(e).__name__}: {_short(' '.join(str(e).split()))} on {describe(case)}")
    return _verdict(name, None, len(cases))


def _compare(name: str, fn: Callable, reference: Callable, same: Callable[[Any, Any], bool]
             ) -> Callable[[tuple], str | None]:
    """A check calling `reference` and `fn` on copies of a case's arguments and comparing with `same`."""
    def check(args: tuple) -> str | None:
        want = reference(*copy.deepcopy(args))
        got = fn(*copy.deepcopy(args))
        if same(got, want):
            return None
        return f"{_call(name, args)} -> expected {_show(want)}, got {_show(got)}"
    return check


def _equal(got: Any, want: Any) -> bool:
    return type(got) is type(want) and got == want


def _close(tol: float) -> Callable[[Any, Any], bool]:
    """Whether `got` matches `want` (a float, a tensor, or a tuple of floats) within `tol`; never raises."""
    def same(got: Any, want: Any) -> bool:
        try:
            if isinstance(want, torch.Tensor):
                got = torch.as_tensor(got).detach().double()
                return got.shape == want.shape and bool(torch.allclose(got, want.double(), rtol=tol, atol=tol))
            if isinstance(want, tuple):
                return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
            return not isinstance(got, str) and math.isclose(float(got), want, rel_tol=tol, abs_tol=tol)
        except (TypeError, ValueError, RuntimeError):
            return False
    return same


# --- final answer -------------------------------------------------------------------------------------

def _number(rng: random.Random) -> str:
    n = rng.randint(-999, 999)
    return str(n) if rng.random() < 0.6 else f"{n}.{rng.randint(1, 99)}"


def _answer_texts(rng: random.Random) -> str:
    a, b, c = (_number(rng) for _ in range(3))
    return rng.choice([
        f"We add {a} and {b}. The final answer is ${c}$. I hope it is correct.",
        f"The final answer is {c}. I hope it is correct.",
        f"Final answer: ${c}$",
        f"So the result is \\boxed{{{c}}}.",
        f"First \\boxed{{{a}}}, but actually \\boxed{{{c}}}.",
        f"The final answer is ${c}$. Check: \\boxed{{{a}}}",
        f"Start with {a}, then {b}, so we get {c}",
        f"The final answer is ${a}$. Wait, the final answer is ${c}$.",
        f"We get {a} apples, {b} pears and {c} plums.",
    ])


def check_final_answer(fn: Callable[[str], str | None]) -> bool:
    """fn(text) -> the final answer as a string, or None. Tried in order:
    1. after the LAST "The final answer is" (or "Final answer:"): what is between `$...$`, else the rest of
       the sentence (up to ". ", a newline or the end); a `\\boxed{...}` there is unwrapped;
    2. the content of the last `\\boxed{...}` (braces matched);
    3. the last number: optional minus sign, digits, optional decimals ("-2.5");
    otherwise None. Compared with `answers.extract_answer` by exact string equality."""
    cases = [
        "The final answer is $-3$. I hope it is correct.",
        "The final answer is $\\frac{1}{2}$.",
        "The final answer is 3.5. I hope it is correct.",
        "Final answer: 12",
        "The final answer is $\\boxed{5}$",
        "The answer is \\boxed{\\frac{3}{4}}.",
        "First I got \\boxed{2}, then \\boxed{7}.",
        "The final answer is $4$. Checking: \\boxed{9}",
        "The final answer is $2$. No wait, the final answer is $6$.",
        "3 apples and 4 apples make 7 apples",
        "So x = -2.5",
        "The price is 0.25 dollars.",
        "I don't know.",
        "",
    ]
    rng = random.Random(0)
    cases += [_answer_texts(rng) for _ in range(40)]
    return _run("final_answer", [(c,) for c in cases],
                _compare("final_answer", fn, answers.extract_answer, _equal))


# --- transitions --------------------------------------------------------------------------------------

def _transitions(r1: list[float], r2: list[float]) -> tuple[float, float]:
    m = metrics.self_correction_metrics(r1, r2)
    return m["delta_i_to_c"], m["delta_c_to_i"]


def check_transitions(fn: Callable[[list[float], list[float]], tuple[float, float]]) -> bool:
    """fn(r1, r2) -> (delta_i_to_c, delta_c_to_i): fractions of problems wrong at attempt 1 and right at
    attempt 2, and right then wrong. r1, r2: 0.0/1.0 rewards of the same (one or more) problems.
    Compared with `metrics.self_correction_metrics` within 1e-9."""
    cases = [([1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]), ([0.0, 0.0, 1.0], [1.0, 0.0, 1.0]),
             ([1.0, 1.0], [0.0, 1.0]), ([0.0], [0.0]), ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])]
    rng = random.Random(1)
    for _ in range(30):
        n = rng.randint(1, 20)
        cases.append(([float(rng.random() < 0.4) for _ in range(n)], [float(rng.random() < 0.5) for _ in range(n)]))
    return _run("transitions", cases, _compare("transitions", fn, _transitions, _close(1e-9)))


# --- STaR D+ pairs ------------------------------------------------------------------------------------

def _star_pairs(r1: int, r2: int) -> list[tuple[str, str]]:
    """The (attempt 1, attempt 2) pairs one trace gives STaR D+, as `sft.star_dataset(plus=True)` builds
    them (truncation aside): (y1, y2) for wrong -> right, and (y, y) for every correct response y."""
    pairs = [("y1", "y2")] if r1 == 0 and r2 == 1 else []
    return pairs + [(y, y) for y, r in (("y1", r1), ("y2", r2)) if r == 1]


def _same_pairs(got: Any, want: list[tuple[str, str]]) -> bool:
    try:
        return sorted(tuple(p) for p in got) == sorted(want)
    except TypeError:
        return False


def check_star_pairs(fn: Callable[[int, int], list[tuple[str, str]]]) -> bool:
    """fn(r1, r2) -> the (first, second) pairs, each "y1" or "y2", that one two-attempt trace with these
    0/1 rewards adds to STaR's D+ (Section 4): (y1, y2) when a wrong y1 is followed by a right y2, plus
    (y, y) for every correct response y. Any order."""
    cases = [(r1, r2) for r1 in (0, 1) for r2 in (0, 1)]
    return _run("star_pairs", cases, _compare("star_pairs", fn, _star_pairs, _same_pairs))


# --- edit-distance ratio ------------------------------------------------------------------------------

def _mutate(rng: random.Random, s: str, alphabet: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(0, 4)):
        i = rng.randint(0, len(chars))
        op = rng.choice("ids")
        if op == "i" or not chars:
            chars.insert(i, rng.choice(alphabet))
        elif op == "d":
            del chars[min(i, len(chars) - 1)]
        else:
            chars[min(i, len(chars) - 1)] = rng.choice(alphabet)
    return "".join(chars)


def check_edit_distance_ratio(fn: Callable[[str, str], float]) -> bool:
    """fn(y1, y2) -> Levenshtein distance (insert, delete, substitute one character) divided by
    len(y1) + len(y2); 0.0 for two empty strings. Compared with `metrics.edit_distance_ratio` within 1e-9."""
    cases = [("", ""), ("abc", "abc"), ("ab", "cd"), ("kitten", "sitting"), ("", "abc"), ("abc", ""),
             ("café", "cafe"), ("δx = 1", "δy = 1"), ("👍 ok", "ok 👍"), ("x = 2", "x = 2.0")]
    rng = random.Random(2)
    alphabet = "abcde 1=é€"
    for _ in range(30):
        y1 = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        y2 = (_mutate(rng, y1, alphabet) if rng.random() < 0.7
              else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15))))
        cases.append((y1, y2))
    return _run("edit_distance_ratio", cases,
                _compare("edit_distance_ratio", fn, metrics.edit_distance_ratio, _close(1e-9)))


# --- RLOO ---------------------------------------------------------------------------------------------

def check_rloo(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """fn(returns [n], k) -> advantages [n]: A_i = R_i - (mean of R_j over the OTHER samples j of i's group),
    groups being k consecutive samples of one problem. Compared with `losses.rloo_advantages` within 1e-6."""
    cases = [(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0]), 3), (torch.tensor([1.0, 0.0]), 2),
             (torch.tensor([0.5, -1.0, 2.0, 3.0]), 4), (torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0]), 2)]
    gen = torch.Generator().manual_seed(3)
    for i in range(20):
        k, groups = int(torch.randint(2, 6, (1,), generator=gen)), int(torch.randint(1, 5, (1,), generator=gen))
        n = k * groups
        returns = (torch.rand(n, generator=gen) < 0.5).float() if i % 2 else 2 * torch.randn(n, generator=gen)
        cases.append((returns, k))
    return _run("rloo", cases, _compare("rloo", fn, losses.rloo_advantages, _close(1e-6)))


# --- Stage I loss -------------------------------------------------------------------------------------

def _stage1_case(gen: torch.Generator, k: int, groups: int, beta1: float, beta2: float) -> tuple:
    """Random float64 inputs of `losses.stage1_loss`; r2 mixes 0 and 1 in the first group, so that
    rewarding the wrong attempt shows in every case."""
    b = k * groups
    seq1, seq2 = (-10 * torch.rand(b, generator=gen, dtype=torch.float64) for _ in range(2))
    kl1, kl2 = (0.3 + 0.5 * torch.randn(b, generator=gen, dtype=torch.float64) for _ in range(2))
    r1, r2 = ((torch.rand(b, generator=gen) < 0.5).double() for _ in range(2))
    r2[:2] = torch.tensor([1.0, 0.0])
    return seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2


def _loss_and_grads(fn: Callable, args: tuple) -> tuple[Any, torch.Tensor | None, torch.Tensor | None]:
    """fn's loss value (of the tensor it returns, or of its `.loss`) and the gradients w.r.t. seq1 and seq2;
    (what it returned, None, None) when that is not a scalar tensor carrying a gradient."""
    seq1, seq2 = (t.clone().requires_grad_(True) for t in args[:2])
    out = fn(seq1, seq2, *(a.clone() if isinstance(a, torch.Tensor) else a for a in args[2:]))
    loss = getattr(out, "loss", out)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
        return out, None, None
    loss.backward()
    return (loss.item(), *(torch.zeros_like(s) if s.grad is None else s.grad for s in (seq1, seq2)))


def _stage1_reference(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) -> losses.LossParts:
    """`losses.stage1_loss` called with the exercise's flat arguments."""
    return losses.stage1_loss(losses.Attempt(seq1, kl1, r1), losses.Attempt(seq2, kl2, r2), k, beta1, beta2)


def check_stage1_loss(fn: Callable[..., Any]) -> bool:
    """fn(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) -> the Stage I loss (Eq. 3), as a scalar tensor or
    an object with `.loss` (like `losses.LossParts`). seq1, seq2: (B,) log pi of attempts 1 and 2; kl1, kl2:
    (B,) KL_hat of each; r1, r2: (B,) 0/1 rewards; k samples per problem. The kit's form: REINFORCE on
    attempt 2 with RLOO advantages of r2, beta2 * `losses.kl_penalty` on attempt 1, beta1 * on attempt 2.
    Its value and its gradients w.r.t. seq1 and seq2 are compared with `losses.stage1_loss`."""
    gen = torch.Generator().manual_seed(4)
    cases = [_stage1_case(gen, 2, 2, 0.01, 0.1), _stage1_case(gen, 2, 3, 0.0, 0.0),
             _stage1_case(gen, 4, 1, 0.01, 0.25), _stage1_case(gen, 3, 2, 0.5, 0.0)]
    rng = random.Random(4)
    cases += [_stage1_case(gen, rng.randint(2, 4), rng.randint(1, 3), round(rng.uniform(0, 0.3), 3),
                           round(rng.uniform(0, 0.5), 3)) for _ in range(6)]

    def describe(args: tuple) -> str:
        r1, r2, k, beta1, beta2 = args[4:]
        return f"k={k}, beta1={beta1}, beta2={beta2}, r1={r1.int().tolist()}, r2={r2.int().tolist()}"

    def check(args: tuple) -> str | None:
        want, want1, want2 = _loss_and_grads(_stage1_reference, args)
        got, got1, got2 = _loss_and_grads(fn, args)
        if got1 is None:
            return (f"return a scalar tensor (or an object with .loss) that carries the gradient of seq1 and "
                    f"seq2; got {_show(got)} on {describe(args)}")
        if not _close(1e-6)(got1, want1):
            return (f"gradient w.r.t. seq1 (attempt 1's log-prob) differs on {describe(args)}: expected "
                    f"{_show(want1)}, got {_show(got1)} (in Stage I attempt 1 gets no reward, only the beta2 KL)")
        if not _close(1e-6)(got2, want2):
            return (f"gradient w.r.t. seq2 (attempt 2's log-prob) differs on {describe(args)}: expected "
                    f"{_show(want2)}, got {_show(got2)}")
        if not _close(1e-6)(got, want):
            return f"loss on {describe(args)}: expected {_show(want)}, got {_show(got)}"
        return None

    return _run("stage1_loss", cases, check, describe)


# --- Stage II bonus -----------------------------------------------------------------------------------

def _shaped_reward(r1: float | torch.Tensor, r2: float | torch.Tensor, alpha: float) -> float | torch.Tensor:
    """Attempt 2's reward in Stage II as `losses.stage2_loss` forms it: r2 + bonus, bonus = alpha (r2 - r1)."""
    return r2 + alpha * (r2 - r1)


def check_bonus(fn: Callable[[Any, Any, float], Any]) -> bool:
    """fn(r1, r2, alpha) -> attempt 2's shaped reward in Stage II (Eq. 4): r2 plus the bonus
    alpha * (r2 - r1), which pays for fixing a wrong attempt 1 and punishes breaking a right one. r1, r2:
    0/1 floats, or (B,) tensors of them. Compared with the shaping of `losses.stage2_loss` within 1e-9."""
    cases = [(r1, r2, 10.0) for r1 in (0.0, 1.0) for r2 in (0.0, 1.0)]
    cases += [(0.0, 1.0, 2.0), (1.0, 0.0, 1.5),
              (torch.tensor([0.0, 0.0, 1.0, 1.0]), torch.tensor([0.0, 1.0, 0.0, 1.0]), 10.0)]
    rng, gen = random.Random(5), torch.Generator().manual_seed(5)
    cases += [(float(rng.randint(0, 1)), float(rng.randint(0, 1)), round(rng.uniform(1, 20), 3)) for _ in range(20)]
    cases += [(torch.randint(0, 2, (6,), generator=gen).float(), torch.randint(0, 2, (6,), generator=gen).float(),
               round(rng.uniform(1, 20), 3)) for _ in range(4)]
    return _run("bonus", cases, _compare("bonus", fn, _shaped_reward, _close(1e-9)))


# --- majority vote ------------------------------------------------------------------------------------

def check_majority_vote(fn: Callable[[list[str | None]], str | None]) -> bool:
    """fn(answers) -> the most common answer that is not None, ties going to the one seen first; None when
    there is no answer. Compared with `metrics.majority_vote`."""
    cases = [["2", "3", "2"], ["a", "b"], ["b", "a", "a", "b"], [None, None, "5"], ["x", None, None, "y", "y"],
             [None], [], ["7"]]
    rng = random.Random(6)
    pool = ["1", "2", "3", "-1", "1/2", None]
    cases += [[rng.choice(pool) for _ in range(rng.randint(0, 12))] for _ in range(40)]
    return _run("majority_vote", [(c,) for c in cases],
                _compare("majority_vote", fn, metrics.majority_vote, _equal))


# --- code extraction ----------------------------------------------------------------------------------

def _completion(rng: random.Random) -> str:
    a, b = (f"x{rng.randint(0, 9)} = {rng.randint(0, 99)}\nprint(x{rng.randint(0, 9)})" for _ in range(2))
    return rng.choice([
        f"Here is the code:\n```python\n{a}\n```\nIt prints a number.",
        f"```python\n{a}\n```\nBetter:\n```python\n{b}\n```",
        f"```\n{a}\n```",
        f"```python\n{a}\n```\nOutput:\n```text\n42\n```",
        f"```py\n{a}\n```",
        f"```python\n{a}",
        a,
    ])


def check_extract_code(fn: Callable[[str], str]) -> bool:
    """fn(completion) -> the program in it: the body of the last ```python block, else of the last fenced
    block of any language (a block left open, as in a truncated completion, runs to the end), else the
    completion as it is. Compared with `sandbox.extract_code` (no problem given, so no MBPP markers and no
    HumanEval prompt), ignoring whitespace at both ends."""
    cases = [
        "Try:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\nDone.",
        "```\ny = 3\n```",
        "```python\nz = 1\n```\n```text\noutput\n```",
        "```python\nw = 4\nprint(w)",
        "def f():\n    return 1\n",
        "Explanation first.\n```text\nnotes\n```\nthen ```python\ndef g():\n    pass\n```\nend",
        "No code, sorry.",
    ]
    rng = random.Random(7)
    cases += [_completion(rng) for _ in range(30)]

    def same(got: Any, want: str) -> bool:
        return isinstance(got, str) and got.strip() == want.strip()

    return _run("extract_code", [(c,) for c in cases], _compare("extract_code", fn, sandbox.extract_code, same))
