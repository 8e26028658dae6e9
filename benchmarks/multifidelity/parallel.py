"""Parallel speedup of the asynchronous schedulers in simulated time: 1, 4, 16 and 64 workers.

For each benchmark (``benchmarks/mf`` surrogates, cost = the table's CPU seconds of training) and each
scheduler (``asha``, ``async_hyperband`` with random search, ``async_bohb``), defined up front:

* ``T`` = 100 x the median cost of one full training run in the benchmark's table (simulated seconds);
* target regret ``r*`` = the median over seeds of the regret one worker reaches by time ``T``;
* ``t_k`` = the median over seeds of the simulated time ``k`` workers need to reach ``r*`` (a seed that
  does not reach it within its horizon counts as infinite; horizons: ``2 T`` for one worker, ``3 T / k``
  for ``k`` workers, so a speedup below ``k / 3`` shows as "not reached");
* speedup ``S_k = t_1 / t_k``; target ``S_k >= 0.75 k`` for ``k <= 16``.

Runs are cached like :mod:`.run` (``_work/cache/parallel__*``)::

    nice -n 10 .bench-venv/bin/python benchmarks/multifidelity/parallel.py --jobs 2
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402

from benchmarks.multifidelity.common import BENCHMARKS, best_at, improvements  # noqa: E402
from benchmarks.multifidelity.run import (CACHE, RESULTS, SURROGATES, command_line, data_hash,  # noqa: E402
                                          data_info, evaluator, git_commit, hash_paths, surrogate_tail,
                                          tunestack_hash)

SCHEDULERS = ("asha", "async_hyperband", "async_bohb")
WORKERS = (1, 4, 16, 64)
T_FULL_RUNS = 100.0
ETA = 3.0


@dataclass(frozen=True)
class Task:
    scheduler: str
    benchmark: str
    workers: int
    seed: int
    surrogate: str = "et"  # one of run.SURROGATES

    @property
    def key(self) -> str:
        return (f"parallel__{self.scheduler}__{self.benchmark}__w{self.workers}__s{self.seed}"
                f"{surrogate_tail(self.surrogate)}")


def time_budget(benchmark: str) -> float:
    """``T``: 100 median full-training costs of the benchmark's table, in simulated seconds."""
    b = evaluator(benchmark).bench
    return T_FULL_RUNS * float(np.median(np.sum(b.step_costs, axis=1)))


def horizon(benchmark: str, workers: int) -> float:
    t = time_budget(benchmark)
    return 2.0 * t if workers == 1 else 3.0 * t / workers


