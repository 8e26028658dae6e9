"""Held-out accuracy of the learning-curve surrogates: k-fold cross-validation over configurations.

    nice -n 10 python -m benchmarks.mf.surrogate_quality                 # both benchmarks, rf and et
    nice -n 10 python -m benchmarks.mf.surrogate_quality --bench gbm --kinds rf

For each fold, the surrogate (same settings and seed as the benchmarks use) is fit on the other folds'
configurations and predicts the held-out ones.  Out-of-fold predictions of all folds are pooled, then:

* final value (at max budget): R^2, Spearman rank correlation (also among the configurations whose
  true final value is at most the median: the ones an optimizer must rank), mean absolute error;
* whole curves: mean absolute error over all budgets, and the mean over budgets of the per-budget
  Spearman correlation;
* cost (seconds to train to max budget): R^2 of log cost, Spearman, median absolute relative error.

Per-fold R^2/Spearman of the final value are also given (min .. max).  A markdown table is printed and
everything is written to ``benchmarks/mf/results/surrogate_quality.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from .benchmarks import NAMES, MFBenchmark
from .surrogate import CurveSurrogate, SurrogateSettings, _fill_nan

RESULTS = Path(__file__).resolve().parent / "results"


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def cross_validate(bench: MFBenchmark, settings: SurrogateSettings, folds: int = 5, seed: int = 0
                   ) -> dict[str, Any]:
    X = bench.table_vectors()
    Y = _fill_nan(bench.values)
    S = _fill_nan(bench.step_costs)
    pred_y, pred_s = np.empty_like(Y), np.empty_like(S)
    fold_r2, fold_rho = [], []
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        model = CurveSurrogate(settings, seed=bench.seed).fit(X[train], Y[train], S[train])
        pred_y[test], pred_s[test] = model.predict(X[test])
        fold_r2.append(r2_score(Y[test, -1], pred_y[test, -1]))
        fold_rho.append(_spearman(Y[test, -1], pred_y[test, -1]))
    t0 = time.perf_counter()
    CurveSurrogate(settings, seed=bench.seed).fit(X, Y, S)
    fit_seconds = time.perf_counter() - t0
    cost, pred_cost = S.sum(1), pred_s.sum(1)
    best = Y[:, -1] <= np.median(Y[:, -1])  # the configurations HPO cares about
    per_budget_rho = [_spearman(Y[:, j], pred_y[:, j]) for j in range(Y.shape[1])]
    return {
        "benchmark": bench.name, "surrogate": settings.__dict__, "folds": folds, "cv_seed": seed,
        "n_configs": int(len(X)), "n_budgets": int(Y.shape[1]), "full_fit_seconds": round(fit_seconds, 2),
        "final_r2": r2_score(Y[:, -1], pred_y[:, -1]),
        "final_spearman": _spearman(Y[:, -1], pred_y[:, -1]),
        "final_spearman_best_half": _spearman(Y[best, -1], pred_y[best, -1]),
        "final_mae": float(np.mean(np.abs(Y[:, -1] - pred_y[:, -1]))),
        "final_r2_folds": [min(fold_r2), max(fold_r2)],
        "final_spearman_folds": [min(fold_rho), max(fold_rho)],
        "curve_mae": float(np.mean(np.abs(Y - pred_y))),
        "curve_spearman_mean": float(np.nanmean(per_budget_rho)),
        "cost_r2_log": r2_score(np.log(cost), np.log(pred_cost)),
        "cost_spearman": _spearman(cost, pred_cost),
        "cost_median_rel_error": float(np.median(np.abs(pred_cost - cost) / cost)),
        "final_value_std": float(np.std(Y[:, -1])),
    }


def top_tail(name: str, kind: str, n: int = 5000, seed: int = 0) -> dict[str, Any]:
    """How much of the space the ``kind`` surrogate (default settings, fit on the whole table) puts among the table's best: the
    fraction of ``n`` random configurations whose predicted final value is at most the table's 1% / 10%
    quantile, or its optimum.  The table is itself a random sample of the space, so a faithful surrogate
    gives about 1% and 10% (and about 0 at the optimum); less means the best region is shrunk (an
    optimizer cannot get near the table's best), more means it is inflated (easy to reach)."""
    bench = MFBenchmark(name, surrogate=kind)
    assert bench.surrogate is not None
    X = bench.search_space.sample_vectors(np.random.default_rng(seed), n)
    final = bench.surrogate.predict(X)[0][:, -1]
    table = bench.values[:, -1]
    q01, q10 = np.quantile(table, [0.01, 0.10])
    return {"benchmark": name, "surrogate": bench.surrogate.settings.__dict__, "n": n, "seed": seed,
            "table_q01": float(q01), "table_q10": float(q10), "optimum": float(bench.optimum),
            "frac_le_q01": float(np.mean(final <= q01)), "frac_le_q10": float(np.mean(final <= q10)),
            "frac_le_optimum": float(np.mean(final <= bench.optimum + 1e-12)),
            "predicted_q01": float(np.quantile(final, 0.01))}


def _settings(d: dict[str, Any]) -> str:
    return f"{d['kind']}, {d['min_samples_leaf']}, {d['max_features']:g}, {d['target']}"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| benchmark | surrogate (kind, leaf, feat., target) | final R^2 (folds) | "
            "final Spearman (folds) | final Spearman, best half | final MAE | curve MAE | "
            "curve Spearman | cost R^2 (log) | cost Spearman | cost median rel. err | fit s | sd of final |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {_settings(r['surrogate'])} | {r['final_r2']:.3f} "
            f"({r['final_r2_folds'][0]:.2f}..{r['final_r2_folds'][1]:.2f}) | {r['final_spearman']:.3f} "
            f"({r['final_spearman_folds'][0]:.2f}..{r['final_spearman_folds'][1]:.2f}) | "
            f"{r['final_spearman_best_half']:.3f} | "
            f"{r['final_mae']:.4f} | {r['curve_mae']:.4f} | {r['curve_spearman_mean']:.3f} | "
            f"{r['cost_r2_log']:.3f} | {r['cost_spearman']:.3f} | {r['cost_median_rel_error']:.3f} | "
            f"{r['full_fit_seconds']:.1f} | {r['final_value_std']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", nargs="+", default=list(NAMES), choices=list(NAMES))
    ap.add_argument("--trees", type=int, default=SurrogateSettings().n_trees)
    ap.add_argument("--kinds", nargs="+", default=["et", "rf"], choices=["rf", "et", "gp"])
    ap.add_argument("--grid", action="store_true",
                    help="also min_samples_leaf 3, max_features 0.5, raw target (the grid the default came "
                    "from)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cost", default="cpu_seconds", choices=["seconds", "cpu_seconds"])
    ap.add_argument("--out", default=str(RESULTS / "surrogate_quality.json"))
    ap.add_argument("--tail", action="store_true",
                    help="instead of the cross-validation: the share of random configurations the surrogate "
                         "puts among the table's best 1%% / 10%% (top_tail)")
    args = ap.parse_args(argv)
    if args.tail:
        tails = []
        for name in args.bench:
            for kind in args.kinds:
                tails.append(top_tail(name, kind))
                t = tails[-1]
                print(f"{name} {kind}: predicted <= table q01 {t['frac_le_q01']:.4f}, <= q10 "
                      f"{t['frac_le_q10']:.4f}, <= optimum {t['frac_le_optimum']:.4f}, predicted q01 "
                      f"{t['predicted_q01']:.4g} (table q01 {t['table_q01']:.4g})", flush=True)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        command = "python -m benchmarks.mf.surrogate_quality " + " ".join(sys.argv[1:] if argv is None else argv)
        out.write_text(json.dumps({"command": command.strip(), "tails": tails}, indent=1) + "\n")
        print(f"wrote {out}")
        return
    rows = []
    for name in args.bench:
        bench = MFBenchmark(name, mode="tabular", cost=args.cost)
        for kind in args.kinds:
            grid = ((1, 1.0, "logit"), (3, 1.0, "logit"), (1, 0.5, "logit"), (1, 1.0, "none"))
            for leaf, feats, target in grid if args.grid else grid[:1]:
                settings = SurrogateSettings(kind, args.trees, leaf, feats, target)
                rows.append(cross_validate(bench, settings, args.folds))
                print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(markdown(rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.mf.surrogate_quality " + " ".join(sys.argv[1:] if argv is None else argv)
    out.write_text(json.dumps({"command": command.strip(), "cost": args.cost, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
