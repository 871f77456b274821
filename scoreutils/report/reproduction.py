"""The runs of `make reproduce` as lessons and the report show them: where they live, one pooled row per arm,
and the box that ends a lesson with the reproduction's numbers and verdicts for that lesson's methods.

`make reproduce` (tools/reproduce.py) writes results/repro/<run>/seed<k>/; every lesson reads what is there,
however far it got, and says how many seeds each arm has. Nothing here trains or evaluates. Not here: the
statistics (`metrics.py`, `verdicts.arm_delta`), the rules of the verdicts (`verdicts.py`), the lessons' own
runs (`lessons.closing_box`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..config import results_root
from ..metrics import episode_metrics
from .arms import lesson_results, load_scaling, load_train_evaluations
from .verdicts import TARGET, summary, target, verdicts

if TYPE_CHECKING:
    from ..runs.record import Run

PROFILE = "repro"
SEEDS = 3
"""Seeds per run of `make reproduce`, but for `SEEDS_OF`."""
SEEDS_OF = {"score": 5, "stage1": 5, "naive_rl": 5}
"""The arms `make reproduce` makes at more seeds (tools/reproduce.py's MORE_SEEDS; a test keeps them equal)."""
LESSON_ARMS: dict[str, tuple[str, ...]] = {
    "01": ("base", "Self-Refine", "control"),
    "02": ("base", "star", "star_plus", "pair_sft", "pair_sft_plus"),
    "03": ("base", "star", "star_plus", "pair_sft", "pair_sft_plus"),
    "04": ("base", "naive_rl"),
    "05": ("base", "stage1"),
    "06": ("base", "stage2", "score", "score[alpha=0]"),
    "07": ("base", "control", "score", "score[alpha=0]", "stage2", "stage1", "naive_rl", "score-control"),
}
"""Lesson number -> the arms of the reproduction it shows (names as `verdicts.load_results` gives them); its
box judges the lesson's claims (`lessons.LESSON_CLAIMS`) on them."""
COLUMNS = ("method", "seeds", "problems (distinct)", "Acc@t1", "Acc@t2", "Δ [95%, problems]", "Δ [95%, seeds]",
           "Δ per seed", "right→wrong / right→none", "wrong→right / none→right", "different answer / gave up at t2",
           "no answer t1 / t2")


def repro_root() -> Path:
    """The results folder (`config.results_root()`, else the repository's next to this package), whose repro-profile
    runs the boxes read: results/repro, and results/repro_v1 for runs not yet remade on the shared test set. (Not
    `runs.results_dir`, which sends the smoke profile to a temporary folder.)"""
    return results_root() or Path(__file__).resolve().parents[2] / "results"


def percent(x: float | None) -> str:
    """A rate as a table cell: 0.123 -> "12.3", None -> "–"."""
    return "–" if x is None else f"{100 * x:.1f}"


def arm_row(arm: str, runs: Sequence[Run]) -> list[str]:
    """One arm's cells (`COLUMNS`), in %: its episodes pooled over seeds, Δ with both intervals, the outcome split."""
    m = episode_metrics([e for r in runs for e in r.episodes])
    row = summary({arm: runs})[0]
    per_seed = ", ".join(f"{100 * d:+.1f}" for d in row["delta_per_seed"])
    lo, hi = row["delta_ci"]
    seeds = row["delta_ci_seeds"]
    pair = lambda a, b: f"{percent(m[a])} / {percent(m[b])}"  # noqa: E731
    return [arm, str(len(runs)), f"{row['n_eval']} ({row['n_distinct']})", percent(m["acc_t1"]), percent(m["acc_t2"]),
            f"{100 * m['delta']:+.1f} [{100 * lo:.1f}, {100 * hi:.1f}]",
            f"[{100 * seeds[0]:.1f}, {100 * seeds[1]:.1f}]" if seeds else "–", per_seed,
            pair("right_to_wrong", "right_to_none"), pair("wrong_to_right", "none_to_right"),
            pair("changed_answer_answered", "gave_up_t2"), pair("no_answer_t1", "no_answer_t2")]


def arm_table(results: Mapping[str, Sequence[Run]], arms: Sequence[str] | None = None) -> str:
    """Markdown table of `arms` (default: all) that have runs, one pooled row each."""
    names = [a for a in (arms if arms is not None else results) if results.get(a)]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(arm_row(a, results[a])) + " |" for a in names]
    return "\n".join(lines)


