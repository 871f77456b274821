"""The paper's numbers, in one place: Kumar et al. (2024), "Training Language Models to Self-Correct via
Reinforcement Learning", arXiv 2409.12917 (notes in docs/paper.md).

Rows are in % (t1, t2, Δ, Δi→c, Δc→i) unless said otherwise. The command line, `tools/report.py` and the
lessons read them from here; nothing else types them. Not here: the prompts (`prompts.py`).
"""
from __future__ import annotations

ARXIV = "https://arxiv.org/abs/2409.12917"

MATH500_N = 500
"""Problems in MATH500, the evaluation set of Tables 1, 2 and 4."""
HUMANEVAL_N = 164

TABLE_MATH: dict[str, tuple[float, float, float, float, float]] = {
    "base": (52.6, 41.4, -11.2, 4.6, 15.8),
    "Self-Refine": (52.8, 51.8, -1.0, 3.2, 4.2),
    "STaR D": (55.4, 41.2, -14.2, 5.4, 19.6),
    "STaR D+": (53.6, 54.0, 0.4, 2.6, 2.2),
    "Pair-SFT D": (52.4, 54.2, 1.8, 5.4, 3.6),
    "Pair-SFT D+": (55.0, 55.0, 0.0, 0.0, 0.0),
    "SCoRe": (60.0, 64.4, 4.4, 5.8, 1.4),
}
"""Tables 1 and 2: MATH500, Gemini 1.5 Flash; (Acc@t1, Acc@t2, Δ, Δi→c, Δc→i)."""

TABLE_HUMANEVAL: dict[str, tuple[float, float, float, float, float]] = {
    "base": (53.7, 56.7, 3.0, 7.9, 4.9),
    "Self-Refine": (53.7, 52.5, -1.2, 9.8, 11.0),
    "Pair-SFT": (56.1, 54.3, -1.8, 4.3, 6.1),
    "SCoRe": (52.4, 64.6, 12.2, 15.2, 3.0),
}
"""Table 3: HumanEval, Gemini 1.0 Pro; (Acc@t1, Acc@t2, Δ, Δi→c, Δc→i)."""

MBPP_R = {"base": 47.3, "Self-Refine": 30.7, "Pair-SFT": 59.8, "SCoRe": 60.6}
"""Table 3's MBPP-R column: repairing given wrong first attempts, in %."""

TABLE_ABLATIONS: dict[str, tuple[float, float, float]] = {
    "SCoRe": (60.0, 64.4, 4.4),
    "w/o multi-turn training": (61.8, 59.4, -2.4),
    "w/o Stage I": (59.2, 61.4, 2.2),
    "w/o reward shaping": (60.0, 62.6, 2.6),
    "STaR instead of REINFORCE in Stage II": (56.2, 58.4, 2.2),
    "w/o online turn-1 samples": (60.4, 60.6, 0.2),
}
"""Table 4: ablations on MATH500; (Acc@t1, Acc@t2, Δ)."""

HYPERPARAMETERS = {
    "MATH": {"model": "Gemini 1.5 Flash", "optimizer": "Adam", "lr": 5e-6, "steps": 3000, "batch": 512,
             "temperature": 1.0, "alpha": 10.0, "beta1": 0.01, "beta2": 0.1},
    "MBPP": {"model": "Gemini 1.0 Pro", "optimizer": "Adam", "lr": 1e-5, "steps": 1500, "batch": 128,
             "temperature": 1.0, "alpha": 10.0, "beta1": 0.01, "beta2": 0.25},
}
"""Table 5. Not given there: samples per prompt, maximum length, lr schedule, KL estimator."""

INFERENCE_SCALING = {"samples": 32, "temperature": 0.7, "parallel_gain": 7.4, "sequential_gain": 10.5}
"""Figure 1 (right): majority voting over 32 parallel samples (+7.4%) vs 16 samples each followed by one
self-correction (+10.5%), gains over the single-sample accuracy, in %."""

THREE_ATTEMPTS_2B = {"base": (16.8, 16.8, 17.0), "SCoRe": (23.0, 24.0, 24.0)}
"""Appendix (ICLR version), Gemma-2-2B on MATH: accuracy at attempts 1, 2 and 3, in %: the paper's one run at a
small scale, where SCoRe's gain shows at attempt 1 more than between the attempts."""
