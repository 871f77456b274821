"""Final-answer extraction and answer equivalence for SCoRe's binary reward.

This module holds: pulling the final answer out of a model completion (the
paper's "The final answer is $...$" line, then ``\\boxed{}``, then the last
number), an equivalence check backed by math-verify, the 0/1 reward built on
both, and the "did the second attempt change its answer" test. A cheap cost
bound (`too_costly`) keeps expressions whose evaluation would run for minutes
inside one C call (``9^{9^9}``, ``(10^9)!``, ``\\Gamma(10^{8})``) or expand
into millions of terms (``(x+y+z+w)^{200}``, a 12x12 determinant of symbols)
away from sympy: no timeout, signal or thread can interrupt such a call, so
only refusing it keeps grading bounded from any thread. Whatever it lets
through was measured to grade well under a second (see the MAX_* limits).

It is not a general grader: it does not judge proofs, reasoning, free-form
text or multiple-choice letters, and it does not call any model.
"""
from __future__ import annotations

import math
import re
import threading
from fractions import Fraction
from typing import NamedTuple

# Answers longer than this are not sent to math-verify (only the cheap
# string/number comparison is done): real final answers are short, and
# math-verify's LaTeX parser takes about 2 ms a character on tuples and
# polynomials. First parses of such answers, under the load described below:
# 250 characters 0.3-0.5 s, 300 0.6-0.7 s, 400 0.7-1.0 s, 1000 1.0-1.5 s,
# 2000 2.0-3.3 s; and both sides are parsed.
MAX_ANSWER_CHARS = 300
# Nesting of ( and [ (the parser backtracks): depth 4 parsed in 0.24 s, 6 in 0.26 s, 8 in 0.46 s, 10 in 1.0 s,
# 20 in 3.0 s, 40 in 8.5 s, 80 in 31 s. Braces are cheap: 40 nested \frac took 0.14 s.
MAX_BRACKET_DEPTH = 6
# Cost bounds (see `too_costly`): what math-verify grades well under a second. Times are one grade against
# "1" on this 2-core machine while two training jobs ran (so about twice an idle machine's), math-verify warm.
MAX_RESULT_BITS = 100_000  # any number built from the text (2^{99999} or 5000! is fine, 9^{9^9} is not)
MAX_SYMBOLIC_EXPONENT = 256  # x^{256}; expansions are bounded by MAX_EXPANSION_TERMS
# Monomials of an expanded polynomial (multinomial theorem; products of sums): (x+1)^{127} took 0.57 s,
# (x+y+z+w)^{7} (120 terms) 0.52 s, (x+y+z+w)^{10} (286) 1.2 s, (x+y+z+w)^{20} (1771) 5.8 s,
# (x+y+z+w)^{200} more than the 5 s timeout; 10 binomials (a+b)(c+f)... (1024 terms) 4.7 s.
MAX_EXPANSION_TERMS = 100
# n in \Gamma(x+n), (x+n)!, \binom{x}{n}: a polynomial of degree n. \Gamma(x+8) 0.37 s, \Gamma(x+20) 0.73 s,
# \Gamma(x+50) 1.8 s, \binom{x}{50} 1.0 s, \binom{x}{200} and \Gamma(x+500) over 15 s.
MAX_SYMBOLIC_GROWTH = 16
# Rows or columns of a matrix with a symbolic entry. Determinants of symbols: 3x3 0.34 s, 4x4 0.63 s, 5x5 4.6 s,
# 6x6 and 12x12 over 12 s; a 12x12 of digits with 3 symbols 1.0 s. Numeric 20x20 0.24 s.
MAX_SYMBOLIC_MATRIX = 3
# Rows or columns of a numeric matrix (2000 characters would allow 31x31): inverses 16x16 0.15 s, 20x20 0.53 s,
# 24x24 0.83 s; 31x31 determinant 0.60 s. Also bounds \operatorname{eye}(n), zeros(m, n), ones(m, n):
# \operatorname{zeros}(10^{5}, 10^{5}) would fill the memory.
MAX_MATRIX_SIDE = 16
# Degree of the body of a \sum or \prod with a symbolic limit (closed forms): \sum_{k=1}^{n} k^{30} 0.27 s,
# k^{100} 0.77 s, k^{256} 3.6 s. Their terms count twice: \sum_{k=1}^{n} (x+y+k)^{4} (90 terms) took 0.66 s,
# (x+y+k)^{3} (50) 0.39 s.
MAX_SYMBOLIC_SUM_DEGREE = 16

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
_COST_TOKEN_RE = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\\\|\\[A-Za-z]+|[A-Za-z]+|\*\*|\S")
# Dropped before bounding, so that \Gamma\left(10^{8}\right) reads as \Gamma(10^{8}).
_SIZING = {"\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr",
           "\\displaystyle"}
