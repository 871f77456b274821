"""Self-checks: three to five short questions per lesson on its concepts, answered in the notebook and
checked at once. Not an exam: the answers are in this file, and a wrong answer is shown the reasoning.

In a lesson:

    display(Markdown(self_check_questions("04")))
    self_check("04", {1: "a", 2: 0.0, 3: None})   # None: not answered yet

Questions are multiple choice (answer with the letter) or numeric (a number, within the question's
tolerance). `self_check` prints one line per question (✓, ✗ with why, or · not answered yet) and returns
how many are right; like the exercise checkers it never raises.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Mapping

from ._harness import number, short


@dataclass(frozen=True)
class Question:
    """One question: `answer` is the letter of the right one of `choices` as written here ("a" for the
    first; they are shown in a fixed shuffled order, `shown`), else a number (within `tol`); `why` is the
    reasoning shown after a wrong answer."""

    text: str
    answer: str | float
    why: str
    choices: tuple[str, ...] = ()
    tol: float = 1e-3


SELF_CHECKS: dict[str, list[Question]] = {
    "00": [
        Question("On 200 problems, 100 are right at attempt 1 and 104 at attempt 2. What is Δ(t1, t2), in "
                 "percentage points?", 2.0, "Δ = Acc@t2 − Acc@t1 = 104/200 − 100/200 = 0.02, i.e. +2 points."),
        Question("What does Δi→c count?", "a",
                 "Δi→c is the share of problems wrong at attempt 1 and right at attempt 2: the fixes. Breaks "
                 "(right → wrong) are Δc→i, and Δ = Δi→c − Δc→i.",
                 ("problems wrong at attempt 1 and right at attempt 2",
                  "problems right at attempt 1 and wrong at attempt 2",
                  "problems whose answer changed between the attempts")),
        Question("The final line of an attempt is \"So x = -2.5.\" What must the extracted answer be?", "b",
                 "The sign and the decimals are part of the answer: an extractor keeping only digits would grade "
                 "\"2\", \"5\" or \"2.5\" against the reference and make right answers wrong.",
                 ("2.5", "-2.5", "5")),
        Question("Why are the attempts decoded greedily when a model is evaluated?", "a",
                 "Greedy decoding is what the paper evaluates with, and it makes each problem's two attempts a "
                 "function of the model alone: a run can be repeated, and two models pair problem by problem.",
                 ("the paper evaluates that way, and each problem's answers then depend on the model alone",
                  "sampling at temperature 1.0 is slower", "greedy decoding always gives higher accuracy")),
    ],
    "01": [
        Question("Attempt 1 is right; attempt 2 says \"I'm sorry for the confusion…\" and gives no answer. How "
                 "does the kit count this problem?", "b",
                 "A second attempt with no extractable answer is not a revision: it counts in Δc→i (the paper's "
                 "metric) but as right → none, split out from right → wrong, and not as a changed answer, which "
                 "needs both attempts to answer.",
                 ("right → wrong, and a changed answer", "right → none (within Δc→i), and not a changed answer",
                  "it is left out of the metrics")),
        Question("Δi→c = 3% and Δc→i = 5% on the same problems. What is Δ, in points?", -2.0,
                 "Δ = Δi→c − Δc→i = 3 − 5 = −2 points: the second attempt breaks more than it fixes."),
        Question("Why is Δ's interval computed from the per-problem differences r2 − r1 (paired)?", "a",
                 "The same problems are answered twice: differences cancel each problem's difficulty, so the "
                 "paired interval is narrower than two independent intervals of Acc@t1 and Acc@t2.",
                 ("the attempts answer the same problems, so pairing removes problem difficulty from the noise",
                  "because the two accuracies are independent samples",
                  "a paired interval is always wider, hence safer")),
        Question("Δ = +0.9 points with a 95% interval of [−1.2, +3.0]. What may the text say?", "b",
                 "The interval includes 0, so the result is inconclusive; what it does say is that an effect above "
                 "+3.0 points (or below −1.2) is unlikely.",
                 ("the model self-corrects", "inconclusive: it includes 0, and rules out effects above +3.0 points",
                  "the model gets worse")),
    ],
    "02": [
        Question("Which traces does STaR's data set D keep?", "a",
                 "STaR keeps the model's own successful revisions: an incorrect y1 followed by a correct y2 in "
                 "the same trace. D+ adds correct responses asked to stay as they are.",
                 ("traces where a wrong attempt 1 was followed by a right attempt 2", "every trace",
                  "traces where both attempts are right")),
        Question("Pair-SFT pairs each incorrect response with…", "a",
                 "…a correct response to the same problem chosen at random (from either turn), so it can train "
                 "on corrections the model never made itself.",
                 ("a random correct response to the same problem", "its own second attempt",
                  "the reference solution text")),
        Question("What does the paper (Section 4) find that SFT on such data does?", "a",
                 "SFT mostly lowers Δc→i without raising Δi→c, and collapses to minimal edits: it learns not to "
                 "change the first answer rather than to correct it.",
                 ("lowers Δc→i without raising Δi→c, collapsing to minimal edits",
                  "raises Δi→c strongly on held-out problems", "leaves both transitions unchanged")),
        Question("The base model fixed its answer in 0 of the sampled traces. How many training pairs does "
                 "STaR's D have?", 0.0,
                 "None: D keeps only wrong → right traces. An SFT arm with no (or a handful of) pairs tests "
                 "nothing, and the lesson flags such arms."),
    ],
    "03": [
        Question("What is the edit-distance ratio of two identical attempts?", 0.0,
                 "Levenshtein distance 0 divided by their total length: 0, the mark of a copied answer."),
        Question("Levenshtein(\"kitten\", \"sitting\") = 3. What is their edit-distance ratio (distance over the "
                 "total length)?", 3 / 13, "3 / (6 + 7) = 0.2308.", tol=1e-3),
        Question("What is the largest value the ratio can take?", 1.0,
                 "1, when one attempt is empty: the distance is then the other's length, and so is the total. Two "
                 "equal-length attempts with nothing in common score 0.5."),
        Question("Why compare Pair-SFT's edit distances on its training problems with those on held-out ones?",
                 "a", "The paper (Figure 5) finds they differ: the edits Pair-SFT learns on its own problems do not "
                 "carry over to new ones, a sign of memorised rather than learned correction.",
                 ("to see whether its edits on training problems carry over to new problems",
                  "because held-out problems are longer", "to pick the learning rate")),
    ],
    "04": [
        Question("What is the RLOO advantage of every sample in a group whose returns are all equal?", 0.0,
                 "Each baseline is the mean of the others, equal to the sample's own return: A = 0. Such a group "
                 "gives no gradient, which is why groups with mixed outcomes matter."),
        Question("Returns [1, 0, 0, 1] form one group (k = 4). What is the first sample's RLOO advantage?", 2 / 3,
                 "Its baseline is the mean of the other three, (0 + 0 + 1)/3 = 1/3, so A = 1 − 1/3 = 0.667."),
        Question("With discount γ = 0, what is attempt 1 rewarded for?", "a",
                 "γ = 0 credits each attempt with its own reward only; with γ = 1 attempt 1 would also earn "
                 "attempt 2's reward, which pays a first answer that a copy can repeat.",
                 ("its own correctness only", "its own and attempt 2's correctness", "attempt 2's correctness only")),
        Question("Why does the leave-one-out baseline keep the policy-gradient estimate unbiased?", "a",
                 "E[b ∇log π(y)] = E[b] E[∇log π(y)] = 0 when b does not depend on the sample y; a baseline "
                 "including the sample's own return breaks that (and scales the estimate by (k − 1)/k).",
                 ("it does not depend on the sample it is subtracted from", "it is zero on average",
                  "it is normalised by the group's standard deviation")),
        Question("What does the paper (Section 5) report naive multi-turn RL learns?", "a",
                 "Rewarding each attempt for its own correctness gives attempt 2 no reason to differ: it learns "
                 "to repeat attempt 1, and the rate of different second answers falls.",
                 ("to stop proposing different second answers", "to always change its answer",
                  "to stop answering")),
    ],
    "05": [
        Question("In Stage I (Eq. 3), which attempt is rewarded?", "b",
                 "Only attempt 2: attempt 1 gets no policy-gradient term, only the strong KL that pins it to the "
                 "base model.", ("attempt 1", "attempt 2", "both")),
        Question("Which coefficient weights attempt 1's KL in Stage I?", "b",
                 "β2, the strong one (0.1 in the paper's MATH run, against β1 = 0.01 on attempt 2): it keeps "
                 "attempt 1 near the base model so that attempt 2 can learn to differ from it.",
                 ("β1", "β2", "α")),
        Question("Can the k1 estimate log π(y) − log π_ref(y) of one sampled attempt be negative?", "a",
                 "Yes: only its expectation under π, the KL, is ≥ 0; one sample (or the mean of a few) can be below "
                 "0. An estimate drawn from another distribution than π (e.g. sampled below T = 1 but scored at "
                 "T = 1) is not even ≥ 0 in expectation.", ("yes; only its expectation is ≥ 0", "no, never")),
        Question("Differentiated directly (with the weights π(y) held fixed), the expected gradient of k3 is the "
                 "gradient of…", "b",
                 "…the reverse KL(π_ref ‖ π), not the KL(π ‖ π_ref) of Eq. 3: a k3 loss pulls π towards covering "
                 "π_ref. The kit uses k1 with the score function instead.",
                 ("KL(π ‖ π_ref)", "KL(π_ref ‖ π)", "zero")),
        Question("Why is an attempt's k1 estimate a sum over its tokens and not a mean?", "a",
                 "log π of a sequence is the sum of its tokens' log-probs, so the KL of the attempt is the sum of "
                 "the per-token log-ratios; a mean would weigh long attempts less.",
                 ("the sequence's log-prob, and so its KL, is a sum over tokens",
                  "a mean would be biased upwards", "it makes no difference")),
    ],
    "06": [
        Question("With α = 10, what is attempt 2's shaped reward for a fix (r1 = 0, r2 = 1)?", 11.0,
                 "r̂2 = r2 + α (r2 − r1) = 1 + 10 · 1 = 11."),
        Question("With α = 10, what is attempt 2's shaped reward for a break (r1 = 1, r2 = 0)?", -10.0,
                 "r̂2 = 0 + 10 · (0 − 1) = −10."),
        Question("What reward does attempt 1 get in Stage II?", "a",
                 "Its own reward r1, unshaped: the bonus goes on attempt 2 only.",
                 ("its own reward r1, unshaped", "r1 plus the bonus", "none, as in Stage I")),
        Question("Why does the paper ask for α > 1?", "a",
                 "Then the bonus outweighs the base reward: a fix earns 1 + α against 1 for staying right, a break "
                 "−α against 0 for staying wrong. The reward turns on the transition between the attempts, so "
                 "repeating attempt 1 is no longer the easy optimum.",
                 ("so that fixing and breaking outweigh staying the same, and copying attempt 1 stops paying",
                  "so that the loss stays positive", "to make training faster")),
    ],
    "07": [
        Question("At a budget of B = 8 generations per problem, how many two-attempt samples does sequential "
                 "voting use?", 4.0, "Each sample costs two generations (attempt 1, then attempt 2): B // 2 = 4."),
        Question("On a problem whose first attempts are all wrong, which vote can still be right?", "a",
                 "Sequential voting counts second attempts, which may have corrected the first; parallel voting "
                 "only has first attempts.", ("sequential voting", "parallel voting", "neither")),
        Question("What does the ablation \"w/o Stage I\" train?", "a",
                 "Stage II alone, from the base model, for the same total number of steps (Table 4).",
                 ("Stage II alone from the base model", "Stage I alone", "naive multi-turn RL with the bonus")),
        Question("A test interval of SCoRe's Δ is [−0.8, +1.2] points; the paper reports +4.4. What does it "
                 "show?", "a",
                 "The interval excludes +4.4: an effect the size of the paper's did not happen in this setting, "
                 "while a small effect (or none) remains possible.",
                 ("an effect as large as the paper's is ruled out here", "the paper's result is reproduced",
                  "nothing: the interval includes 0")),
    ],
    "08": [
        Question("A program passes 9 of its problem's 10 tests. What is its binary reward?", 0.0,
                 "1 only when every test passes: a program failing one test is a wrong program."),
        Question("Why a binary reward rather than the fraction of tests passed?", "a",
                 "Partial credit pays programs that are still wrong (and special cases that pass easy tests); "
                 "correctness is what the paper rewards.",
                 ("partial credit pays programs that are still wrong", "fractions are slower to compute",
                  "the tests are random")),
        Question("A completion holds two ```python blocks. Which program is graded?", "a",
                 "The last one: the model's final program, e.g. after a draft.", ("the last", "the first", "both")),
        Question("Why do the tests run in a sandbox?", "a",
                 "A model's program is untrusted: it could read the answer key (the tests), write files, signal "
                 "processes or never stop; the sandbox bounds each of these.",
                 ("model-written programs are untrusted code", "to make them faster", "to allow network access")),
    ],
}
"""Lesson number -> its self-check questions, in order (numbered from 1)."""

LETTERS = "abcdefgh"


def shown(lesson: str, number_: int, q: Question) -> list[int]:
    """The order in which question `number_` of `lesson` shows its choices (indices into `q.choices`): a
    shuffle fixed by lesson and number, so the right answer is not always the first."""
    order = list(range(len(q.choices)))
    random.Random(f"{lesson}-{number_}").shuffle(order)
    return order


def right_letter(lesson: str, number_: int, q: Question) -> str:
    """The letter the right choice of question `number_` is shown under."""
    return LETTERS[shown(lesson, number_, q).index(LETTERS.index(str(q.answer)))]


def self_check_questions(lesson: str) -> str:
    """The lesson's self-check as Markdown: the questions, numbered, with their choices."""
    lines = ["**Self-check.** Answer in the cell below (a letter, or a number), then run it."]
    for i, q in enumerate(SELF_CHECKS[lesson], 1):
        lines.append(f"{i}. {q.text}")
        lines.extend(f"   - ({LETTERS[j]}) {q.choices[k]}" for j, k in enumerate(shown(lesson, i, q)))
    return "\n".join(lines)


