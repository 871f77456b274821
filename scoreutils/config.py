"""Configuration: the profiles (smoke / cpu / repro / gpu), the cache and results directories, and the
dependencies' known-harmless warnings (silenced by `silence_known_warnings`).

A profile fixes every size a notebook or CLI run uses: model, task, numbers of problems, lengths,
sampling temperature, LoRA shape and the RL hyperparameters (docs/paper.md#hyperparameters, scaled down).
`SCORE_PROFILE` (environment variable or notebook cell) picks one; `default_profile()` picks from the
hardware. Nothing else switches sizes.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import stat
import warnings
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable


STAGE2_REWARDS = ("bonus", "progress")
STAGE2_TURN1 = ("reward", "anchor")
STAGE2_FIELDS = ("alpha", "stage2_reward", "progress_gamma", "stage2_turn1", "stage2_samples_per_problem")
"""The fields only Stage II reads: two SCoRe runs that differ in these alone take the same Stage I steps."""
RL_FIELDS = ("temperature", "steps", "problems_per_step", "samples_per_problem", "lr", "alpha", "beta1", "beta2",
             "score_at_temperature", "normalize_advantages", "stage1_steps", *STAGE2_FIELDS[1:])
"""The fields only RL training reads (and, for `temperature`, a sampled evaluation: the parallel control, a scaling
run). SFT samples its traces at T = 1.0 and every evaluation is greedy, so a change to these leaves SFT runs and
greedy evaluations what they were (`unread_fields`)."""
RL_METHODS = ("naive_rl", "stage1", "stage2", "score")


def unread_fields(method: str) -> tuple[str, ...]:
    """Profile fields a run of `method` never reads, `method` as config.json or an evaluation's label names it
    ("star", "eval", "base", "control", "score-control", "base-scaling", "pair_sft-on_train", ...): none for an RL
    run or a run that samples an RL run's model ("score-control"); `RL_FIELDS` but `temperature` for the untrained
    model's sampled runs ("control", "base-scaling"); `RL_FIELDS` for SFT runs and greedy evaluations."""
    if method.split("-")[0] in RL_METHODS:
        return ()
    sampled = method == "control" or method.endswith("-scaling")
    return tuple(f for f in RL_FIELDS if not (sampled and f == "temperature"))


EARLIER_RECIPES: dict[str, tuple[dict[str, Any], ...]] = {
    "repro": ({"steps": 48, "stage1_steps": 8, "score_at_temperature": False},),
}
"""Earlier values of a named profile's RL fields, oldest first. repro's first RL recipe (results/repro_v1: 8 Stage I
steps of 48, the update scoring T = 0.4 samples at T = 1) gave way to the fair test's
(docs/reproduction.md#the-fair-test). A run made with an earlier recipe keeps its arm's name (`Run.recipe` says
which recipe) until runs of the current recipe replace it (`report.arms.load_results`, `recipe_of`)."""


def recipe_of(profile: dict[str, Any]) -> int | None:
    """Which recipe of its named profile the RL run of `profile` (a `Profile.to_dict()`) was made with: 0, the
    current one; k >= 1, the k-th of `EARLIER_RECIPES`; None, neither (the fields a recipe names match none of
    them). Fields no recipe names do not count: they name the arm (`report.arms.arm_name`)."""
    named = PROFILES.get(profile.get("name", ""))
    if named is None:
        return None
    defaults = profile_defaults()

    def value(field: str) -> Any:
        return json.loads(json.dumps(profile.get(field, defaults.get(field))))

    for k, recipe in enumerate(({f: getattr(named, f) for f in EARLIER_RECIPES.get(named.name, ({},))[0]},
                                *EARLIER_RECIPES.get(named.name, ()))):
        if all(value(f) == v for f, v in recipe.items()):
            return k
    return None