def reproduction_box(lesson: str, root: Path | None = None,
                     results: Mapping[str, Sequence[Run]] | None = None) -> str:
    """Markdown for the end of lesson `lesson`: the reproduction's runs of its methods pooled over seeds, with
    how many of their seeds are finished, and the verdicts of its claims on them. Says so when none is there."""
    root = Path(root) if root is not None else repro_root()
    arms = LESSON_ARMS.get(lesson, ())
    if results is None:
        results = lesson_results(root, arms, PROFILE) if root.is_dir() else {}
    head = [f"### The reproduction's numbers for this lesson (`make reproduce`: repro profile, up to "
            f"{max(SEEDS_OF.get(a, SEEDS) for a in arms) if arms else SEEDS} seeds)", ""]
    present = [a for a in arms if results.get(a)]
    if not present:
        return "\n".join(head + [f"No run of this lesson's methods ({', '.join(arms) or 'none'}) is finished under "
                                 "results/repro yet: `make reproduce` makes them, resuming where it stopped."])
    missing = [a for a in arms if not results.get(a)]
    seeds = ", ".join(f"{a} {len(results[a])} of {SEEDS_OF.get(a, SEEDS)}" for a in present)
    earlier = [a for a in present if any(r.recipe for r in results[a])]
    out = head + [f"Held-out test problems, in %, greedy (the controls: sampled at the training temperature, "
                  f"attempt 2 a fresh first attempt); seeds finished: {seeds}"
                  + (f"; not yet run: {', '.join(missing)}" if missing else "") + ". A broken right answer is split into right→wrong and right→none (no answer); \"different answer\" "
                  "counts pairs where both attempts answer." + (recipe_note(earlier) if earlier else ""), "",
                  arm_table(results, present), ""]
    from .lessons import LESSON_CLAIMS, MARKS

    wanted = LESSON_CLAIMS.get(lesson, ())
    extra = (load_scaling(root, PROFILE), load_train_evaluations(root, PROFILE)) if root.is_dir() else (None, None)
    judged = verdicts(results, *extra, ids=wanted) if wanted else []  # as README's: with the scaling and
    # training-problem runs
    if judged:

        out += ["**Verdicts on the reproduction's runs** (`scoreutils.report.verdicts`; a claim needing a run not yet made "
                "is inconclusive):", ""]
        out += [f"- {MARKS.get(v['verdict'], v['verdict'])} — {v['claim']}. *{v['evidence']}*" for v in judged]
        if set(TARGET) <= set(wanted):
            out += ["", target(judged)]
    return "\n".join(out)



def recipe_note(arms: Sequence[str]) -> str:
    """A sentence saying that `arms` are shown with the RL runs of the repro profile's first recipe
    (`config.EARLIER_RECIPES`, results/repro_v1) until `make reproduce` remakes them with the current one."""
    from ..config import EARLIER_RECIPES, PROFILES

    now, old = PROFILES[PROFILE], {**PROFILES[PROFILE].to_dict(), **EARLIER_RECIPES[PROFILE][0]}

    def words(steps: int, stage1: int, on_policy: bool) -> str:
        return f"{steps} steps, Stage I for {stage1}, " + ("on-policy" if on_policy else "off-policy")

    return (f" {', '.join(arms)}: the runs of the first RL recipe (results/repro_v1: "
            f"{words(old['steps'], old['stage1_steps'], old['score_at_temperature'])}), shown until `make reproduce` "
            f"remakes them with the current one ({words(now.steps, now.stage1_steps, now.score_at_temperature)}).")


SEED_KEYS = ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i")
"""The rates whose table intervals also count between-seed variance (`pooled_metrics`)."""


