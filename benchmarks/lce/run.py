"""Figures of the learning-curve extrapolation scheduler (``tunestack.schedulers.lce``).

    python -m benchmarks.lce.run savings    [--seeds 10] [--trials 100]   # time saved, final regret
    python -m benchmarks.lce.run prediction [--curves 300]                # loglik, coverage at 10/25/50%
    python -m benchmarks.lce.run simulate   [--seeds 10] [--trials 100]   # vs ASHA, Hyperband
    python -m benchmarks.lce.run latency                                  # decision cost, 50-point curves
    python -m benchmarks.lce.run all

Benchmarks: ``benchmarks.mf`` (``mlp_digits``: torch MLP on digits, validation error per epoch;
``gbm``: gradient boosting, validation error per boosting iteration), ``sgd`` (a third model family: a
linear SGD classifier on random kernel features, validation error per epoch; the ``sgd_dev`` table of
:mod:`benchmarks.mf.dev.sgd`, where BOHB's settings were chosen but nothing of this scheduler) and
``synthetic`` (:mod:`benchmarks.lce.synthetic`); for development only, ``--bench synthetic_b stress --split all``
(other generated curves, :mod:`benchmarks.lce.stress`).  Every method sees the same configurations in the same order for a
seed.  Results go to stdout and to ``benchmarks/lce/results/<figure>.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lce import prediction as pq
from benchmarks.lce import simulated
from benchmarks.lce.stress import curves as stress_curves
from benchmarks.lce.synthetic import curves as synthetic_curves
from tunestack.schedulers import create

RESULTS = Path(__file__).resolve().parent / "results"
REAL = ("mlp_digits", "gbm")
CHECKS = ("forest",)  # a table made as a check (benchmarks/mf/generate_forest.py); run only when named
TABLES = ("sgd",)  # more real curves, as tables only (no surrogate for ``simulate``)
# curve sets made here: ``synthetic`` (the figures), and two for development only: ``synthetic_b`` (the
# same generator, other curves) and ``stress`` (early rank a poor guide; :mod:`benchmarks.lce.stress`)
GENERATED = {"synthetic": lambda: synthetic_curves(12345, 1000), "synthetic_b": lambda: synthetic_curves(777, 1000),
             "stress": lambda: stress_curves(4242, 1000)}


# ---- curve sources ---------------------------------------------------------------------------------
SPLITS = ("all", "even", "odd")  # odd: held out (nothing was tuned on odd curve indices)


def table(name: str, split: str = "all") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(budgets, values [configs, budgets], cumulative costs [configs, budgets])`` of a benchmark,
    restricted to the even or odd configuration (curve) indices when ``split`` says so."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if name == "sgd":
        from benchmarks.mf.table import DATA_DIR, load_table
        tab = load_table(DATA_DIR / "dev" / "sgd_dev.json.gz")
        budgets = np.asarray(tab.budgets, dtype=float)
        vals = np.asarray(tab.metrics["val_error"], dtype=float)
        cum = np.cumsum(np.asarray(tab.metrics["cpu_seconds"], dtype=float), axis=1)
    elif name in GENERATED:
        cs = GENERATED[name]()
        vals = np.array([v for _, v, _ in cs])
        budgets = cs[0][0]
        cum = np.tile(budgets, (len(cs), 1))  # cost proportional to the budget
    else:
        from benchmarks.mf.benchmarks import load
        bench = load(name, mode="tabular")
        budgets = np.arange(bench.min_budget, bench.max_budget + 1, dtype=float)
        vals = np.asarray(bench.values, float)
        cum = np.cumsum(np.asarray(bench.step_costs, float), axis=1)
    rows = slice(None) if split == "all" else slice(0 if split == "even" else 1, None, 2)
    return budgets, vals[rows], cum[rows]


# ---- time saved vs training every trial to the end ---------------------------------------------------
def replay(values: np.ndarray, budgets: np.ndarray, seed: int, info: dict | None = None, as_accuracy: bool = False,
           **kw: Any) -> np.ndarray:
    """Run the LCE rule over the curves in order (one worker); the number of budgets each trial ran.
    ``info``, if given, receives the scheduler's learnt log-space weight at the end.  ``as_accuracy``:
    the scheduler sees ``1 - value`` with ``mode="max"`` (an error rate reported as an accuracy)."""
    s = create("lce", min_budget=float(budgets[0]), max_budget=float(budgets[-1]), seed=seed,
               mode="max" if as_accuracy else "min", **kw)
    if as_accuracy:
        values = 1.0 - values
    ran = np.zeros(len(values), dtype=int)
    for i, curve in enumerate(values):
        s.add_trial(str(i))
        for j, (b, v) in enumerate(zip(budgets, curve)):
            ran[i] = j + 1
            if s.on_result(str(i), float(b), float(v)).action == "stop":
                break
    if info is not None:
        info["log_weight"] = s.log_weight
    return ran


def savings(seeds: int, trials: int, benches: tuple[str, ...], split: str = "all", as_accuracy: bool = False,
            **kw: Any) -> dict:
    out: dict = {}
    for name in benches:
        budgets, vals, cum = table(name, split)
        n = min(trials, len(vals))
        rows = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(vals))[:n]
            v, c = vals[order], cum[order]
            t0 = time.perf_counter()
            info: dict = {}
            ran = replay(v, budgets, seed, info, as_accuracy, **kw)
            wall = time.perf_counter() - t0
            full_cost, used = float(c[:, -1].sum()), float(c[np.arange(n), ran - 1].sum())
            best_full = float(np.nanmin(v[:, -1]))
            done = ran == len(budgets)
            best_lce = float(np.nanmin(v[done, -1])) if done.any() else float("nan")
            rows.append({"seed": seed, "saved": 1 - used / full_cost, "best_full": best_full,
                         "best_lce": best_lce, "rel_regret": (best_lce - best_full) / abs(best_full),
                         "abs_regret": best_lce - best_full, "better_finals_missed": int(np.sum(v[:, -1] < best_lce)),
                         "completed": int(done.sum()), "trials": n, "scheduler_seconds": wall,
                         "log_weight": info.get("log_weight")})
        saved = np.array([r["saved"] for r in rows])
        reg = np.array([r["rel_regret"] for r in rows])
        out[name] = {"configs_in_table": len(vals), "split": split, "options": kw, "as_accuracy": as_accuracy,
                     "trials": n, "seeds": seeds,
                     "abs_regret_mean": float(np.mean([r["abs_regret"] for r in rows])),
                     "saved_mean": float(saved.mean()), "saved_min": float(saved.min()),
                     "rel_regret_mean": float(reg.mean()), "rel_regret_max": float(reg.max()),
                     "seeds_within_1pct": int((reg <= 0.01).sum()), "rows": rows}
        print(f"{name}: {n} trials x {seeds} seeds: saved {saved.mean():.1%} (min {saved.min():.1%}), "
              f"relative regret of the final best mean {reg.mean():.2%} max {reg.max():.2%}, "
              f"{int((reg <= 0.01).sum())}/{seeds} seeds within 1%; learnt log-space weight "
              f"{np.mean([r['log_weight'] for r in rows]):.2f}")
    return out


# ---- prediction quality -------------------------------------------------------------------------------
def prediction(n_curves: int, benches: tuple[str, ...], split: str = "all", fit_kw: dict | None = None) -> dict:
    out: dict = {}
    for name in benches:
        budgets, vals, _ = table(name, split)
        idx = np.random.default_rng(0).permutation(len(vals))[:n_curves]
        res = pq.evaluate([(budgets, vals[i]) for i in idx], fit_kw=fit_kw)
        out[name] = {str(k): v for k, v in res.items()}
        lw = ", ".join(f"{w:.2f}" for w in res["log_weight"])
        print(f"\n{name} ({len(idx)} curves; learnt log-space weight of the two halves {lw})\n{pq.format_table(res)}")
    return out


# ---- decision latency ---------------------------------------------------------------------------------
def latency(n_curves: int = 40, **kw: Any) -> dict:
    """Wall time of ``on_result`` on 50-point synthetic curves once an incumbent exists.

    Incumbents end at 10 + their curve's final value, so no trial is stopped and every trial runs all 50
    results: ``all`` times every call (what an event loop waits for), ``fit`` the calls that fitted a
    curve (the first eligible result and the geometric grid), ``stop`` times stopping decisions (a fit,
    the probability, the predictive median and the back-test of the stopped trial) on the same curves
    against incumbents at their finals - 10; ``complete`` the result at ``max_budget`` (a back-test).
    """
    cs = synthetic_curves(7, n_curves + 3)
    out = {}
    for case, offset in (("continue", 10.0), ("stop", -10.0)):
        s = create("lce", min_budget=1, max_budget=51, seed=0, **kw)
        for i in range(3):
            s.add_trial(f"inc{i}")
            for b, v in zip(cs[i][0], cs[i][1]):
                s.on_result(f"inc{i}", float(b), float(v) + offset)
            s.on_result(f"inc{i}", 51.0, float(cs[i][1][-1]) + offset)
        every, fits, stops = [], [], []
        for i, (b, v, _) in enumerate(cs[3:]):
            tid = str(i)
            s.add_trial(tid)
            for bb, vv in zip(b, v):
                t0 = time.perf_counter()
                dec = s.on_result(tid, float(bb), float(vv))
                dt = (time.perf_counter() - t0) * 1000
                every.append(dt)
                if s.last_prediction.get(tid, {}).get("budget") == float(bb):
                    (stops if dec.action == "stop" else fits).append(dt)
                if dec.action == "stop":
                    break
        out[case] = {"calls": len(every), **_quantiles("all", every), **_quantiles("fit", fits),
                     **_quantiles("stop", stops)}
    # completing calls: the result at max_budget back-tests the trial (up to 5 fits) and updates the
    # learnt space weight; min_completed is set out of reach so that no trial is stopped
    s = create("lce", min_budget=1, max_budget=50, seed=0, min_completed=10 ** 6, **kw)
    done = []
    for i, (b, v, _) in enumerate(cs[3:]):
        s.add_trial(f"c{i}")
        for bb, vv in zip(b, v):
            t0 = time.perf_counter()
            s.on_result(f"c{i}", float(bb), float(vv))
            if bb >= 50:
                done.append((time.perf_counter() - t0) * 1000)
    out["complete"] = _quantiles("complete", done)
    c, st = out["continue"], out["stop"]
    print(f"latency, 50-point curves: every on_result call (n={c['calls']}) median {c['all_median_ms']:.2f} ms, "
          f"p95 {c['all_p95_ms']:.2f} ms; calls with a fit (n={c['fit_n']}) median {c['fit_median_ms']:.2f} ms, "
          f"p95 {c['fit_p95_ms']:.2f} ms, max {c['fit_max_ms']:.2f} ms; stopping decisions (n={st['stop_n']}) "
          f"median {st['stop_median_ms']:.2f} ms, p95 {st['stop_p95_ms']:.2f} ms; completing calls "
          f"(n={out['complete']['complete_n']}) median {out['complete']['complete_median_ms']:.2f} ms, "
          f"p95 {out['complete']['complete_p95_ms']:.2f} ms")
    return out


def _quantiles(name: str, ms: list[float]) -> dict:
    a = np.array(ms) if ms else np.array([np.nan])
    return {f"{name}_n": len(ms), f"{name}_median_ms": float(np.median(a)),
            f"{name}_p95_ms": float(np.percentile(a, 95)), f"{name}_max_ms": float(np.max(a))}


def _save(name: str, data: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, allow_nan=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("figure", choices=("savings", "prediction", "simulate", "latency", "all"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--curves", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4, help="simulated workers (simulate)")
    ap.add_argument("--processes", type=int, default=2, help="processes running simulations (simulate)")
    ap.add_argument("--bench", nargs="*", default=list(REAL) + list(TABLES) + ["synthetic"])
    ap.add_argument("--split", choices=SPLITS, default="odd",
                    help="curve indices used: odd = held out (default), even = development, all")
    ap.add_argument("--kw", default="{}", help="scheduler options as JSON (ablations), e.g. '{\"threshold\": 0.1}'")
    ap.add_argument("--fit-kw", default="{}", help="options of the lce method's fit (prediction), as JSON, "
                    "e.g. '{\"burn_in\": 0.25}'")
    ap.add_argument("--tag", default="", help="suffix of the results file names")
    ap.add_argument("--as-accuracy", action="store_true", help="savings: the scheduler sees 1 - error with "
                    "mode='max' (the tables' values are error rates)")
    a = ap.parse_args()
    benches, kw, tag = tuple(a.bench), json.loads(a.kw), (f"_{a.tag}" if a.tag else "")
    if a.figure in ("savings", "all"):
        _save(f"savings_{a.split}{tag}", savings(a.seeds, a.trials, benches, a.split, a.as_accuracy, **kw))
    if a.figure in ("prediction", "all"):
        _save(f"prediction_{a.split}{tag}", prediction(a.curves, benches, a.split, json.loads(a.fit_kw)))
    if a.figure in ("simulate", "all"):
        res = simulated.run(tuple(b for b in benches if b in REAL + CHECKS), a.seeds, a.trials, a.workers,
                            a.processes, **kw)
        for name, r in res.items():
            print(simulated.format_table(name, r) + "\n")
        _save(f"simulate{tag}", res)
    if a.figure in ("latency", "all"):
        _save(f"latency{tag}", latency(**kw))


if __name__ == "__main__":
    main()