_NEUTRAL = {"\\cdot", "\\times", "\\div", "\\frac", "\\dfrac", "\\tfrac", "\\sqrt", "\\choose", "\\\\", "\\"}
# End a product: the terms of a sum, the items of a list or the sides of a relation add up.
_ADDITIVE = {"+", "-", "\\pm", "\\mp", ",", ";", "=", "<", ">", "\\le", "\\leq", "\\ge", "\\geq", "\\ne", "\\neq",
             "\\approx", "\\in", "\\cup", "\\cap"}
_GROWING = {"factorial": 1, "gamma": 1, "Gamma": 1, "\\Gamma": 1, "\\gamma": 1, "factorial2": 1, "subfactorial": 1,
            "ff": 1, "rf": 1, "pow": 1, "Pow": 1, "RisingFactorial": 1, "FallingFactorial": 1, "binomial": 0,
            "binom": 0}  # 1: value <= n^n, 0: value <= 2^n, n bounded by the product of the arguments
_BINOMS = {"\\binom", "\\dbinom", "\\tbinom"}
_ITERATED = {"\\sum", "\\prod"}
_BOUNDED_CALLS = {"Sum", "Product", "summation", "product"}  # plain calls: all arguments small
_MATRIX_ENVS = {"matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix", "array"}
_MATRIX_STOPS = {"&", "\\\\", "\\end"}
_MATRIX_BUILDERS = {"eye": 2, "zeros": 1, "ones": 1}  # \operatorname{eye}(n) has n^2 entries, zeros(m, n) m*n
# \operatorname{...} of a matrix that latex2sympy evaluates by solving: refused (rank of a symbolic 2x2: 0.45 s).
_MATRIX_SOLVERS = {"rank", "rref", "nullspace", "eig", "eigen", "diagonalize", "eigenvals", "eigenvalues",
                   "eigenvects", "eigenvectors", "svd", "SVD", "orth", "ortho", "orthogonal", "orthogonalize"}


class _TooCostly(Exception):
    pass


class _Val(NamedTuple):
    """Upper bounds for one operand: `bits` on log2 of the numbers it builds (for a polynomial: of its
    coefficients, times its degree), `symbols` it contains (none: a number), its total `degree` in them, and
    how many monomials (`terms`) it has once expanded."""

    bits: float
    symbols: frozenset = frozenset()
    degree: float = 0.0
    terms: float = 1.0


def _comb(n: float, k: float) -> float:
    """The binomial coefficient C(n, k) for real n >= k >= 0, as a float (inf when huge)."""
    if k <= 0:
        return 1.0
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return round(math.exp(log), 6) if log < 700 else math.inf  # nan (from inf) compares False: inf


def _monomials(symbols: frozenset, degree: float, terms: float) -> float:
    """`terms`, or fewer: a polynomial of degree d in s symbols has at most C(d + s, s) monomials."""
    if terms <= 1.0 or not symbols:
        return 1.0
    return min(terms, _comb(degree + len(symbols), len(symbols)))


def _times(a: _Val, b: _Val) -> _Val:
    """Bounds of a product, and of any two operands side by side."""
    if not (a.symbols or b.symbols):
        return _Val(a.bits + b.bits)
    symbols, degree = a.symbols | b.symbols, a.degree + b.degree
    return _Val(a.bits + b.bits, symbols, degree, _monomials(symbols, degree, a.terms * b.terms))


def _plus(a: _Val, b: _Val) -> _Val:
    """Bounds of a sum (a list, a relation): bits as a product's, but terms add up and degrees do not."""
    if not (a.symbols or b.symbols):
        return _Val(a.bits + b.bits)
    symbols, degree = a.symbols | b.symbols, max(a.degree, b.degree)
    return _Val(a.bits + b.bits, symbols, degree, _monomials(symbols, degree, a.terms + b.terms))


def _raised(a: _Val, e: float) -> _Val:
    """Bounds of `a` to a power at most `e`: C(e + t - 1, t - 1) monomials for t terms (multinomial theorem)."""
    degree = a.degree * e
    terms = _monomials(a.symbols, degree, _comb(e + a.terms - 1, a.terms - 1))
    return _Val(max(a.bits, 1.0) * e, a.symbols, degree, terms)