@dataclass(frozen=True)
class Profile:
    """All sizes of one run. Field docs say what each number controls."""

    name: str
    model: str = "bundled"
    """`bundled` (offline SmolLM2-135M-Instruct), a hub id, a local directory, or "tiny" (a small random model, for tests)."""
    quantization: str | None = None
    """None (full precision) or "4bit" (NF4, QLoRA)."""
    dtype: str = "float32"
    """Compute dtype: float32 on CPU; "auto" picks bfloat16 on a GPU that has it, float16 on one without (T4)."""
    autocast: str | None = None
    """None (compute in `dtype`) or "bfloat16": the training forward/backward under `models.autocast`
    (weights stay in `dtype`). results/bench_bf16.json measures speed and gradient agreement on CPU."""
    activation_checkpointing: bool = True
    """Recompute each layer's activations in backward (`train.enable_checkpointing`): less memory for ~17%
    more update time and the same gradients. The repro profile turns it off (its runs fit in memory)."""
    share_prompt: bool = True
    """RL update without activation checkpointing: the k samples of a problem share one forward of its
    prompt x1 (`logprobs.collate(share_prompt=True)`). Same values up to float rounding, less update time
    (docs/design.md); False runs the flat layout, as runs made before it existed did."""
    task: str = "arithmetic"
    """The data set: "arithmetic" (generated, offline), "humaneval" (offline), "math", "gsm8k" or "mbpp" (hub)."""
    level: int | tuple[int, ...] = 1
    """Arithmetic difficulty level(s), see `tasks.LEVELS`."""
    turn1_format: str = "final-answer"
    """Arithmetic only: the turn-1 answer-form line, a name in `prompts.ARITHMETIC_FORMATS` ("final-answer"
    asks for "The final answer is $answer$."; the repro profile's regime is chosen in docs/reproduction.md)."""
    n_eval: int = 200
    """Held-out problems for greedy evaluation (with `test_set` "all": ignored on the test split)."""
    test_set: str = "sample"
    """Which test problems an evaluation gets: "sample" (`n_eval` of them, drawn with the run's seed, so each seed
    sees its own draw) or "all" (arithmetic levels 0, 6, 7: every distinct test problem of the level, the same
    for every seed and arm, `tasks.every_arithmetic_problem`). Runs made before it existed sampled."""
    n_train: int = 2000
    """Training problems available to the sampler."""
    max_new_tokens: int = 48
    """Per attempt. Answers to arithmetic are short; MATH needs ~512."""
    batch_size: int = 16
    """Problems per generation batch."""
    temperature: float = 0.7
    """Sampling temperature for training traces (the paper uses 1.0; docs/design.md#profiles: why cpu uses less)."""
    # RL
    steps: int = 20
    """RL steps (each samples `problems_per_step` x `samples_per_problem` episodes and updates once)."""
    problems_per_step: int = 8
    """Training problems per RL step."""
    samples_per_problem: int = 4
    """k in the RLOO baseline; k >= 2."""
    micro_batch: int = 4
    """Episodes per forward/backward; the step accumulates gradients over micro-batches."""
    lr: float = 2e-4
    """RL learning rate (AdamW, constant)."""
    alpha: float = 10.0
    """Stage II bonus scale, b = alpha * (r2 - r1) (Eq. 4)."""
    beta1: float = 0.01
    """KL weight on every trained attempt."""
    beta2: float = 0.1
    """Stage I's strong KL weight on attempt 1 (Eq. 3)."""
    score_at_temperature: bool = False
    """RL update: score the sampled attempts with log softmax(logits / `temperature`) for the policy and the
    reference, the distribution the sampler draws from, so the policy gradient is on-policy and the logged
    k1 estimates KL(π_T‖π_ref,T). False (the default, and every run made before it existed): log π at T = 1,
    as the paper's equations read; below T = 1 its gradient is then off-policy and its k1 not a KL
    (docs/paper.md#the-kits-choices)."""
    normalize_advantages: bool = False
    """Divide each attempt's RLOO advantages by their group's std (`losses.normalized_rloo_advantages`)."""
    stage1_steps: int = 8
    """SCoRe schedule: Stage I steps before Stage II takes the rest."""
    # Stage II experiments (docs/reproduction.md#the-fair-test); the defaults are Eq. 4 as the paper writes it.
    stage2_reward: str = "bonus"
    """Stage II's rewards: "bonus", Eq. 4 (attempt 2 paid r2 + alpha (r2 - r1)); "progress", each attempt paid
    the discounted progress from it on (`losses.progress_loss`, at `progress_gamma`), not the paper's."""
    progress_gamma: float = 0.5
    """The discount of `stage2_reward` "progress": attempt 1's return is r1 + gamma (r2 - r1)."""
    stage2_turn1: str = "reward"
    """Attempt 1 in Stage II: "reward", as Eq. 4 (its own reward, beta1 KL); "anchor", as in Stage I (no
    policy gradient, beta2 KL), so that Stage II can only change attempt 2."""
    stage2_samples_per_problem: int = 0
    """k in Stage II's steps; 0: `samples_per_problem`. More samples per problem, more groups whose attempts
    change outcome (the bonus's only source of signal)."""
    eval_every: int = 10
    """Greedy held-out evaluation every this many RL steps (and after the last)."""
    save_every: int = 5
    """A checkpoint every this many RL steps (and after the last): a re-run resumes from the newest."""
    # LoRA
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scale numerator (the update is scaled by lora_alpha / lora_r)."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Module names that get a LoRA adapter."""
    # SFT
    sft_epochs: int = 2
    """Epochs over the STaR / Pair-SFT pairs."""
    sft_lr: float = 2e-4
    """SFT learning rate (AdamW, constant)."""
    sft_samples_per_problem: int = 4
    """Temperature-1.0 traces per problem to build STaR / Pair-SFT data from."""
    sft_problems: int = 64
    """Training problems whose traces make the STaR / Pair-SFT data."""
    seed: int = 0
    """Seeds sampling, the training problems' order, LoRA initialisation and (test_set "sample") the test draw."""

    def __post_init__(self) -> None:
        """Refuse sizes and rates no run could use, with one line naming the field."""
        for name in ("n_eval", "n_train", "max_new_tokens", "batch_size", "problems_per_step", "micro_batch",
                     "sft_samples_per_problem", "sft_problems", "eval_every", "save_every", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("steps", "stage1_steps", "sft_epochs", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0, not {getattr(self, name)}")
        if any(level < 0 for level in (self.level if isinstance(self.level, tuple) else (self.level,))):
            raise ValueError(f"level must be at least 0, not {self.level}")
        if self.samples_per_problem < 2:
            raise ValueError(f"samples_per_problem must be at least 2 (RLOO), not {self.samples_per_problem}")
        if self.stage2_samples_per_problem == 1 or self.stage2_samples_per_problem < 0:
            raise ValueError("stage2_samples_per_problem must be 0 (samples_per_problem) or at least 2 (RLOO), "
                             f"not {self.stage2_samples_per_problem}")
        for name, choices in (("stage2_reward", STAGE2_REWARDS), ("stage2_turn1", STAGE2_TURN1)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        if not 0.0 <= self.progress_gamma <= 1.0:
            raise ValueError(f"progress_gamma must be between 0 and 1, not {self.progress_gamma}")
        for name in ("lr", "sft_lr", "alpha", "beta1", "beta2", "temperature", "lora_alpha"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value}")
        if self.lr <= 0 or self.sft_lr <= 0:
            raise ValueError("lr and sft_lr must be > 0")
        if self.score_at_temperature and self.temperature <= 0:
            raise ValueError("score_at_temperature needs a sampling temperature > 0")
        if self.test_set not in ("sample", "all"):
            raise ValueError(f"test_set must be 'sample' or 'all', not {self.test_set!r}")
        from .prompts import ARITHMETIC_FORMATS  # imports nothing of the package: safe while profiles are built

        if self.turn1_format not in ARITHMETIC_FORMATS:
            raise ValueError(f"turn1_format must be one of {', '.join(ARITHMETIC_FORMATS)}, not {self.turn1_format!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lora_spec(self) -> dict[str, Any]:
        """The LoRA adapter's shape, as `models.load_policy(lora=...)` takes it."""
        return {"r": self.lora_r, "lora_alpha": self.lora_alpha, "target_modules": list(self.lora_targets)}

    def samples_in(self, stage: str) -> int:
        """k, the samples per problem, in a step of `stage` ("naive", "stage1", "stage2")."""
        if stage == "stage2" and self.stage2_samples_per_problem:
            return self.stage2_samples_per_problem
        return self.samples_per_problem

    def replace(self, **changes: Any) -> "Profile":
        """A copy with some fields changed, validated as a new profile (unknown names raise)."""
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(name="smoke", level=0, n_eval=8, sft_problems=8, n_train=32, max_new_tokens=16, batch_size=8, steps=2,
                     problems_per_step=2, samples_per_problem=2, micro_batch=4, stage1_steps=1,
                     eval_every=2, save_every=1, sft_epochs=1, sft_samples_per_problem=2, lora_r=4,
                     lora_alpha=8),
    # cpu: sized for signal per second on 2 cores (measured: ~33 s to sample 32 episodes of 40+40 tokens,
    # ~1.6 s per episode for reference + policy forward + backward). Level 0 keeps sampled accuracy near 20%.
    "cpu": Profile(name="cpu", level=0, n_eval=100, n_train=400, max_new_tokens=40, batch_size=16, steps=16,
                   problems_per_step=4, samples_per_problem=4, micro_batch=8, stage1_steps=4, eval_every=8,
                   save_every=4),
    # repro: the regime chosen on validation problems in docs/reproduction.md (`make reproduce`), sized for 2 cores
    # and one thread per run. Its RL recipe is the fair test's (tools/recipe_search.py `fair_recipe`, its rule
    # fixed before the runs; results/recipe_search.json): α = 10 and plain RLOO advantages (rounds 1-4), the
    # update on-policy (score_at_temperature), Stage I for 48 steps then Stage II for 48. The first recipe (8 Stage
    # I steps of 48, off-policy) is `EARLIER_RECIPES`' (results/repro_v1). Measured: ~67 s per RL step of 32
    # episodes, one thread. Temperature 0.4: at 0.7 a quarter of sampled second attempts hold no answer. Evaluated
    # on the shared test set (all 756 level-6 test problems); SFT data from the traces of all 600 training problems
    # (128 gave Pair-SFT 160-235 pairs per seed and STaR 3-9: too few to test).
    "repro": Profile(name="repro", level=6, turn1_format="brief-boxed", n_eval=500, test_set="all", n_train=600, max_new_tokens=40,
                     batch_size=16, temperature=0.4, steps=96, problems_per_step=8, samples_per_problem=4,
                     micro_batch=8, stage1_steps=48, score_at_temperature=True, eval_every=48, save_every=4,
                     sft_problems=600, activation_checkpointing=False),
    # gpu: sized so that each lesson's training fits 45 min of a free Colab T4. ESTIMATE, NOT A MEASUREMENT
    # (benchmarks/gpu_profile.py measures it; results/bench_gpu.json is absent until it has run on a GPU).
    # Assumed: one decode step of a 32-row batch of Qwen2.5-0.5B in 4-bit + LoRA takes 50 ms on a T4.
    # RL step: 8 problems x 4 samples = 32 episodes = one batch x 2 x 384 decode steps x 50 ms = 38 s, plus
    # ~10 s of update (32 x ~930 tokens x ~5 forward-equivalents x 1 GFLOP/token at ~16 of the T4's 65 fp16
    # TFLOPS) = ~48 s; a run: 16 steps x 48 s + eval of 64 problems (2 batches x 768 x 50 ms = 77 s) = ~14 min.
    # Lesson 07 trains three runs (+ the base eval): ~44 min; 06 two: ~30 min; 02 four SFT runs of 32 x 4
    # traces: ~21 min. (The old sizes, 300 steps x 64 episodes x 2 x 512 tokens, come to ~10 h per run.)
    "gpu": Profile(name="gpu", model="Qwen/Qwen2.5-0.5B-Instruct", quantization="4bit", dtype="auto",
                   task="math", n_eval=64, n_train=7500, max_new_tokens=384, batch_size=32,
                   temperature=1.0, steps=16, problems_per_step=8, samples_per_problem=4, micro_batch=4,
                   lr=1e-5, stage1_steps=4, eval_every=8, save_every=4, sft_problems=32,
                   lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                 "down_proj")),
}


def profile_defaults() -> dict[str, Any]:
    """Every `Profile` field's default value (what a run made before a field existed implicitly used)."""
    return {f.name: f.default for f in fields(Profile) if f.default is not MISSING}


def default_profile() -> str:
    """`SCORE_PROFILE` if set, else "gpu" when CUDA is available, else "cpu"."""
    name = os.environ.get("SCORE_PROFILE")
    if name:
        return name
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    """The named profile (default: `default_profile()`), with optional field overrides."""
    name = name or default_profile()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name].replace(**overrides) if overrides else PROFILES[name]


def cache_dir() -> Path:
    """Where converted weights are cached: $SCORE_CACHE, else ~/.cache/scoreutils."""
    path = Path(os.environ.get("SCORE_CACHE", Path.home() / ".cache" / "scoreutils"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_root() -> Path | None:
    """Where results live: $SCORE_RESULTS if set, else the `results/` of the working directory or of its
    parent (notebooks run from notebooks/), else None."""
    if os.environ.get("SCORE_RESULTS"):
        return Path(os.environ["SCORE_RESULTS"])
    here = Path.cwd()
    return next((c for c in (here / "results", here.parent / "results") if c.is_dir()), None)



# ---------------------------------------------------------------------------------------------
# Known-harmless warnings of the dependencies
# ---------------------------------------------------------------------------------------------
_BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
_BNB_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropMessage(logging.Filter):
    """Drops log records whose message starts with one known text; lets every other record through."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence_known_warnings() -> None:
    """Silence the known-harmless warnings below, each by its exact message (idempotent); `scoreutils/__init__.py`
    calls it first, before the dependencies load. Nothing else is hidden: the kit's own warnings say something
    the user should read.

    - tqdm's `TqdmWarning: IProgress not found` when `tqdm.auto` is imported in Jupyter without ipywidgets:
      tqdm then falls back to its plain text bar, which is what the kit wants on a CPU machine.
    - transformers' `FutureWarning: is_gradient_checkpointing is deprecated`, raised when peft (0.21) reads the
      old property while wrapping a model in a LoRA adapter; nothing to change on the kit's side.
    - bitsandbytes' log line "Failed to load CPU gemm_4bit_forward from kernels-community" on CPUs with
      AVX512-BF16 when the optional `kernels` package is absent: bitsandbytes falls back to its own CPU kernel.
    """
    from tqdm.std import TqdmWarning  # tqdm.std loads no notebook machinery

    warnings.filterwarnings("ignore", message=r"IProgress not found\. Please update jupyter and ipywidgets",
                            category=TqdmWarning)
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    logger = logging.getLogger(_BNB_CPU_LOGGER)
    if not any(isinstance(f, _DropMessage) for f in logger.filters):
        logger.addFilter(_DropMessage(_BNB_MESSAGE))


# ---------------------------------------------------------------------------------------------
# Files: every JSON, JSONL and log of the kit is written beside and renamed (`write_atomic`), so a crash
# never leaves half a file, and never over a device or a FIFO (`refuse_special_file`).
# ---------------------------------------------------------------------------------------------
_SPECIAL = ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO (named pipe)"),
            (stat.S_ISSOCK, "socket"))


def refuse_special_file(*paths: Path, action: str = "write over it") -> None:
    """Raise ValueError (one line naming the path) when one of `paths` exists and is neither a regular file nor
    a folder: a device such as /dev/null, a FIFO, a socket (a symbolic link counts as what it points to).
    A write beside and rename would replace such a node (as root, even /dev/null), and a plain write to a
    FIFO blocks. A path that does not exist, or cannot be examined, passes: its write says what is wrong."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = next((name for test, name in _SPECIAL if test(mode)), "special file")
            raise ValueError(f"{path} is a {kind}, not a regular file or folder: refusing to {action} "
                             "(choose another path)")


def write_atomic(path: Path, text: str) -> None:
    """`text` into `path`: written beside (`path` + ".tmp") and renamed, its folder made if missing; a `path`
    (or its .tmp) that is neither a regular file nor a folder is refused first (ValueError)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    refuse_special_file(path, tmp)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    """`obj` as indented JSON, by `write_atomic`."""
    write_atomic(path, json.dumps(obj, indent=2))


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    """One JSON value per line, by `write_atomic`."""
    write_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of the JSONL file `path` (empty when it does not exist); see `jsonl_lines`."""
    return [row for _, row in jsonl_lines(Path(path))]


def jsonl_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(line, row) for every non-blank line of the JSONL file `path` (a log, episodes). A malformed LAST row is what a crash or a
    full disk mid-write leaves: it is dropped with a warning naming the file and line. A malformed row before
    the last is an error (ValueError naming the file and line): the file was damaged some other way."""
    if not path.exists():
        return []
    refuse_special_file(path, action="read it as JSON lines")
    lines = [(i, line) for i, line in enumerate(path.read_text().split("\n"), 1) if line.strip()]
    rows = []
    for k, (i, line) in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            problem = f"is not valid JSON ({err.msg})"
        else:
            if isinstance(row, dict):
                rows.append((line, row))
                continue
            problem = f"is a JSON {type(row).__name__}, not an object"
        if k < len(lines) - 1:
            raise ValueError(f"{path}: line {i} {problem}; only a last row cut short by a crash is skipped: "
                             "repair or delete that line")
        warnings.warn(f"{path}: line {i} (the last) {problem}: a row cut short by a crash mid-write; "
                      "ignoring it", stacklevel=3)
    return rows
