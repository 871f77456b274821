"""Re-grade every committed evaluation from its own episodes: the metrics of `scoreutils.metrics.episode_metrics`
(the outcome split into right, wrong and no answer, `n_distinct`, and the adjusted paired interval of Δ) are
written into each F.json that has its F.episodes.jsonl, keeping every other key (provenance, wall times, SFT
pair counts). Nothing is sampled or trained again: the episodes are the record. `make rejudge` runs it.

    python tools/rejudge.py            # every evaluation under results/
    python tools/rejudge.py --check    # exit 1 when any would change
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreutils.metrics import episode_metrics  # noqa: E402
from scoreutils.config import write_json  # noqa: E402
from scoreutils.runs.record import read_episodes  # noqa: E402


def evaluations(root: Path) -> list[Path]:
    """Every F.json under `root` beside its F.episodes.jsonl (checkpoint folders skipped)."""
    return sorted(p for p in root.rglob("*.json") if "checkpoints" not in p.relative_to(root).parts
                  and p.with_suffix(".episodes.jsonl").exists())


def rejudged(path: Path) -> dict | None:
    """The metrics of `path` recomputed from its episodes (other keys kept), or None when it holds no metrics."""
    old = json.loads(path.read_text())
    if not isinstance(old, dict) or "acc_t1" not in old:
        return None
    episodes = read_episodes(path.with_suffix(".episodes.jsonl"))
    if not episodes:
        return None
    fresh = episode_metrics(episodes)
    stale = {k for k in old if k.endswith("_ci") and k not in fresh and k[:-3] in fresh}  # an interval no longer kept
    new = {**{k: v for k, v in old.items() if k not in stale}, **fresh}
    return json.loads(json.dumps(new))  # as written: tuples -> lists


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT / "results")
    ap.add_argument("--check", action="store_true", help="only report; exit 1 when a file would change")
    args = ap.parse_args(argv)
    changed = 0
    for path in evaluations(args.root):
        new = rejudged(path)
        if new is None or new == json.loads(path.read_text()):
            continue
        changed += 1
        if not args.check:
            write_json(path, new)
    verb = "would change" if args.check else "re-graded"
    print(f"{changed} evaluation(s) {verb} under {args.root}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
