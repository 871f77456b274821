"""The record of a run and its episodes on disk: `Run` (what an evaluation or training run produced, as the
pipeline returns it and the verdicts read it), `write_episodes` / `read_episodes` (one JSON object per line,
`Episode.to_dict`) and `load_run` (a finished run read back).

On disk an evaluation is F.json + F.episodes.jsonl; a training run is a folder holding config.json, log.jsonl,
checkpoints/, metrics.json and metrics.episodes.jsonl.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config import jsonl_lines, read_jsonl, write_jsonl
from ..rollout import Episode


@dataclass
class Run:
    """One finished evaluation or training run, as the pipeline returns it and the verdicts read it."""

    name: str
    """The method or evaluation label; where the verdicts group runs, the arm ("score[alpha=0]")."""
    path: Path | None
    metrics: dict[str, Any]
    episodes: list[Episode]
    log: list[dict[str, Any]] = field(default_factory=list)
    loaded: bool = False
    """True when read from disk, False when computed by this call."""
    seed: int | None = None
    """The run's seed; None: the seed of the profile in `metrics` (0 when it has none)."""
    recipe: int = 0
    """The RL recipe of its profile it was made with: 0 the current one, k the k-th earlier one
    (`config.EARLIER_RECIPES`)."""

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = int(self.metrics.get("profile", {}).get("seed", 0))

    @property
    def r1(self) -> list[float]:
        return [e.r1 for e in self.episodes]

    @property
    def r2(self) -> list[float]:
        return [e.r2 for e in self.episodes]


def write_episodes(path: Path, episodes: Sequence[Episode]) -> None:
    """One JSON object per line (`Episode.to_dict`), by `config.write_atomic`: never half a file, never over a
    device or a FIFO (ValueError)."""
    write_jsonl(path, (e.to_dict() for e in episodes))


def read_episodes(path: Path) -> list[Episode]:
    """The episodes `write_episodes` wrote (empty when the file does not exist)."""
    return [Episode.from_dict(row) for _, row in jsonl_lines(Path(path))]


def load_run(path: Path, name: str | None = None) -> Run:
    """A finished training run (a folder with metrics.json) or evaluation (F.json) read back from disk."""
    path = Path(path)
    if path.is_dir():
        metrics = json.loads((path / "metrics.json").read_text())
        return Run(name or path.name, path, metrics, read_episodes(path / "metrics.episodes.jsonl"),
                   read_jsonl(path / "log.jsonl"), loaded=True)
    return Run(name or path.stem, path, json.loads(path.read_text()),
               read_episodes(path.with_suffix(".episodes.jsonl")), loaded=True)
