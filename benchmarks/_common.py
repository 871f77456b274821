"""Plumbing shared by the benchmark scripts: the offline setup and one measurement in its own interpreter.

This folder is not a package. A script that uses this module puts its own folder first on sys.path and
imports `_common` before anything else (see benchmarks/memory.py). This module imports only the
standard library, so `offline()` still runs before transformers, datasets or huggingface_hub load.

The child protocol: the parent runs `python <script> --child '<spec as JSON>'`; the child prints its
measurement with `send_result`, one line of `RESULT_MARK` followed by JSON, and `run_child` reads the last
such line of the child's stdout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Iterable

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}
"""Offline mode for the hub, datasets and transformers; no thread pool in the tokenizers library."""
RESULT_MARK = "BENCH_RESULT "
TAIL_LINES = 15
"""Lines of a failed child's output kept in its failure record."""


def offline() -> None:
    """Set each variable of `OFFLINE_ENV` that the environment does not already set; returns nothing.
    Call it before transformers, datasets or huggingface_hub are imported: they read these once."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def send_result(result: dict[str, Any]) -> None:
    """Print `result` as the child's result line (what `run_child` reads); returns nothing."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def run_child(script: str, spec: dict[str, Any], timeout_s: float, what: str) -> dict[str, Any]:
    """Run `python <script> --child <spec as JSON>` in a fresh interpreter; returns the measurement its last
    result line holds. When the child exits non-zero, prints no result line or runs past `timeout_s` (it is
    then killed), returns a failure record instead, {"what", "failed": True, "error", "output_tail"}, and
    prints the same to stderr."""
    cmd = [sys.executable, os.path.abspath(script), "--child", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        return _failure(what, f"timed out after {timeout_s:g} s", _text(err.stderr) or _text(err.stdout))
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        error = f"exit {proc.returncode}" if proc.returncode != 0 else "exit 0 without a result line"
        return _failure(what, error, proc.stderr or proc.stdout)
    return json.loads(lines[-1][len(RESULT_MARK):])


def failed(records: Iterable[dict[str, Any]]) -> list[str]:
    """The `what` of each failure record (from `run_child`) among `records`."""
    return [r["what"] for r in records if r.get("failed")]


def _failure(what: str, error: str, output: str) -> dict[str, Any]:
    """The failure record of measurement `what`, also printed to stderr; keeps the last lines of `output`."""
    tail = "\n".join(output.splitlines()[-TAIL_LINES:])
    print(f"measurement {what} failed ({error}):\n{tail}", file=sys.stderr, flush=True)
    return {"what": what, "failed": True, "error": error, "output_tail": tail}


def _text(output: str | bytes | None) -> str:
    """`output` as text: a timed-out child's captured output arrives as bytes even in text mode."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