class _CostBound:
    """Upper bounds on what an expression's evaluation could build, read off its tokens (LaTeX or plain):
    a `_Val` per operand. Operands side by side are bounded as a product whatever the operators and their
    precedence, except that + - , = and the like separate the terms of a sum; `^` and `**` bind right to
    left. Raises _TooCostly at the first operation over the limits."""

    def __init__(self, text: str) -> None:
        text = _SUPERSCRIPT_RUN_RE.sub(lambda m: "^{" + m.group().translate(_SUPERSCRIPTS) + "}", text)
        self.tokens = [tok for tok in _COST_TOKEN_RE.findall(text) if tok not in _SIZING]
        self.i = 0
        self.bound: dict[str, _Val] = {}  # the indices of the enclosing \sum and \prod with numeric limits

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def operand_follows(self, stops: set[str] | frozenset = frozenset()) -> bool:
        tok = self.peek()
        return tok is not None and tok not in (")", "]", "}") and tok not in stops

    def sequence(self, stops: set[str] | frozenset = frozenset()) -> _Val:
        """The operands up to a closing bracket, one of `stops` or the end."""
        total = run = None
        choose = False
        while self.operand_follows(stops):
            if self.peek() in _ADDITIVE:
                self.i += 1
                total, run = self.summed(total, run), None
                continue
            choose = choose or self.peek() == "\\choose"
            operand = self.power()
            run = operand if run is None else self.checked(_times(run, operand))
        total = self.summed(total, run) or _Val(0.0)
        return self.grown(total, 0) if choose else total

    def summed(self, total: _Val | None, run: _Val | None) -> _Val | None:
        if total is None or run is None:
            return run if total is None else total
        return self.checked(_plus(total, run))

    def run(self, bound: dict[str, _Val]) -> _Val:
        """The factors that follow, up to a + or - (the body of a \\sum or \\prod), with `bound` indices."""
        saved, self.bound = self.bound, {**self.bound, **bound}
        try:
            v = _Val(0.0)
            while self.operand_follows() and self.peek() not in _ADDITIVE:
                v = self.checked(_times(v, self.power()))
            return v
        finally:
            self.bound = saved

    @staticmethod
    def checked(v: _Val) -> _Val:
        """`v`, unless over the limits: MAX_RESULT_BITS (a symbol counts one bit: the numbers are still built)
        and, with symbols, MAX_EXPANSION_TERMS monomials of at most MAX_RESULT_BITS bits in all."""
        if v.bits > MAX_RESULT_BITS:
            raise _TooCostly
        if v.symbols and (v.terms > MAX_EXPANSION_TERMS or v.terms * v.bits > MAX_RESULT_BITS):
            raise _TooCostly
        return v

    def grown(self, v: _Val, kind: int, n_bits: float | None = None) -> _Val:
        """The bound of n!, n^n-like (kind 1) or 2^n-like (kind 0) growth of an argument bounded by `v`
        (n <= 2^n_bits, from `v` by default). With symbols, a polynomial of degree n: x+n gives (x+n)^n."""
        n_bits = v.bits if n_bits is None else n_bits
        n = 2.0 ** n_bits if n_bits < 1000 else math.inf
        if v.symbols:
            if n > MAX_SYMBOLIC_GROWTH:
                raise _TooCostly
            return self.checked(_raised(v, n))
        return self.checked(_Val(n * v.bits if kind else n))

    def power(self) -> _Val:
        base = self.postfix()
        if self.peek() not in ("^", "**"):
            return base
        self.i += 1
        exponent = self.power()  # right-associative
        if exponent.symbols:  # 2^{x}: left as it is, one symbol more
            return _Val(1.0, base.symbols | exponent.symbols, 1.0)
        e = 2.0 ** exponent.bits if exponent.bits < 1000 else math.inf
        if base.symbols and e > MAX_SYMBOLIC_EXPONENT:
            raise _TooCostly
        return self.checked(_raised(base, e))

    def postfix(self) -> _Val:
        v = self.primary()
        while self.peek() == "!" and (self.i + 1 >= len(self.tokens) or self.tokens[self.i + 1] != "="):
            self.i += 1
            v = self.grown(v, 1)
        return v

    def primary(self) -> _Val:
        if not self.operand_follows():
            return _Val(0.0)
        tok = self.tokens[self.i]
        self.i += 1
        if tok in self.bound:
            return self.bound[tok]
        if tok in ("(", "[", "{"):
            v = self.sequence()
            if self.peek() is not None:
                self.i += 1  # any closing bracket closes: intervals such as [0,1) mix them
            return v._replace(bits=max(v.bits, 1.0))
        if tok[0].isdigit() or (tok[0] == "." and len(tok) > 1):
            value = float(tok)
            if math.isinf(value):
                return _Val(3.33 * len(tok))
            return _Val(max(1.0, abs(math.log2(value)) if value else 1.0))
        if tok == "_":  # a subscript is an index: x_{1} and x_{2} are two symbols; its contents are still checked
            start = self.i
            self.postfix()
            return _Val(0.0, frozenset(["_" + " ".join(self.tokens[start:self.i])]))
        if tok in ("\\operatorname", "\\mathrm") and self.peek() == "{" and self.i + 2 < len(self.tokens) \
                and self.tokens[self.i + 2] == "}":  # \operatorname{Gamma}(10^{8}), \operatorname{eye}(3)
            self.i += 3
            return self.operator(self.tokens[self.i - 2])
        return self.named(tok)

    def operator(self, name: str) -> _Val:
        """What an \\operatorname{name} builds: latex2sympy's matrix builders and solvers, or as `named`."""
        if name in _MATRIX_SOLVERS:
            raise _TooCostly
        if name in _MATRIX_BUILDERS:
            size = self.postfix()  # (m, n): the product of the arguments
            if size.symbols or size.bits * _MATRIX_BUILDERS[name] > 2 * math.log2(MAX_MATRIX_SIDE):
                raise _TooCostly
            return _Val(size.bits * _MATRIX_BUILDERS[name])
        return self.named(name)

    def named(self, tok: str) -> _Val:
        """A command, a function or a variable, with what it applies to."""
        if tok in _GROWING:
            return self.grown(self.postfix(), _GROWING[tok])
        if tok in _BINOMS:
            return self.binomial()
        if tok in _ITERATED:
            return self.iterated(tok == "\\sum")
        if tok in _BOUNDED_CALLS:
            while self.peek() == "(":
                if self.postfix().bits > 2 * math.log2(MAX_SYMBOLIC_EXPONENT):
                    raise _TooCostly
            return _Val(1.0, frozenset([tok]), 1.0)
        if tok == "\\begin":
            return self.matrix() if self.env_name() in _MATRIX_ENVS else _Val(0.0)
        if tok == "\\end":
            self.env_name()
            return _Val(0.0)
        if tok in _NEUTRAL or not (tok[0].isalpha() or tok[0] == "\\"):
            return _Val(0.0)  # an operator or punctuation
        if tok[0] == "\\":
            return _Val(1.0, frozenset([tok]), 1.0)  # a constant such as \pi, a Greek letter, a function
        return self.letters(tok)

    def letters(self, tok: str) -> _Val:
        """Letters side by side multiply: "xy" is x*y of degree 2 (one bit, as a word is not a number), and in
        "kx" an index k of a \\sum counts as its bound."""
        free = [letter for letter in tok if letter not in self.bound]
        v = _Val(1.0, frozenset(free), float(len(free))) if free else _Val(0.0)
        for letter in tok:
            if letter in self.bound:
                v = _times(v, self.bound[letter])
        return v

    def binomial(self) -> _Val:
        """\\binom{n}{k}: at most 2^(n*k); once n has symbols, a polynomial of degree k in n."""
        top, bottom = self.postfix(), self.postfix()
        if top.symbols and not bottom.symbols:
            return self.grown(top, 0, bottom.bits)
        return self.grown(_times(top, bottom), 0)

    def iterated(self, is_sum: bool) -> _Val:
        """\\sum or \\prod, its limits and its body (the factors that follow, up to + or -).

        With numeric limits the body, its index at most twice the larger limit, is raised to the number of
        terms: a product's bound, which also bounds a sum (adding fractions multiplies their denominators;
        \\sum_{k=1}^{65536} \\frac{1}{k} took over 15 s). With a symbolic limit (a closed form in n) the
        body's degree is at most MAX_SYMBOLIC_SUM_DEGREE and each of its terms gives a polynomial in n,
        counted twice (slower per term than an expansion)."""
        index, limits = None, []
        while self.peek() in ("_", "^"):
            self.i += 1
            if self.tokens[self.i - 1] == "_" and self.index_follows():  # _{k=1}
                index = self.tokens[self.i + 1]
                self.i += 3
                limits.append(self.sequence())
                self.i += self.peek() is not None
            else:
                limits.append(self.postfix())
        if len(limits) == 2 and not (limits[0].symbols or limits[1].symbols):
            count_bits = max(limits[0].bits, limits[1].bits) + 1
            body = self.run({index: _Val(count_bits)} if index else {})
            v = _raised(body, 2.0 ** count_bits)
            if is_sum:  # x^k gives a term per k
                v = v._replace(terms=_monomials(v.symbols, v.degree, max(v.terms, 2.0 ** count_bits * body.terms)))
            return self.checked(v)
        body = self.run({})
        if body.degree > MAX_SYMBOLIC_SUM_DEGREE:
            raise _TooCostly
        symbols = body.symbols.union(*(limit.symbols for limit in limits), ["\\sum"])
        degree = body.degree + 1.0
        terms = _monomials(symbols, degree, 2.0 * body.terms * (degree + 1.0))
        return self.checked(_Val(body.bits + 1.0, symbols, degree, terms))

    def index_follows(self) -> bool:
        """Whether a subscript such as {k=1} names the index of a sum or product."""
        t, i = self.tokens, self.i
        return self.peek() == "{" and i + 2 < len(t) and t[i + 1].isalpha() and t[i + 2] == "="

    def env_name(self) -> str | None:
        """The {name} after \\begin or \\end, consumed (with an array's column spec), or None."""
        t, i = self.tokens, self.i
        if self.peek() != "{" or i + 2 >= len(t) or t[i + 2] != "}":
            return None
        self.i += 3
        if t[i + 1] == "array" and self.peek() == "{":
            while self.peek() not in (None, "}"):
                self.i += 1
            self.i += 1
        return t[i + 1]

    def matrix(self) -> _Val:
        """A matrix environment's entries up to its \\end (rows end at \\\\, entries at &)."""
        cells, rows, cols, col = [], 1, 1, 1
        while True:
            cells.append(self.sequence(_MATRIX_STOPS))
            tok = self.peek()
            if tok == "&":
                col += 1
                cols = max(cols, col)
            elif tok == "\\\\" and self.i + 1 < len(self.tokens) and self.tokens[self.i + 1] != "\\end":
                rows, col = rows + 1, 1
            elif tok != "\\\\":
                break
            self.i += 1
        if self.peek() == "\\end":
            self.i += 1
            self.env_name()
        return self.entries(cells, max(rows, cols))

    def entries(self, cells: list[_Val], n: int) -> _Val:
        """Bounds of an n-by-n matrix (or smaller) of `cells`: n is at most MAX_MATRIX_SIDE and their bits add
        up; with a symbol, n is at most MAX_SYMBOLIC_MATRIX and its determinant is n! products of n entries."""
        if n > MAX_MATRIX_SIDE:
            raise _TooCostly
        v = _Val(0.0)
        for cell in cells:
            v = _times(v, cell)
        if not v.symbols:
            return self.checked(v)
        if n > MAX_SYMBOLIC_MATRIX:
            raise _TooCostly
        degree = n * max(c.degree for c in cells)
        terms = _monomials(v.symbols, degree, math.factorial(n) * max(c.terms for c in cells) ** n)
        return self.checked(_Val(v.bits, v.symbols, degree, terms))


