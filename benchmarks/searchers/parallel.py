"""Batch (parallel) asking vs one at a time, at the same number of evaluations.

On the continuous suite, each tunestack searcher runs ``--evals`` (100) evaluations twice per seed:
``sequential`` (ask, tell, ask, tell ...) and ``batch`` (``--batch`` = 8 pending asks, then their 8
tells, as 8 parallel workers would).  The report gives the median final regret of each mode and their
ratio ``median(batch) / median(sequential)`` per problem (target: within 1.5x), and the geometric mean
of the ratios over the suite.  Runs are cached under ``_work/parallel_cache`` like :mod:`.run`'s::

    nice -n 10 .venv/bin/python benchmarks/searchers/parallel.py          # or .bench-venv/bin/python
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.searchers.problems import Problem, continuous_problems  # noqa: E402

CACHE = HERE / "_work" / "parallel_cache"
SEARCHERS = ("rfbo", "tpe", "cmaes")
TARGET = 1.5


def run_mode(name: str, problem: Problem, seed: int, n: int, batch: int) -> list[float]:
    """Values of ``n`` evaluations, asking ``batch`` configurations before telling any of them."""
    from tunestack.searchers import create

    s = create(name, problem.space, mode="min", seed=seed)
    values: list[float] = []
    while len(values) < n:
        sugs = [s.ask() for _ in range(min(batch, n - len(values)))]
        for sug in sugs:
            v = float(problem.fn(sug.config))
            s.tell(sug.id, v)
            values.append(v)
    return values


def _task(args: tuple[str, str, int, int, int, str]) -> dict:
    name, pname, seed, n, batch, fp = args
    path = CACHE / f"{name}__{pname}__s{seed}__n{n}__b{batch}.json"
    if path.exists():
        rec = json.loads(path.read_text())
        if rec.get("fingerprint") == fp:
            return rec
    problem = continuous_problems()[pname]
    t0 = time.perf_counter()
    values = run_mode(name, problem, seed, n, batch)
    rec = {"searcher": name, "problem": pname, "seed": seed, "n": n, "batch": batch, "fingerprint": fp,
           "wall_s": round(time.perf_counter() - t0, 3), "final_regret": min(values) - problem.optimum}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return rec


def summarize(runs: list[dict], batch: int) -> dict[str, dict[str, dict[str, float]]]:
    """searcher -> problem -> {sequential, batch, ratio} (medians of final regret)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in runs:
        out.setdefault(r["searcher"], {}).setdefault(r["problem"], {}).setdefault(
            "seq" if r["batch"] == 1 else "bat", []).append(r["final_regret"])
    table: dict[str, dict[str, dict[str, float]]] = {}
    for s, by_p in out.items():
        table[s] = {}
        for p, d in by_p.items():
            seq, bat = float(np.median(d["seq"])), float(np.median(d["bat"]))
            table[s][p] = {"sequential": seq, "batch": bat, "ratio": bat / seq if seq > 0 else math.inf}
    return table


def markdown(meta: dict, table: dict[str, dict[str, dict[str, float]]]) -> str:
    probs = list(next(iter(table.values()))) if table else []
    lines = [f"# Batch asking ({meta['batch']} pending) vs sequential, {meta['evals']} evaluations, "
             f"{meta['seeds']} seeds\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}).\n",
             f"Cells: median final regret sequential / batch, and the ratio batch / sequential (target <= "
             f"{TARGET}; < 1 means batch did better).  'geo-mean' is the geometric mean of the ratios over "
             "the problems.\n",
             "| searcher | " + " | ".join(probs) + " | geo-mean ratio | within target |",
             "|---|" + "---|" * (len(probs) + 2)]
    for s, by_p in table.items():
        ratios = [by_p[p]["ratio"] for p in probs]
        finite = [r for r in ratios if math.isfinite(r) and r > 0]
        geo = math.exp(np.mean(np.log(finite))) if finite else math.nan
        ok = sum(r <= TARGET for r in ratios)
        cells = [f"{by_p[p]['sequential']:.3g} / {by_p[p]['batch']:.3g} (**{by_p[p]['ratio']:.2f}x**)" for p in probs]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {geo:.2f}x | {ok}/{len(probs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--searchers", default=",".join(SEARCHERS))
    ap.add_argument("--problems", default="all", help="comma-separated continuous problems, or 'all'")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    ap.add_argument("--out", default=str(HERE / "results" / "parallel.json"))
    args = ap.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    from tunestack.searchers import available

    from benchmarks.searchers.run import _git_commit, fingerprints

    wanted = args.searchers.split(",")
    missing = [s for s in wanted if s not in available()]
    searchers = [s for s in wanted if s not in missing]
    if missing:
        print(f"skipping {missing}: not in tunestack.searchers.available()", flush=True)
    problems = list(continuous_problems()) if args.problems == "all" else args.problems.split(",")
    fps = fingerprints(searchers)
    work = [(s, p, seed, args.evals, b, fps[s]) for s in searchers for p in problems for seed in range(args.seeds)
            for b in (1, args.batch)]
    work.sort(key=lambda w: w[0] != "rfbo")
    t0 = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            runs = list(pool.imap_unordered(_task, work))
    else:
        runs = [_task(w) for w in work]
    runs.sort(key=lambda r: (r["searcher"], r["problem"], r["seed"], r["batch"]))
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
            "git_commit": _git_commit(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "seeds": args.seeds, "evals": args.evals, "batch": args.batch, "searchers": searchers,
            "skipped": missing, "wall_s_this_invocation": round(time.perf_counter() - t0, 1)}
    table = summarize(runs, args.batch)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": table, "runs": runs}, indent=None, separators=(",", ":")))
    md = markdown(meta, table)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
