"""Final-answer extraction and answer equivalence for SCoRe's binary reward.

This module holds: pulling the final answer out of a model completion (the
paper's "The final answer is $...$" line, then ``\\boxed{}``, then the last
number), an equivalence check backed by math-verify, the 0/1 reward built on
both, and the "did the second attempt change its answer" test. A cheap cost
bound (`too_costly`) keeps expressions whose evaluation would run for minutes
inside one C call (``9^{9^9}``, ``(10^9)!``) away from sympy: no timeout,
signal or thread can interrupt such a call, so only refusing it keeps grading
bounded from any thread.

It is not a general grader: it does not judge proofs, reasoning, free-form
text or multiple-choice letters, and it does not call any model.
"""
from __future__ import annotations

import math
import re
import threading
from fractions import Fraction

# Answers longer than this are not sent to math-verify (only the cheap
# string/number comparison is done): real final answers are short, and
# parsing a huge string with sympy can take a very long time.
MAX_ANSWER_CHARS = 2000
# Cost bounds (see `too_costly`): what sympy computes in about a second at most.
MAX_RESULT_BITS = 100_000  # any number built from the text (2^{99999} or 5000! is fine, 9^{9^9} is not)
MAX_SYMBOLIC_EXPONENT = 256  # (x+1)^{256} expands in about a second; also bounds sums' and products' limits

_UNICODE_FIX = str.maketrans(
    {"\u2212": "-", "\uff0d": "-", **{chr(0xFF10 + d): str(d) for d in range(10)}}
)
_FINAL_RE = re.compile(r"final\s+answer\s*(?:is\s*:?|:)", re.IGNORECASE)
_BRACE_RE = re.compile(r"[{}]")
_TOKEN_RE = re.compile(r"[^$\n]*")
_LONE_DOLLAR_RE = re.compile(r"(?<!\\)\$")
_HOPE_RE = re.compile(r"i\s+hope\s+it\s+is\s+correct", re.IGNORECASE)
_SENT_END_RE = re.compile(r"\.(?=\s|$)")
# A number: optional sign (only when not glued to a preceding term, so the
# "12" in "5-12" is not read as negative), integer part with optional
# thousands separators, optional decimals, optional "/denominator".
_NUMBER_RE = re.compile(
    r"(?:(?<![\w)\]])[-\u2212])?(?<![\d.])"
    r"(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+)?|\.\d+)"
)
_PLAIN_NUM_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d+)?(?:/\d+)?")