def _judge(lesson: str, i: int, q: Question, given: Any) -> tuple[str, str]:
    """('✓' | '✗' | '·', what to print after the mark)."""
    if given is None:
        return "·", "not answered yet"
    if q.choices:
        letter = str(given).strip().strip("()").lower()
        if letter not in LETTERS[:len(q.choices)]:
            return "✗", f"answer with one of {', '.join(LETTERS[:len(q.choices)])}, got {short(repr(given), 30)}"
        return ("✓", "right") if letter == right_letter(lesson, i, q) else ("✗", f"not ({letter}): {q.why}")
    value = number(given)
    if value is None:
        return "✗", f"answer with a number, got {short(repr(given), 30)}"
    if math.isclose(value, float(q.answer), rel_tol=q.tol, abs_tol=q.tol):
        return "✓", "right"
    return "✗", f"not {value:g}: {q.why}"


def self_check(lesson: str, answers: Mapping[int, Any]) -> int:
    """Check `answers` ({question number: letter or number}, None for not answered) to the lesson's
    self-check; print one line per question and return how many are right. Never raises."""
    lesson = str(lesson)
    questions = SELF_CHECKS.get(lesson)
    if questions is None:
        print(f"✗ self-check: no questions for lesson {lesson!r} (lessons {', '.join(SELF_CHECKS)})")
        return 0
    if not isinstance(answers, Mapping):
        print(f"✗ self-check: give the answers as a dict {{question number: answer}}, got {short(repr(answers), 40)}")
        return 0
    right = 0
    for i, q in enumerate(questions, 1):
        mark, text = _judge(str(lesson), i, q, answers.get(i))
        right += mark == "✓"
        print(f"{mark} {i}: {text}")
    extra = sorted(k for k in answers if k not in range(1, len(questions) + 1))
    if extra:
        print(f"✗ self-check: no question {', '.join(map(str, extra))} (questions 1 to {len(questions)})")
    print(f"self-check {lesson}: {right} of {len(questions)} right")
    return right
