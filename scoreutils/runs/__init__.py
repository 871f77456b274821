"""Runs: making, finding and reusing the kit's evaluations and training runs.

- `pipeline`: evaluation, training, the parallel-sampling control and the demo, as functions that return `Run`s;
- `store`: where runs live, and "load the run already made, else make it" (what the lessons call);
- `lesson_setup`: a lesson's first cells (this machine, the lesson's profile and cost, where its runs live).

The names a lesson imports are here: `from scoreutils.runs import load_or_eval, load_or_train`.
"""
from .store import (SCALING_SIZES, MissingRun, forbid_making, load_or_eval, load_or_scale, load_or_train,
                    results_dir, trained_policy)

__all__ = ["SCALING_SIZES", "MissingRun", "forbid_making", "load_or_eval", "load_or_scale", "load_or_train",
           "results_dir", "trained_policy"]