def _closing_brace(text: str, start: int, limit: int) -> int:
    """Index of the '}' closing the '{' at ``start`` (searching below ``limit``), or -1."""
    depth = 0
    for m in _BRACE_RE.finditer(text, start, limit):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.start()
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\boxed x``, ``\\fbox{...}``) in ``text``.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``.
    An unclosed ``\\boxed{`` is skipped in favour of an earlier, closed one.
    """
    if not isinstance(text, str):
        return None
    limit = len(text)
    nxt = {name: text.rfind(name) for name in ("\\boxed", "\\fbox")}
    while True:
        name = max(nxt, key=nxt.get)
        start = nxt[name]
        if start < 0:
            return None
        nxt[name] = text.rfind(name, 0, start)  # each name is scanned backwards once
        j = k = start + len(name)
        if j > limit or (j < len(text) and text[j].isalpha()):
            continue
        while k < limit and text[k] == " ":
            k += 1
        if k < limit and text[k] == "{":
            end = _closing_brace(text, k, limit)
            if end != -1:
                return text[k + 1:end].strip()
            # This '{' never closes, so an earlier '{' can only close before
            # it: bounding later scans here keeps the whole search linear.
            limit = start
        elif k > j:
            token = _TOKEN_RE.match(text, k).group().strip().rstrip(".")
            if token:
                return token


def _find_dollar(s: str, start: int) -> int:
    """Index of the next unescaped '$' at or after ``start``, or -1."""
    i = s.find("$", start)
    while i > 0 and s[i - 1] == "\\":
        i = s.find("$", i + 1)
    return i


def _after_final(rest: str) -> str | None:
    """The answer written right after a "final answer is" anchor."""
    rest = rest.lstrip(" \t*")
    content = None
    for opener, closer in (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$")):
        if rest.startswith(opener):
            n = len(opener)
            end = _find_dollar(rest, n) if closer == "$" else rest.find(closer, n)
            if end != -1:
                content = rest[n:end]
            else:
                rest = rest[n:]
            break
    if content is None:  # no delimiters: up to end of line / sentence / "I hope..."
        content = rest.split("\n", 1)[0]
        hope = _HOPE_RE.search(content)
        if hope:
            content = content[:hope.start()]
        sent = _SENT_END_RE.search(content)
        if sent:
            content = content[:sent.start()]
        content = _LONE_DOLLAR_RE.sub("", content).strip().strip("*").strip()
    content = content.strip()
    if content.startswith(("\\boxed", "\\fbox")):
        content = last_boxed(content) or content
    return content.rstrip(" .,;") or None


def _last_number(text: str) -> str | None:
    last = None
    for last in _NUMBER_RE.finditer(text):
        pass
    return None if last is None else last.group().translate(_UNICODE_FIX).replace(",", "")


def extract_answer(text: str) -> str | None:
    """The final answer in a completion, or None.

    Tried in order: the last "final answer is ..." / "final answer: ..."
    (case-insensitive; ``$...$``, ``\\(...\\)`` or up to end of sentence),
    then the last ``\\boxed{}``, then the last number in the text.
    """
    if not isinstance(text, str):
        return None
    last = None
    for last in _FINAL_RE.finditer(text):
        pass
    if last is not None:
        ans = _after_final(text[last.end():])
        if ans:
            return ans
    boxed = last_boxed(text)
    if boxed:
        return boxed
    return _last_number(text)


def _normalize(s: str) -> str:
    s = s.translate(_UNICODE_FIX)
    for a, b in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
                 ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\$", ""), ("$", "")):
        s = s.replace(a, b)
    return "".join(s.split()).rstrip(".")


def _as_fraction(s: str) -> Fraction | None:
    if not s or not _PLAIN_NUM_RE.fullmatch(s) or not any(c.isdigit() for c in s):
        return None
    try:
        return Fraction(s.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _wrap(s: str) -> str:
    s = s.translate(_UNICODE_FIX).replace("\\$", "").strip()  # "\$5" is a currency sign
    if "$" in s or "\\(" in s or "\\[" in s or "\\boxed" in s:
        return s
    return f"${s}$"


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SUPERSCRIPT_RUN_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_COST_TOKEN_RE = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[A-Za-z]+|[A-Za-z]+|\*\*|\S")
_NEUTRAL = {"\\left", "\\right", "\\cdot", "\\times", "\\div", "\\pm", "\\mp", "\\frac", "\\dfrac",
            "\\tfrac", "\\sqrt", "\\displaystyle", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\choose"}
_GROWING = {"factorial": 1, "gamma": 1, "factorial2": 1, "subfactorial": 1, "ff": 1, "rf": 1, "pow": 1, "Pow": 1,
            "RisingFactorial": 1, "FallingFactorial": 1, "binomial": 0, "binom": 0, "\\binom": 0, "\\dbinom": 0,
            "\\tbinom": 0}  # 1: value <= n^n, 0: value <= 2^n, n bounded by the product of the arguments
_BOUNDED_CALLS = {"Sum", "Product", "summation", "product", "\\sum", "\\prod"}  # all arguments / limits small


class _TooCostly(Exception):
    pass


class _CostBound:
    """Upper bounds on the numbers an expression's evaluation could build, read off its tokens (LaTeX
    or plain). Each operand gives (bits, symbolic): bits bounds log2 of a numeric value. A run of
    operands is bounded by the product of their bounds, whatever the operators and their precedence;
    `^` and `**` bind right to left. Raises _TooCostly at the first operation over the limits."""

    def __init__(self, text: str) -> None:
        text = _SUPERSCRIPT_RUN_RE.sub(lambda m: "^{" + m.group().translate(_SUPERSCRIPTS) + "}", text)
        self.tokens = _COST_TOKEN_RE.findall(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def operand_follows(self) -> bool:
        return self.peek() is not None and self.peek() not in (")", "]", "}")

    def sequence(self) -> tuple[float, bool]:
        """The operands up to a closing bracket or the end."""
        bits, symbolic, choose = 0.0, False, False
        while self.operand_follows():
            choose = choose or self.peek() == "\\choose"
            b, s = self.power()
            bits, symbolic = bits + b, symbolic or s
        return self.grown(bits, symbolic, 0) if choose else self.checked(bits, symbolic)

    @staticmethod
    def checked(bits: float, symbolic: bool) -> tuple[float, bool]:
        if bits > MAX_RESULT_BITS:  # a symbolic operand counts one bit: the numbers are still built
            raise _TooCostly
        return bits, symbolic

    def grown(self, bits: float, symbolic: bool, kind: int) -> tuple[float, bool]:
        """The bound of n!, n^n-like (kind 1) or 2^n-like (kind 0) growth of an argument bounded by `bits`."""
        if symbolic:
            if bits > math.log2(MAX_SYMBOLIC_EXPONENT) + 1:
                raise _TooCostly
            return 1.0, True
        n = 2.0 ** bits if bits < 1000 else math.inf
        return self.checked(n * bits if kind else n, False)

    def power(self) -> tuple[float, bool]:
        bits, symbolic = self.postfix()
        if self.peek() not in ("^", "**"):
            return bits, symbolic
        self.i += 1
        e_bits, e_symbolic = self.power()  # right-associative
        if e_symbolic:
            return 1.0, True
        exponent = 2.0 ** e_bits if e_bits < 1000 else math.inf
        if symbolic and exponent > MAX_SYMBOLIC_EXPONENT:
            raise _TooCostly
        return (1.0, True) if symbolic else self.checked(bits * exponent, False)

    def postfix(self) -> tuple[float, bool]:
        bits, symbolic = self.primary()
        while self.peek() == "!" and (self.i + 1 >= len(self.tokens) or self.tokens[self.i + 1] != "="):
            self.i += 1
            bits, symbolic = self.grown(bits, symbolic, 1)
        return bits, symbolic

    def primary(self) -> tuple[float, bool]:
        if not self.operand_follows():
            return 0.0, False
        tok = self.tokens[self.i]
        self.i += 1
        if tok in ("(", "[", "{"):
            bits, symbolic = self.sequence()
            if self.peek() is not None:
                self.i += 1  # any closing bracket closes: intervals such as [0,1) mix them
            return max(bits, 1.0), symbolic
        if tok[0].isdigit() or tok[0] == ".":
            value = float(tok)
            if math.isinf(value):
                return 3.33 * len(tok), False
            return max(1.0, abs(math.log2(value)) if value else 1.0), False
        if tok == "_":  # a subscript is an index, not a factor; its contents are still checked
            self.postfix()
            return 0.0, False
        if tok in _GROWING:
            bits, symbolic = self.postfix()
            if tok.startswith("\\") and self.peek() == "{":  # \\binom{n}{k}
                more, more_symbolic = self.postfix()
                bits, symbolic = bits + more, symbolic or more_symbolic
            return self.grown(bits, symbolic, _GROWING[tok])
        if tok in _BOUNDED_CALLS:
            while self.peek() in ("_", "^") if tok[0] == "\\" else self.peek() == "(":
                self.i += tok[0] == "\\"
                if self.postfix()[0] > 2 * math.log2(MAX_SYMBOLIC_EXPONENT):
                    raise _TooCostly
            return 1.0, True
        if tok in _NEUTRAL or not (tok[0].isalpha() or tok[0] == "\\"):
            return 0.0, False  # an operator or punctuation
        return 1.0, True  # a variable, a constant such as \\pi, an unknown function


def too_costly(text: str) -> bool:
    """Whether evaluating `text` could build a number or an expansion too large to finish in about a
    second (huge powers, towers, factorials, binomials, sums and products). Conservative: it may refuse
    an unusual but cheap expression (then only exact string equality can grade it), never a costly one.

    >>> too_costly("9^{9^9}"), too_costly("2^{10}"), too_costly("\\frac{(x+1)^2}{3}")
    (True, False, False)
    """
    if not isinstance(text, str):
        return True
    if len(text) > MAX_ANSWER_CHARS:
        return True
    bound = _CostBound(text)
    try:
        while bound.peek() is not None:
            bound.sequence()
            bound.i += 1  # a stray closing bracket
    except _TooCostly:
        return True
    except RecursionError:  # nesting deeper than the interpreter's stack: not a real answer
        return True
    return False


def _math_verify(pred: str, ref: str, timeout: int | None) -> bool:
    from math_verify import parse, verify

    gold = parse(_wrap(ref), parsing_timeout=timeout)
    target = parse(_wrap(pred), parsing_timeout=timeout)
    if not gold or not target:
        return False
    return bool(verify(gold, target, timeout_seconds=timeout))


def is_equivalent(prediction: str | None, reference: str, timeout_s: float = 5.0) -> bool:
    """Whether ``prediction`` and ``reference`` denote the same mathematical answer.

    A cheap string/number comparison runs first; otherwise math-verify decides,
    unless either side is `too_costly` for sympy (then False: the only way to
    keep a bound on time, from any thread, for ``9^{9^9}`` and the like).
    Never raises: any error or timeout gives False.

    Timeouts: in the main thread math-verify's own SIGALRM timeout is used
    (whole seconds, rounded up, per parse/verify step; it replaces any alarm
    the caller had set). Signals only work in the main thread, so elsewhere
    the check runs in a daemon helper thread without math-verify's timeout and
    the caller waits at most ``timeout_s``; on timeout it returns False and
    the helper is left to finish in the background (threads cannot be killed).
    ``timeout_s`` of None or <= 0 disables the limit.
    """
    try:
        if not isinstance(prediction, str) or not isinstance(reference, str):
            return False
        p, r = _normalize(prediction), _normalize(reference)
        if not p or not r:
            return False
        if p == r:
            return True
        fp, fr = _as_fraction(p), _as_fraction(r)
        if fp is not None and fr is not None:
            if fp == fr:
                return True
            if fp.denominator == 1 and fr.denominator == 1 and "." not in p + r:
                return False  # two different integers: no need for sympy
        if too_costly(prediction) or too_costly(reference):  # also: longer than MAX_ANSWER_CHARS
            return False
        limited = timeout_s is not None and timeout_s > 0
        if threading.current_thread() is threading.main_thread():
            return _math_verify(prediction, reference, math.ceil(timeout_s) if limited else None)
        result: list[bool] = []

        def work() -> None:
            try:
                result.append(_math_verify(prediction, reference, None))
            except BaseException:
                result.append(False)

        helper = threading.Thread(target=work, daemon=True, name="is_equivalent")
        helper.start()
        helper.join(timeout_s if limited else None)
        return bool(result and result[0])
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # sympy errors, math-verify's TimeoutException (a BaseException)
        return False


def math_reward(completion: str, reference: str, timeout_s: float = 5.0) -> float:
    """Binary reward: 1.0 if the completion's final answer matches ``reference``, else 0.0."""
    try:
        if not isinstance(completion, str) or not isinstance(reference, str):
            return 0.0
        return 1.0 if is_equivalent(extract_answer(completion), reference, timeout_s) else 0.0
    except Exception:
        return 0.0


def answers_differ(y1: str, y2: str, timeout_s: float = 5.0) -> bool:
    """Whether two completions end in different final answers.

    None vs None -> False; None vs an answer -> True; otherwise True unless
    the two answers are equivalent.
    """
    try:
        a1, a2 = extract_answer(y1), extract_answer(y2)
        if a1 is None or a2 is None:
            return (a1 is None) != (a2 is None)
        return not is_equivalent(a1, a2, timeout_s)
    except Exception:
        return True