def run_task(task: Task) -> dict:
    try:
        harness = hash_paths([HERE / "common.py", HERE / "parallel.py"])
        fp = f"tunestack:{tunestack_hash()}|data:{data_hash(task.benchmark)}|harness:{harness}"
        path = CACHE / f"{task.key}.json"
        if path.exists():
            cached = json.loads(path.read_text())
            if cached.get("fingerprint") == fp:
                return cached
        from tunestack.platform.simulator import simulate

        from benchmarks.multifidelity import run as _run

        ev = evaluator(task.benchmark, task.surrogate)
        t0 = time.perf_counter()
        res = simulate(ev.value_and_cost, ev.bench.search_space, scheduler=task.scheduler,
                       min_budget=ev.min_budget, max_budget=ev.max_budget, eta=ETA, workers=task.workers,
                       max_time=horizon(task.benchmark, task.workers), seed=task.seed)
        full = [(h["time"], h["value"]) for h in res.history if h["budget"] >= ev.max_budget * (1 - 1e-9)]
        fp = f"tunestack:{tunestack_hash()}|data:{_run._LOADED_HASH[task.benchmark]}|harness:{harness}"
        rec = {"scheduler": task.scheduler, "benchmark": task.benchmark, "workers": task.workers,
               "seed": task.seed, **({} if task.surrogate == "et" else {"surrogate": task.surrogate}),
               "improvements": improvements(full), "n_evals": len(res.history),
               "sim_time": res.time, "utilization": res.utilization, "ended": res.ended,
               "wall_s": round(time.perf_counter() - t0, 2), "fingerprint": fp}
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec))
        tmp.replace(path)
        return rec
    except Exception as e:  # noqa: BLE001
        import traceback

        return {**task.__dict__, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def time_to_reach(imps: list[list[float]], target: float) -> float:
    for t, v in imps:
        if v <= target + 1e-12:
            return float(t)
    return math.inf


def analyse(runs: list[dict], benchmarks: list[str], schedulers: list[str], workers: list[int]) -> dict:
    """benchmark -> scheduler -> {T, target, per k: times, median, speedup, utilization}."""
    out: dict = {}
    for b in benchmarks:
        opt, T = evaluator(b).optimum, time_budget(b)
        for s in schedulers:
            sel = {(r["workers"], r["seed"]): r for r in runs if r["benchmark"] == b and r["scheduler"] == s}
            ones = [r for (k, _), r in sorted(sel.items()) if k == 1]
            if not ones:
                continue
            target = float(np.median([best_at(r["improvements"], T) - opt for r in ones]))
            d = {"T": T, "target_regret": target, "by_workers": {}}
            t1 = None
            for k in workers:
                rs = [r for (kk, _), r in sorted(sel.items()) if kk == k]
                times = [time_to_reach(r["improvements"], target + opt) for r in rs]
                med = float(np.median(times)) if times else math.nan
                t1 = med if k == 1 else t1
                d["by_workers"][str(k)] = {
                    "seeds": len(rs), "times": [t if math.isfinite(t) else None for t in times],
                    "median_time": med if math.isfinite(med) else None,
                    "reached": int(sum(math.isfinite(t) for t in times)),
                    "speedup": (t1 / med) if (t1 is not None and math.isfinite(med) and med > 0) else None,
                    "utilization": float(np.mean([r["utilization"] for r in rs])) if rs else math.nan,
                    "horizon": horizon(b, k)}
            out.setdefault(b, {})[s] = d
    return out


def _f(x: float | None, nd: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{nd}g}"


def markdown(meta: dict, table: dict) -> str:
    lines = ["# Multi-fidelity benchmark: parallel speedup in simulated time\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}, {meta['seeds']} seeds, "
             f"wall time of this invocation {meta['wall_s_this_invocation']:.0f} s).\n",
             f"Data (surrogate mode, {meta.get('surrogate', 'et')} surrogate, cost = CPU seconds of training "
             "from the table): " + "; ".join(
                 f"`{b}` {d['configs']} configs, sha256 {d['sha256_16']}" for b, d in meta["data"].items()) + ".\n",
             "T = 100 x the median full-training cost of the table (simulated seconds); target regret r* = "
             "median over seeds of the regret 1 worker reaches by T; t_k = median over seeds of the "
             "simulated time k workers need to reach r* (horizon 2T for 1 worker, 3T/k for k workers; "
             "`-` = the median seed did not reach it); speedup S_k = t_1 / t_k; target S_k >= 0.75 k "
             "for k <= 16.\n"]
    for b, by_s in table.items():
        lines += [f"\n## {b}\n", "| scheduler | T (s) | r* | " + " | ".join(
            f"t_{k} (reached) | S_{k}" for k in meta["workers"]) + " | target met |",
            "|---" * (4 + 2 * len(meta["workers"])) + "|"]
        for s, d in by_s.items():
            cells, met = [], True
            for k in meta["workers"]:
                w = d["by_workers"][str(k)]
                cells += [f"{_f(w['median_time'])} ({w['reached']}/{w['seeds']})", _f(w["speedup"])]
                if 1 < k <= 16:
                    met = met and w["speedup"] is not None and w["speedup"] >= 0.75 * k
            lines.append(f"| {s} | {d['T']:.3g} | {d['target_regret']:.4g} | " + " | ".join(cells) +
                         f" | {'yes' if met else 'no'} |")
        lines.append("\nMean worker utilization (busy / (k x simulated time)): " + "; ".join(
            f"{s}: " + ", ".join(f"{k}w {d['by_workers'][str(k)]['utilization']:.2f}" for k in meta["workers"])
            for s, d in by_s.items()) + ".")
    return "\n".join(lines) + "\n"


def plot(meta: dict, table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(table), figsize=(6 * len(table), 4.5), squeeze=False)
    ks = np.array(meta["workers"], dtype=float)
    for ax, (b, by_s) in zip(axes[0], table.items()):
        ax.plot(ks, ks, "k:", label="linear")
        ax.plot(ks, 0.75 * ks, color="grey", ls="--", lw=0.8, label="0.75 x workers")
        for s, d in by_s.items():
            sp = [d["by_workers"][str(int(k))]["speedup"] for k in ks]
            ax.plot(ks, [np.nan if v is None else v for v in sp], "o-", label=s)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("workers")
        ax.set_ylabel("speedup t_1 / t_k (time to target regret)")
        ax.set_title(f"{b}: {meta['seeds']} seeds, simulated time")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--schedulers", default=",".join(SCHEDULERS))
    ap.add_argument("--workers", default=",".join(map(str, WORKERS)))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    ap.add_argument("--out", default=str(RESULTS / "parallel.json"))
    ap.add_argument("--surrogate", default="et", choices=SURROGATES,
                    help="the benchmarks' surrogate (run.py's option): et, the reported one, or gp, a check")
    args = ap.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    benchmarks, schedulers = args.benchmarks.split(","), args.schedulers.split(",")
    workers = sorted(int(w) for w in args.workers.split(","))
    if workers[0] != 1:
        raise SystemExit("--workers must include 1 (the reference for the speedup)")
    # big worker counts first within a seed: they are the slow ones, so the pool ends evenly
    tasks = [Task(s, b, k, seed, args.surrogate) for seed in range(args.seeds) for b in benchmarks
             for s in schedulers for k in sorted(workers, reverse=True)]
    t0 = time.perf_counter()
    runs, failed = [], []
    if args.jobs <= 1:
        pool, it = None, map(run_task, tasks)
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=40)
        it = pool.imap_unordered(run_task, tasks)
    try:
        for i, rec in enumerate(it, 1):
            if "error" in rec:
                failed.append(rec)
                print(f"[{i}/{len(tasks)}] FAILED {rec}", flush=True)
                continue
            runs.append(rec)
            print(f"[{i}/{len(tasks)} {time.perf_counter() - t0:6.0f}s] {rec['scheduler']:>15} {rec['benchmark']:<11}"
                  f" {rec['workers']:>2}w seed {rec['seed']}: {rec['n_evals']} evals ({rec['wall_s']:.1f}s)",
                  flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    table = analyse(runs, benchmarks, schedulers, workers)
    meta = {"command": command_line(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "git_commit": git_commit(), "seeds": args.seeds, "workers": workers, "schedulers": schedulers,
            "wall_s_this_invocation": round(time.perf_counter() - t0, 1), "surrogate": args.surrogate,
            "data": data_info(benchmarks, args.surrogate),
            "failed": [{k: f.get(k) for k in ("scheduler", "benchmark", "workers", "seed", "error")} for f in failed]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs.sort(key=lambda r: (r["benchmark"], r["scheduler"], r["workers"], r["seed"]))
    out.write_text(json.dumps({"meta": meta, "table": table, "runs": runs}, separators=(",", ":")))
    out.with_suffix(".md").write_text(markdown(meta, table))
    plot(meta, table, out.with_suffix(".png"))
    print(f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
