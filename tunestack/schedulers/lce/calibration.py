"""Online recalibration of the final-value predictive from the trials that ran to the end.

Curve families extrapolated ten times beyond the data are misspecified in ways no noise model sees (a
boosting curve that keeps creeping down long after it looked saturated).  The run itself shows how well
the predictions hold: every completed trial is back-tested, its own prefixes at a few fractions of the
budget predicting its known final value, which gives probability integral transforms ``u = F(y_final)``.
For a calibrated predictive ``u`` is uniform; a raw probability ``p = F(y*)`` is then recalibrated to
``R(p) = P(u <= p)`` (Kuleshov, Fenner & Ermon 2018, ICML, "Accurate uncertainties for deep learning
using calibrated regression", Alg. 1).  Three estimates of ``R``, each with ``prior_weight``
pseudo-trials that are exactly calibrated:

* ``scale_recalibrate`` (the scheduler's default): the probit PITs ``z = Phi^-1(u)`` are modelled as
  ``N(0, s^2)``: one spread, learnt in both directions.  The completed trials are a selected sample
  (those never stopped), which biases the *location* of their PITs (trials kept because they looked good
  tend to end worse than predicted) and hides the lower tail (a trial that would have ended better than
  predicted may have been stopped).  A spread with the location fixed at zero is the robust part: the
  surprises that survive selection (finals far above the predictive) stand in for those that do not.
* ``probit_recalibrate``: location and spread, ``z ~ N(mu, s^2)``; used only to *raise* a probability.
* ``recalibrate``: the empirical cdf of the PITs (a step function of a few trials); only raises.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import special

from .mixture import Prediction

__all__ = ["CHECKPOINTS", "backtest", "recalibrate", "probit_recalibrate", "scale_recalibrate"]

CHECKPOINTS = (0.1, 0.2, 0.3, 0.5, 0.7)  # fractions of the budget at which a completed trial is tested
_Z_MAX = 5.0  # a PIT of exactly 0 or 1 (a final far outside the predictive) counts as z = -/+5
Pits = Mapping[str, Sequence[Sequence[float]]]


def backtest(budgets: Sequence[float], values: Sequence[float], max_budget: float, final: float,
             min_points: int, min_fraction: float,
             predict: Callable[[np.ndarray, np.ndarray], Prediction]) -> list[list[float]]:
    """``[[fraction, PIT], ...]``: the predictive from each prefix of the curve, evaluated at ``final``.

    ``predict(t, y)`` is the scheduler's own predictive (``t`` = budget / max_budget).  Prefixes follow
    the scheduler's rules (at least ``min_points`` results, at least ``min_fraction`` of the budget), so
    the PITs describe the predictions it actually decides on.
    """
    b, v = np.asarray(budgets, dtype=float), np.asarray(values, dtype=float)
    out: list[list[float]] = []
    last_k = -1
    for frac in CHECKPOINTS:
        k = int(np.searchsorted(b, frac * max_budget, side="right"))
        if frac < min_fraction or k < min_points or k == last_k:
            continue
        pred = predict(b[:k] / max_budget, v[:k])
        out.append([float(frac), float(np.clip(pred.cdf(final), 0.0, 1.0))])
        last_k = k
    return out


def recalibrate(p: float, fraction: float, pits: Pits, prior_weight: float = 2.0) -> float:
    """``R(p)``: the share of completed trials whose PIT (at the checkpoint nearest ``fraction``) is at
    most ``p``, with ``prior_weight`` pseudo-trials that are exactly calibrated (``P(u <= p) = p``)."""
    u = _pits_near(fraction, pits)
    return float((prior_weight * p + np.sum(u <= p)) / (prior_weight + len(u)))


def probit_recalibrate(p: float, fraction: float, pits: Pits, prior_weight: float = 2.0) -> float:
    """``P(u <= p)`` under ``z = Phi^-1(u) ~ N(mu, s^2)``: the conjugate normal-inverse-chi^2 posterior
    with ``prior_weight`` pseudo-trials at ``(0, 1)`` (Gelman et al., BDA 3rd ed., Sec. 3.3) gives a
    Student-t predictive of the next trial's ``z``, evaluated at ``Phi^-1(p)``."""
    z = _probits(_pits_near(fraction, pits))
    n, k0 = len(z), prior_weight
    zbar = float(z.mean()) if n else 0.0
    kn, nun = k0 + n, prior_weight + n
    ss = prior_weight + float(((z - zbar) ** 2).sum()) + k0 * n / kn * zbar ** 2
    scale = math.sqrt(ss / nun * (1.0 + 1.0 / kn))
    return float(special.stdtr(nun, (_probit(p) - n * zbar / kn) / scale))


def scale_recalibrate(p: float, fraction: float, pits: Pits, prior_weight: float = 2.0) -> float:
    """``P(u <= p)`` under ``z = Phi^-1(u) ~ N(0, s^2)``: the scaled-inverse-chi^2 posterior of ``s^2``
    with ``prior_weight`` pseudo-trials at ``s^2 = 1`` gives a Student-t predictive of ``z``."""
    z = _probits(_pits_near(fraction, pits))
    nun = prior_weight + len(z)
    scale = math.sqrt((prior_weight + float((z ** 2).sum())) / nun)
    return float(special.stdtr(nun, _probit(p) / scale))


def _pits_near(fraction: float, pits: Pits) -> np.ndarray:
    """Each completed trial's PIT at its checkpoint nearest ``fraction`` (the earlier one on a tie)."""
    return np.array([min(tests, key=lambda fu: (abs(fu[0] - fraction), fu[0]))[1]
                     for tests in pits.values() if tests], dtype=float)


def _probits(u: np.ndarray) -> np.ndarray:
    return np.clip(special.ndtri(np.clip(u, 0.0, 1.0)), -_Z_MAX, _Z_MAX)


def _probit(p: float) -> float:
    return float(np.clip(special.ndtri(min(max(p, 0.0), 1.0)), -40.0, 40.0))
