"""Online recalibration of the final-value predictive from the trials that ran to the end.

Curve families extrapolated ten times beyond the data are misspecified in ways no noise model sees (a
boosting curve that keeps creeping down long after it looked saturated).  The run itself shows how well
the predictions hold: every completed trial is back-tested, its own prefixes at a few fractions of the
budget predicting its known final value, which gives probability integral transforms ``u = F(y_final)``.
For a calibrated predictive ``u`` is uniform; otherwise the recalibration map of Kuleshov, Fenner &
Ermon (2018, ICML, "Accurate uncertainties for deep learning using calibrated regression", Alg. 1)
``R(p) = P(u <= p)`` turns a raw probability ``p = F(y*)`` into a calibrated one ``R(p)``.  With few
completed trials ``R`` is the empirical cdf of the PITs shrunk towards the identity by ``prior_weight``
pseudo-observations, so it starts as the raw model and follows the evidence.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .posterior import predict_final

__all__ = ["CHECKPOINTS", "backtest", "recalibrate"]

CHECKPOINTS = (0.1, 0.2, 0.3, 0.5, 0.7)  # fractions of the budget at which a completed trial is tested


def backtest(budgets: Sequence[float], values: Sequence[float], max_budget: float, final: float,
             min_points: int, min_fraction: float) -> list[list[float]]:
    """``[[fraction, PIT], ...]``: the predictive from each prefix of the curve, evaluated at ``final``.

    Prefixes follow the scheduler's own rules (at least ``min_points`` results, at least
    ``min_fraction`` of the budget), so the PITs describe the predictions it actually decides on.
    """
    b, v = np.asarray(budgets, dtype=float), np.asarray(values, dtype=float)
    out: list[list[float]] = []
    for frac in CHECKPOINTS:
        if frac < min_fraction:
            continue
        k = int(np.searchsorted(b, frac * max_budget, side="right"))
        if k < min_points or (out and k == _last_k(out, b, max_budget)):
            continue
        pred = predict_final(b[:k] / max_budget, v[:k], 1.0)
        out.append([float(frac), float(np.clip(pred.cdf(final), 0.0, 1.0))])
    return out


def _last_k(out: list[list[float]], b: np.ndarray, max_budget: float) -> int:
    return int(np.searchsorted(b, out[-1][0] * max_budget, side="right"))


def recalibrate(p: float, fraction: float, pits: Mapping[str, Sequence[Sequence[float]]],
                prior_weight: float = 2.0) -> float:
    """``R(p)``: the share of completed trials whose PIT (at the checkpoint nearest ``fraction``) is at
    most ``p``, with ``prior_weight`` pseudo-trials that are exactly calibrated (``P(u <= p) = p``)."""
    hits, count = prior_weight * p, prior_weight
    for tests in pits.values():
        if not tests:
            continue
        frac, u = min(tests, key=lambda fu: (abs(fu[0] - fraction), fu[0]))
        hits += float(u <= p)
        count += 1.0
    return hits / count
