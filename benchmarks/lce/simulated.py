"""LCE against ASHA and Hyperband at equal simulated time (``tunestack.platform.simulator.simulate``).

Every scheduler runs random search (the same searcher seed, so the same sequence of configurations) on a
``benchmarks.mf`` surrogate for the same simulated wall-clock time: the time FIFO needs for ``trials``
full trials on ``workers`` workers (the table's mean full-training CPU seconds * trials / workers).  The
surrogate is used in its noisy mode (each configuration's curve is one tree of the forest, i.e. an
observed-looking curve with its epoch-to-epoch noise, not the forest's smooth mean), so the stopping rule
sees realistic curves.  LCE reads a result every ``max_budget / 50`` budget units (every epoch of the MLP,
every 4th boosting iteration); ASHA and Hyperband read results at their rung budgets only, FIFO at the end.

Figures: the regret (best final value found so far minus the table's best final value) at fractions of
the time budget, and the time each method needs to reach FIFO's final value (mean over seeds).
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

__all__ = ["run", "SCHEDULERS", "FRACTIONS", "format_table"]

SCHEDULERS = ("fifo", "lce", "asha", "hyperband")
FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


def _one(job: tuple[str, str, int, float, int, dict]) -> dict:
    """One simulated run: ``(benchmark, scheduler, seed, max_time, workers, scheduler options)``."""
    import os
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from benchmarks.mf.benchmarks import load
    from tunestack.platform.simulator import simulate
    name, sched, seed, max_time, workers, kw = job
    bench = load(name, mode="surrogate", noise=True)
    step = bench.max_budget / 50 if sched == "lce" else None
    t0 = time.process_time()
    r = simulate(bench.objective, bench.search_space, "random", None if sched == "fifo" else sched,
                 min_budget=bench.min_budget, max_budget=bench.max_budget, eta=3, workers=workers,
                 max_time=max_time, seed=seed, step=step, **(kw if sched == "lce" else {}))
    trials = len({h["trial_id"] for h in r.history})
    full = len(r._full())
    return {"bench": name, "scheduler": sched, "seed": seed, "trajectory": r.trajectory(),
            "trials": trials, "completed": full, "budget_used": r.budget_used,
            "cpu_s": time.process_time() - t0, "optimum": bench.optimum}


def run(benches: tuple[str, ...], seeds: int, trials: int, workers: int = 4, processes: int = 2,
        schedulers: tuple[str, ...] = SCHEDULERS, **lce_kw: Any) -> dict:
    """All runs (``benches x schedulers x seeds``) in ``processes`` processes; summaries per benchmark."""
    from benchmarks.lce.run import table
    jobs = []
    for name in benches:
        _, _, cum = table(name)
        max_time = float(cum[:, -1].mean()) * trials / workers
        jobs += [(name, s, seed, max_time, workers, lce_kw) for seed in range(seeds) for s in schedulers]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        rows = list(pool.map(_one, jobs))
    out: dict = {}
    for name in benches:
        max_time = next(j[3] for j in jobs if j[0] == name)
        mine = [r for r in rows if r["bench"] == name]
        out[name] = {"workers": workers, "trials_fifo": trials, "max_time_s": max_time,
                     "summary": _summary(mine, max_time, schedulers), "runs": mine}
    return out


def _best_at(traj: list, t: float) -> float:
    best = math.nan
    for tt, v in traj:
        if tt <= t:
            best = v
    return best


def _time_to(traj: list, target: float) -> float:
    return next((tt for tt, v in traj if v <= target), math.inf)


def _summary(rows: list[dict], max_time: float, schedulers: tuple[str, ...]) -> dict:
    times = [f * max_time for f in FRACTIONS]
    opt = rows[0]["optimum"]
    fifo_final = float(np.nanmean([_best_at(r["trajectory"], max_time) for r in rows
                                   if r["scheduler"] == "fifo"])) if "fifo" in schedulers else math.nan
    out: dict = {"fractions": list(FRACTIONS), "times_s": times, "fifo_final_mean": fifo_final}
    for s in schedulers:
        mine = [r for r in rows if r["scheduler"] == s]
        reg = np.array([[_best_at(r["trajectory"], t) - opt for t in times] for r in mine])
        hit = np.array([_time_to(r["trajectory"], fifo_final) for r in mine])
        out[s] = {"regret_mean": np.nanmean(reg, 0).tolist(), "regret_median": np.nanmedian(reg, 0).tolist(),
                  "none_yet": np.isnan(reg).sum(0).tolist(),
                  "time_to_fifo_final_median_s": float(np.median(hit)),
                  "reached_fifo_final": int(np.isfinite(hit).sum()), "seeds": len(mine),
                  "trials_mean": float(np.mean([r["trials"] for r in mine])),
                  "completed_mean": float(np.mean([r["completed"] for r in mine])),
                  "cpu_s_mean": float(np.mean([r["cpu_s"] for r in mine]))}
    return out


def format_table(name: str, res: dict) -> str:
    s = res["summary"]
    head = " | ".join(f"regret at {f:.3g} T" for f in s["fractions"])
    lines = [f"**{name}**: T = {res['max_time_s']:.0f} simulated s ({res['workers']} workers; FIFO trains "
             f"{res['trials_fifo']} trials in T); FIFO's mean final best {s['fifo_final_mean']:.4f}", "",
             f"| scheduler | {head} | time to FIFO's final (median) | seeds reaching it | trials started | "
             "trials completed | scheduler+sim CPU s |",
             "|---" * (len(s["fractions"]) + 6) + "|"]
    for sched in (k for k in SCHEDULERS if k in s):
        r = s[sched]
        regs = " | ".join("-" if math.isnan(m) else f"{m:.4f}" for m in r["regret_mean"])
        ttt, big_t = r["time_to_fifo_final_median_s"], res["max_time_s"]
        when = "never" if math.isinf(ttt) else f"{ttt:.0f} s ({ttt / big_t:.2f} T)"
        lines.append(f"| {sched} | {regs} | {when} | "
                     f"{r['reached_fifo_final']}/{r['seeds']} | {r['trials_mean']:.0f} | {r['completed_mean']:.0f} | "
                     f"{r['cpu_s_mean']:.1f} |")
    return "\n".join(lines)
