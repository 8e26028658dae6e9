"""Prediction quality of curve extrapolation: log-likelihood and interval coverage of the final value.

For each curve and each observed fraction of the budget (10%, 25%, 50%) the methods predict the value
at the last budget from the prefix:

* ``lce``   the scheduler's model: the ensemble of :mod:`tunestack.schedulers.lce.curves` families in
  the identity and (positive curves) log value spaces, the log space's prior mass learnt by Bayesian
  stacking (:func:`~tunestack.schedulers.lce.calibration.space_weight`) from back-tests of the *other*
  half of the curves (two-fold cross-fitting; in a run, the scheduler learns it from its own trials);
  ``fit_kw={"lower": 0.0}`` conditions it on a positive final while every value of the curve set is
  positive (the scheduler's ``bounded=True``, where the results of the run so far count);
* ``lce-identity`` the same ensemble in the identity space only (the previous round's model);
* ``pow3``  the pow3 family alone in the identity space (a single-family fit);
* ``last``  the last observed value plus Gaussian noise whose variance is fitted by maximum likelihood on
  the *other* half of the curves (two-fold cross-fitting), the usual "it will stay where it is" baseline.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from tunestack.schedulers.lce.calibration import backtest, space_weight
from tunestack.schedulers.lce.curves import FAMILIES
from tunestack.schedulers.lce.posterior import MIN_POINTS, predict_final

__all__ = ["evaluate", "METHODS", "FRACTIONS", "learnt_log_weight"]

METHODS = ("lce", "lce-identity", "pow3", "last")
FRACTIONS = (0.1, 0.25, 0.5)
_POW3 = tuple(f for f in FAMILIES if f.name == "pow3")
_IDENTITY = ("identity",)
MIN_RESULTS, MIN_FRACTION = 5, 0.1  # the scheduler's defaults (min_points, min_fraction)


def _prefix(budgets: np.ndarray, frac: float) -> int:
    return max(int(np.searchsorted(budgets, frac * budgets[-1], side="right")), MIN_POINTS)


def _score_dist(cdf, logpdf, ppf, y: float) -> dict:
    lo50, hi50, lo90, hi90 = ppf([0.25, 0.75, 0.05, 0.95])
    return {"loglik": logpdf(y), "in50": float(lo50 <= y <= hi50), "in90": float(lo90 <= y <= hi90),
            "pit": cdf(y), "abs_err": abs(ppf([0.5])[0] - y)}


def _lce(budgets: np.ndarray, values: np.ndarray, k: int, families, **kw) -> dict:
    p = predict_final(budgets[:k] / budgets[-1], values[:k], 1.0, families, **kw)
    return _score_dist(p.cdf, p.logpdf, p.quantile, float(values[-1]))


def learnt_log_weight(curves: Sequence[tuple[np.ndarray, np.ndarray]], **kw) -> float:
    """The log space's prior mass the scheduler would learn from these curves run to the end."""
    recs = {}
    for i, (b, v) in enumerate(curves):
        recs[str(i)] = backtest(b[:-1], v[:-1], float(b[-1]), float(v[-1]), MIN_RESULTS, MIN_FRACTION,
                                lambda t, y, tt: predict_final(t, y, tt, **kw))
    return space_weight(recs)


def _last(values: np.ndarray, k: int, sigma: float) -> dict:
    d = stats.norm(values[k - 1], sigma)
    return _score_dist(d.cdf, d.logpdf, d.ppf, float(values[-1]))


def _fit_last_sigma(curves: Sequence[tuple[np.ndarray, np.ndarray]], frac: float) -> float:
    err = [v[-1] - v[_prefix(b, frac) - 1] for b, v in curves]
    return max(float(np.sqrt(np.mean(np.square(err)))), 1e-12)


def evaluate(curves: Sequence[tuple[np.ndarray, np.ndarray]], fractions: Sequence[float] = FRACTIONS,
             methods: Sequence[str] = METHODS, fit_kw: dict | None = None) -> dict:
    """``{fraction: {method: {metric: mean}}}`` over ``curves`` (pairs of budgets and values);
    ``fit_kw``: options of the ``lce`` method's fit (``predict_final``'s, for ablations)."""
    fit_kw = dict(fit_kw or {})
    if fit_kw.get("lower") is not None and not all(bool(np.all(v > fit_kw["lower"])) for _, v in curves):
        fit_kw["lower"] = None  # as the scheduler: a bound holds only while every value lies above it
    halves = (list(curves[0::2]), list(curves[1::2]))
    log_w = [learnt_log_weight(h, **fit_kw) for h in halves[::-1]] if "lce" in methods else [0.5, 0.5]
    out: dict = {"log_weight": log_w}
    for frac in fractions:
        rows: dict[str, list[dict]] = {m: [] for m in methods}
        for i, (b, v) in enumerate(curves):
            k = _prefix(b, frac)
            if k >= len(b):
                continue
            for m in methods:
                if m == "lce":
                    lw = log_w[i % 2]
                    rows[m].append(_lce(b, v, k, FAMILIES, space_prior={"identity": 1 - lw, "log": lw},
                                        **fit_kw))
                elif m == "lce-identity":
                    rows[m].append(_lce(b, v, k, FAMILIES, spaces=_IDENTITY))
                elif m == "pow3":
                    rows[m].append(_lce(b, v, k, _POW3, spaces=_IDENTITY))
                elif m == "last":
                    rows[m].append(_last(v, k, _fit_last_sigma(halves[1 - i % 2], frac)))
                else:
                    raise ValueError(f"unknown method {m!r}; one of {METHODS}")
        out[frac] = {m: _summary(r) for m, r in rows.items()}
    return out


def _summary(rows: list[dict]) -> dict:
    if not rows:
        return {}
    ll = np.array([r["loglik"] for r in rows])
    return {"n": len(rows), "loglik_mean": float(np.mean(ll)), "loglik_median": float(np.median(ll)),
            "cover50": float(np.mean([r["in50"] for r in rows])),
            "cover90": float(np.mean([r["in90"] for r in rows])),
            "pit_below_5pct": float(np.mean([r["pit"] < 0.05 for r in rows])),
            "pit_above_95pct": float(np.mean([r["pit"] > 0.95 for r in rows])),
            "median_abs_err": float(np.median([r["abs_err"] for r in rows]))}


def format_table(res: dict) -> str:
    lines = ["| fraction | method | n | mean loglik | median loglik | 50% cover | 90% cover | PIT<5% | PIT>95% "
             "| median abs err |", "|---|---|---|---|---|---|---|---|---|---|"]
    for frac, by_m in res.items():
        if frac == "log_weight":
            continue
        for m, s in by_m.items():
            if s:
                lines.append(f"| {frac:.0%} | {m} | {s['n']} | {s['loglik_mean']:.3f} | {s['loglik_median']:.3f} | "
                             f"{s['cover50']:.2f} | {s['cover90']:.2f} | {s['pit_below_5pct']:.3f} | "
                             f"{s['pit_above_95pct']:.3f} | "
                             f"{s['median_abs_err']:.4g} |")
    return "\n".join(lines)


if __name__ == "__main__":  # quick look on synthetic curves
    from benchmarks.lce.synthetic import curves as synth
    cs = [(b, v) for b, v, _ in synth(0, 200)]
    print(format_table(evaluate(cs)))