def pooled_metrics(runs: Sequence[Run]) -> dict:
    """One arm's metrics over its seeds, as `metrics_table` and `plots.plot_corrections` take them: every rate over
    the pooled episodes, and for the rates of `SEED_KEYS` an interval that counts both sources of variance: the
    wider of the interval over problems (the pooled episodes) and, with two seeds or more, the t-interval of the
    per-seed values. "n" is the number of episodes, "n_seeds" the seeds."""
    from ..metrics import seed_interval

    m = episode_metrics([e for r in runs for e in r.episodes])
    per_seed = [r.metrics if all(k in r.metrics for k in SEED_KEYS) else episode_metrics(r.episodes) for r in runs]
    for key in SEED_KEYS:
        spread = seed_interval([s[key] for s in per_seed])
        if spread is not None:
            lo, hi = m[f"{key}_ci"]
            floor = -1.0 if key == "delta" else 0.0  # a rate lies in [0, 1], a Δ in [-1, 1]
            m[f"{key}_ci"] = [max(floor, min(lo, spread[0])), min(1.0, max(hi, spread[1]))]
    m["n_seeds"] = len(runs)
    return m


def lesson_runs(arms: Mapping[str, str], own: Mapping[str, Run], profile: object, shipped: bool,
                root: Path | None = None, train_arms: Mapping[str, str] | None = None
                ) -> tuple[dict[str, list[Run]], str]:
    """What a lesson's results show, and one sentence saying which runs they are. With `shipped` (the lesson's
    TRAIN = False) and every arm of `arms` (shown name -> arm of `verdicts.load_results`) finished in the
    reproduction, the reproduction's runs: every finished seed, read from results/, the powered runs.
    `train_arms` (shown name -> arm) are evaluations on training problems (`arms.load_train_evaluations`) the
    lesson needs too. Otherwise (TRAIN = True, the smoke profile, or any arm not yet made) the lesson's own
    runs `own` (shown name -> Run, for every name of both), one seed each: never a mix of the two. Returns
    (shown name -> runs, the sentence)."""
    from .arms import load_train_evaluations

    name = getattr(profile, "name", "")
    root = Path(root) if root is not None else repro_root()
    use = shipped and name != "smoke" and root.is_dir()
    results = lesson_results(root, list(arms.values()), PROFILE) if use else {}
    on_train = load_train_evaluations(root, PROFILE) if use and train_arms else {}
    missing = [a for a in arms.values() if not results.get(a)]
    missing += [f"{a} on training problems" for a in (train_arms or {}).values() if not on_train.get(a)]
    if shipped and name != "smoke" and not missing:
        shown = {shown_name: list(results[arm]) for shown_name, arm in arms.items()}
        shown.update({shown_name: list(on_train[arm]) for shown_name, arm in (train_arms or {}).items()})
        def problems(runs: Sequence[Run]) -> str:
            sizes = sorted({len(r.episodes) for r in runs})
            distinct = len({(e.problem.prompt, e.problem.reference) for r in runs for e in r.episodes})
            each = "/".join(str(s) for s in sizes)
            return f"{each} problems{'' if distinct == max(sizes) else f' per seed ({distinct} distinct)'}"

        seeds = "; ".join(f"{shown_name}: {len(runs)} seed{'s' if len(runs) > 1 else ''}, {problems(runs)}"
                          for shown_name, runs in shown.items())
        text = (f"**Shown: the reproduction's runs** (`make reproduce`, repro profile: the bundled SmolLM2-135M on "
                f"level-6 arithmetic, held-out problems, greedy; {seeds}), read from results/, not re-run here. A "
                "method's seeds are pooled; its intervals are the wider of the interval over problems and the one "
                "over seeds. `TRAIN = True` trains this lesson's cpu-sized runs instead (minutes on a laptop) and "
                "shows them.")
        return shown, text
    why = ("TRAIN = True" if not shipped else "the smoke profile (tests)" if name == "smoke" else
           f"results/repro has no run of {', '.join(missing)}")
    text = (f"**Shown: this lesson's own runs** ({name} profile, one seed each; {why}). "
            + ("" if not shipped or name == "smoke" else "With every run it needs under results/repro, the lesson "
               "would show the reproduction's instead (several seeds, more problems)."))
    return {shown_name: [run] for shown_name, run in own.items()}, text


def runs_label(shown: Mapping[str, Sequence[Run]]) -> str:
    """Figure titles' words for the runs `lesson_runs` chose: "<model> on <task> (<profile> profile)"."""
    from .plots import model_label

    prof = next(r for runs in shown.values() for r in runs).metrics.get("profile") or {}
    return f"{model_label(prof.get('model', 'bundled'))} on {prof.get('task', 'arithmetic')} ({prof.get('name', '?')} profile)"
