"""Quality check of the TPE searcher against random search and the peer TPEs.

    . .venv/bin/activate
    nice -n 10 python -m benchmarks.tpe.quality --seeds 10 --evals 100            # tpe and random
    nice -n 10 python -m benchmarks.tpe.quality --label uni --kwargs '{"multivariate": false}'

Runs ``tunestack.minimize(problem.fn, problem.space, searcher=..., n_trials=evals, seed=s)`` for seeds
``0 .. seeds-1``, stores best-so-far trajectories in ``benchmarks/tpe/results/tunestack.json`` under a
label (resumable), and prints the median final regret at 50 and 100 evaluations next to the peers of
``results/peers.json`` (see ``peers.py``) and the mean rank of every optimizer (rank per problem and
seed by regret at the last evaluation).  Problems without a known optimum (CASH) use the best value any
optimizer in the tables reached.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

import tunestack
from benchmarks.tpe.problems import check_problems

HERE = Path(__file__).parent / "results"
OURS = HERE / "tunestack.json"
PEERS = HERE / "peers.json"


def run(label: str, searcher: str, kwargs: dict, problems: dict, seeds: int, evals: int, fresh: bool) -> dict:
    results = json.loads(OURS.read_text()) if OURS.exists() else {}
    if fresh:
        results.pop(label, None)
    for name, prob in problems.items():
        slot = results.setdefault(label, {}).setdefault(name, {})
        for seed in range(seeds):
            if len(slot.get(str(seed), [])) >= evals:
                continue
            res = tunestack.minimize(prob.fn, prob.space, searcher=searcher, n_trials=evals, seed=seed, **kwargs)
            vals = [v if math.isfinite(v) else math.inf for v in res.values()]
            slot[str(seed)] = np.minimum.accumulate(vals).tolist()
        HERE.mkdir(parents=True, exist_ok=True)
        on_disk = json.loads(OURS.read_text()) if OURS.exists() else {}  # keep other runs' labels
        on_disk[label] = results[label]
        OURS.write_text(json.dumps(on_disk))
        results = {**on_disk, **results}
    return results


def table(all_results: dict, problems: dict, labels: list[str], seeds: int, evals: int) -> str:
    rows = ["| problem | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    ranks: dict[str, list[float]] = {lab: [] for lab in labels}
    logs: dict[str, list[float]] = {lab: [] for lab in labels}  # per problem: mean over seeds
    for name, prob in problems.items():
        runs = {lab: [all_results.get(lab, {}).get(name, {}).get(str(s)) for s in range(seeds)] for lab in labels}
        best = prob.optimum
        if best is None:
            best = min(min(r) for lab in labels for r in runs[lab] if r)
        for at in (50, evals) if evals > 50 else (evals,):
            cells = []
            for lab in labels:
                reg = [r[at - 1] - best for r in runs[lab] if r and len(r) >= at]
                cells.append(f"{np.median(reg):.3g}" if len(reg) == seeds else "-")
            rows.append(f"| {name} @{at} | " + " | ".join(cells) + " |")
        for lab in labels:
            reg = [r[evals - 1] - best for r in runs[lab] if r and len(r) >= evals]
            if len(reg) == seeds:
                logs[lab].append(float(np.mean(np.log10(np.maximum(reg, 1e-6)))))
        for s in range(seeds):
            finals = {lab: runs[lab][s][evals - 1] for lab in labels
                      if runs[lab][s] and len(runs[lab][s]) >= evals}
            if len(finals) == len(labels):
                order = _rank(list(finals.values()))
                for lab, rk in zip(finals, order):
                    ranks[lab].append(rk)
    rows.append("| mean rank @" + str(evals) + " | "
                + " | ".join(f"{np.mean(ranks[lab]):.2f}" if ranks[lab] else "-" for lab in labels) + " |")
    rows.append("| mean log10 regret @" + str(evals) + " | "
                + " | ".join(f"{np.mean(logs[lab]):.3f}" if len(logs[lab]) == len(problems) else "-"
                             for lab in labels) + " |")
    return "\n".join(rows)


def _rank(values: list[float]) -> list[float]:
    """Ranks 1..k with ties sharing their mean rank (values within 1e-9 count as ties)."""
    v = np.array(values)
    return [1.0 + float(np.sum(v < x - 1e-9)) + 0.5 * float(np.sum(np.abs(v - x) <= 1e-9) - 1) for x in v]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--problems", nargs="*")
    ap.add_argument("--label", default=None, help="name of this variant in the results (default: searcher)")
    ap.add_argument("--searcher", default="tpe")
    ap.add_argument("--kwargs", default="{}", help="JSON of searcher options")
    ap.add_argument("--compare", nargs="*", default=None, help="labels to tabulate (default: all stored)")
    ap.add_argument("--fresh", action="store_true", help="discard stored runs of this label first")
    ap.add_argument("--no-run", action="store_true")
    args = ap.parse_args()
    problems = check_problems(args.problems)
    label = args.label or args.searcher
    ours = {} if args.no_run else run(label, args.searcher, json.loads(args.kwargs), problems, args.seeds,
                                      args.evals, args.fresh)
    if args.no_run and OURS.exists():
        ours = json.loads(OURS.read_text())
    if not args.no_run and "random" not in ours:
        ours = run("random", "random", {}, problems, args.seeds, args.evals, False)
    peers = json.loads(PEERS.read_text()) if PEERS.exists() else {}
    merged = {**peers, **ours}
    labels = args.compare or list(merged)
    print(table(merged, problems, labels, args.seeds, args.evals))


if __name__ == "__main__":
    main()