def _bracket_depth(text: str) -> int:
    """The deepest nesting of ( and [ in `text` (any of ) and ] closes either: [0,1) is an interval)."""
    depth = deepest = 0
    for char in text:
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]" and depth:
            depth -= 1
    return deepest


def too_costly(text: str) -> bool:
    """Whether evaluating `text` could build a number or an expansion too large to finish well under a
    second: huge powers and towers, factorial-like growth (n!, n!!, \\Gamma, \\binom), long sums and
    products, expansions of many terms ((x+y+z+w)^{200}), large or symbolic matrices and determinants,
    matrix solvers; or whose parsing alone is slow (longer than MAX_ANSWER_CHARS, brackets nested
    deeper than MAX_BRACKET_DEPTH). Conservative: it may refuse an unusual but cheap expression (then
    only exact string equality can grade it), never a costly one.

    >>> too_costly("9^{9^9}"), too_costly("2^{10}"), too_costly("\\frac{(x+1)^2}{3}")
    (True, False, False)
    """
    if not isinstance(text, str):
        return True
    if len(text) > MAX_ANSWER_CHARS or _bracket_depth(text) > MAX_BRACKET_DEPTH:
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
    ``timeout_s`` of None or <= 0 disables the limit. Refused (`too_costly`)
    answers start no helper at all; every accepted one was measured to grade
    well under a second, so a helper outlives its verdict only when
    ``timeout_s`` is shorter than that, and then by less than a second.
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
