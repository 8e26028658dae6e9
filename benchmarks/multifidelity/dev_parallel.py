"""Where the asynchronous schedulers' parallel speedup goes, on the development benchmarks only.

A diagnostic for ``parallel.py``'s measure (S_k = t_1 / t_k, the median simulated time to the target
regret r* that one worker reaches by T = 100 full-training costs), run on ``benchmarks/mf/dev``
(``synth0`` .. ``synth5``, ``sgd_dev``), never on the reported tables.  Per benchmark and worker count it
splits t_k into what more workers cannot shorten and what they can:

* ``work_k`` = k x t_k x utilization: the training done by the time the target is reached (in units
  of ``t_1``'s work, so ``work_k / t_1`` > 1 means the k workers needed more training than one did);
* ``chain_k``: the simulated time from the start of the trial that reaches the target to that result
  (its evaluations are sequential whatever k is; a lower bound of t_k); ``trained``: the share of the
  chain that trial spent training (the rest it waited, paused at rungs);

so ``t_k ~ work_k / k + (what the chain adds beyond its share)``.  If the chain were the only loss (the
other workers' work during it does not bring the target nearer), ``S_k`` would be about
``k / (1 + (k - 1) chain_k / t_1)`` (column ``S_chain``).  Medians over seeds::

    nice -n 10 .venv/bin/python benchmarks/multifidelity/dev_parallel.py --seeds 30 --workers 1,4,16 \
        --schedulers asha,async_hyperband,async_bohb

``--reported`` runs the same diagnostic on the reported tables (``mlp_digits``, ``gbm``) to explain a
result there; nothing is chosen on it.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402

ETA = 3.0
DEV = ("synth0", "synth1", "synth2", "synth3", "synth4", "synth5", "sgd_dev")


REPORTED = ("mlp_digits", "gbm")


def _evaluator(name: str):
    from benchmarks.multifidelity.common import Evaluator

    if name in REPORTED:
        from benchmarks.multifidelity.run import evaluator

        return evaluator(name)
    from benchmarks.mf.dev.benchmarks import load

    return Evaluator(name, bench=load(name))


def full_cost(name: str, n: int = 200) -> float:
    """The median cost of one full training over ``n`` configurations drawn from the space (seed 0)."""
    ev = _evaluator(name)
    rng = np.random.default_rng(0)
    sp = ev.bench.search_space
    costs = [ev.value_and_cost(sp.sample(rng), ev.max_budget)[1] for _ in range(n)]
    return float(np.median(costs))


def one(args: tuple[str, str, int, int, float]) -> dict:
    scheduler, bench, workers, seed, horizon = args
    from tunestack.platform.simulator import simulate

    ev = _evaluator(bench)
    res = simulate(ev.value_and_cost, ev.bench.search_space, scheduler=scheduler, min_budget=ev.min_budget,
                   max_budget=ev.max_budget, eta=ETA, workers=workers, max_time=horizon, seed=seed)
    first: dict[str, float] = {}  # trial -> start time of its first evaluation
    trained: dict[str, float] = {}  # trial -> its own training time so far
    full = []
    for h in res.history:  # history times are result times; a first evaluation started cost seconds before
        first.setdefault(h["trial_id"], h["time"] - h["cost"])
        trained[h["trial_id"]] = trained.get(h["trial_id"], 0.0) + h["cost"]
        if h["budget"] >= ev.max_budget * (1 - 1e-9) and math.isfinite(h["value"]):
            full.append((h["time"], h["value"] - ev.optimum, h["time"] - first[h["trial_id"]],
                         trained[h["trial_id"]]))
    return {"scheduler": scheduler, "bench": bench, "workers": workers, "seed": seed, "full": full,
            "utilization": res.utilization}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", default=",".join(DEV))
    ap.add_argument("--schedulers", default="asha")
    ap.add_argument("--workers", default="1,16")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reported", action="store_true",
                    help="allow the reported tables (mlp_digits, gbm): a diagnostic of a result, not a dev run")
    args = ap.parse_args(argv)
    benches, scheds = args.benchmarks.split(","), args.schedulers.split(",")
    ks = sorted(int(k) for k in args.workers.split(","))
    if ks[0] != 1:
        raise SystemExit("--workers must include 1")
    allowed = DEV + (REPORTED if args.reported else ())
    if any(b not in allowed for b in benches):
        raise SystemExit(f"benchmarks: one of {list(allowed)} (--reported allows {list(REPORTED)})")
    T = {b: 100.0 * full_cost(b) for b in benches}
    tasks = [(s, b, k, seed, 2 * T[b] if k == 1 else 3 * T[b] / k)
             for b in benches for s in scheds for k in ks for seed in range(args.seeds)]
    t0 = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            runs = pool.map(one, tasks)
    else:
        runs = list(map(one, tasks))
    print(f"# {' '.join(sys.argv)}  ({time.perf_counter() - t0:.0f} s)")
    print(f"{'bench':>10} {'sched':>15} {'k':>3} {'reached':>8} {'t_k':>8} {'S_k':>6} {'work_k/t_1':>10} "
          f"{'chain_k/t_k':>11} {'chain_k/t_1':>11} {'S_chain':>7} {'trained':>7} {'util':>5}")
    for b in benches:
        for s in scheds:
            rs = {(r["workers"], r["seed"]): r for r in runs if r["bench"] == b and r["scheduler"] == s}
            ones = [rs[(1, seed)] for seed in range(args.seeds)]
            target = float(np.median([min([g for t, g, *_ in r["full"] if t <= T[b]], default=math.inf)
                                      for r in ones]))
            t1 = None
            for k in ks:
                times, chains, abs_chains, own = [], [], [], []
                for seed in range(args.seeds):
                    hit = next(((t, c, o) for t, g, c, o in rs[(k, seed)]["full"] if g <= target + 1e-12), None)
                    times.append(math.inf if hit is None else hit[0])
                    if hit is not None:
                        chains.append(hit[1] / hit[0])
                        abs_chains.append(hit[1])
                        own.append(hit[2] / hit[1])
                tk = float(np.median(times))
                t1 = tk if k == 1 else t1
                util = float(np.mean([rs[(k, seed)]["utilization"] for seed in range(args.seeds)]))
                sk = t1 / tk if math.isfinite(tk) and tk > 0 else math.nan
                c1 = float(np.median(abs_chains)) / t1 if abs_chains else math.nan
                print(f"{b:>10} {s:>15} {k:>3} {sum(math.isfinite(t) for t in times):>4}/{args.seeds:<3} "
                      f"{tk:8.3g} {sk:6.3g} {k * tk * util / t1:10.3g} "
                      f"{float(np.median(chains)) if chains else math.nan:11.3g} {c1:11.3g} "
                      f"{k / (1 + (k - 1) * c1):7.3g} {float(np.median(own)) if own else math.nan:7.2f} "
                      f"{util:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
