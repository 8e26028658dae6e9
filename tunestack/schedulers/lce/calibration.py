"""Online recalibration of the final-value predictive, and the value-space prior, from back-tests.

Curve families extrapolated ten times beyond the data are misspecified in ways no noise model sees (a
boosting curve that keeps creeping down long after it looked saturated).  The run itself shows how well
the predictions hold: every completed trial is back-tested, its own prefixes at a few fractions of the
budget predicting its known final value, which gives probability integral transforms ``u = F(y_final)``.
For a calibrated predictive ``u`` is uniform; a raw probability ``p = F(y*)`` is then recalibrated to
``R(p) = P(u <= p)`` (Kuleshov, Fenner & Ermon 2018, ICML, "Accurate uncertainties for deep learning
using calibrated regression", Alg. 1).  Three estimates of ``R``, each with ``prior_weight``
pseudo-trials that are exactly calibrated:

* ``scale_recalibrate`` (the scheduler's default, used only where it raises P(beat)): the probit PITs
  ``z = Phi^-1(u)`` are modelled as ``N(0, s^2)``: one spread.  The completed trials are a selected
  sample (those never stopped), which biases the *location* of their PITs (trials kept because they
  looked good tend to end worse than predicted) and hides the lower tail (a trial that would have ended
  better than predicted may have been stopped).  A spread with the location fixed at zero is the robust
  part: the surprises that survive selection (finals far above the predictive) stand in for those that
  do not.  A spread below 1 (the survivors' finals inside the predictive) would sharpen every P(beat);
  the selected sample does not justify that, and the scheduler then keeps the raw probability.

The same back-tests, and those of the stopped trials on their last result, also give the prior mass
of the log value space (:func:`space_weight`; see :mod:`.posterior`).
* ``probit_recalibrate``: location and spread, ``z ~ N(mu, s^2)``; used only to *raise* a probability.
* ``recalibrate``: the empirical cdf of the PITs (a step function of a few trials); only raises.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import special

from .mixture import Prediction
from .posterior import SPACES

__all__ = ["CHECKPOINTS", "backtest", "pits", "space_weight", "recalibrate", "probit_recalibrate",
           "scale_recalibrate"]

CHECKPOINTS = (0.1, 0.2, 0.3, 0.5, 0.7)  # fractions of the budget at which a completed trial is tested
_Z_MAX = 5.0  # a PIT of exactly 0 or 1 (a final far outside the predictive) counts as z = -/+5
Pits = Mapping[str, Sequence[Sequence[float]]]


def backtest(budgets: Sequence[float], values: Sequence[float], max_budget: float, final: float,
             min_points: int, min_fraction: float,
             predict: Callable[[np.ndarray, np.ndarray, float], Prediction],
             target_budget: float | None = None) -> list[list]:
    """Back-test records ``[[fraction, d, logpdf_identity, cdf_identity, logpdf_log, cdf_log], ...]``: the
    predictive from each prefix of the curve, evaluated at ``final`` in each value space (``None`` where
    the log space was not fitted), and ``d`` = the log evidence of the log space minus the identity's.

    ``predict(t, y, t_target)`` is the scheduler's own predictive (``t`` = budget / max_budget).  The
    target is the value at ``target_budget`` (default ``max_budget``: a completed trial's final; a
    stopped trial is back-tested on its last result), ``budgets`` and ``values`` hold the results before
    it; prefixes end at the ``CHECKPOINTS`` fractions of
    the target budget and follow the scheduler's rules (at least ``min_points`` results, at least
    ``min_fraction`` of ``max_budget``), so the records describe predictions like those it decides on.
    The records do not depend on the space prior: :func:`space_weight` and :func:`pits` can be
    recomputed from them at any time.
    """
    b, v = np.asarray(budgets, dtype=float), np.asarray(values, dtype=float)
    target = float(max_budget if target_budget is None else target_budget)
    out: list[list] = []
    last_k = -1
    for frac in CHECKPOINTS:
        k = int(np.searchsorted(b, frac * target, side="right"))
        if frac * target < min_fraction * max_budget or k < min_points or k == last_k:
            continue
        pred = predict(b[:k] / max_budget, v[:k], target / max_budget)
        rec: list = [float(frac), None]
        for space in SPACES:
            if space in pred.space_log_evidence:
                p = pred.given_space(space)
                rec += [_finite_log(p.logpdf(final)), float(np.clip(p.cdf(final), 0.0, 1.0))]
            else:
                rec += [None, None]
        if "log" in pred.space_log_evidence:
            rec[1] = float(pred.space_log_evidence["log"] - pred.space_log_evidence["identity"])
        out.append(rec)
        last_k = k
    return out


def pits(records: Sequence[Sequence], log_weight: float) -> list[list[float]]:
    """``[[fraction, PIT], ...]`` of the back-test records under the prior mass ``log_weight`` of the log
    space: each space's cdf at the final, weighted by that space's posterior mass."""
    return [[float(r[0]), float(_mix(r, log_weight, cdf=True))] for r in records]


def space_weight(records: Mapping[str, Sequence[Sequence]], prior: float = 2.0) -> float:
    """The prior mass of the log space learnt from back-tests: Bayesian stacking over ``pi``.

    The predictive at prior mass ``pi`` mixes the two spaces with their posterior masses
    ``P(log | y) = sigmoid(logit(pi) + d)``; its log score at the true final, averaged over each trial's
    checkpoints (every completed trial counts once), is the log likelihood of ``pi`` (Yao, Vehtari,
    Simpson & Gelman 2018, Bayesian Analysis, "Using stacking to average Bayesian predictive
    distributions", Sec. 3, with the prior-data fit kept as in BMA).  A Beta(``prior``, ``prior``) prior;
    the posterior mean of ``pi`` on a logit grid.  No back-test with both spaces: 1/2.
    """
    recs = [[r for r in rs if r[1] is not None] for rs in records.values()]
    recs = [rs for rs in recs if rs]
    if not recs:
        return 0.5
    pi = special.expit(_PI_LOGIT)
    loglik = (prior - 1.0) * (np.log(pi) + np.log1p(-pi)) + np.log(pi * (1 - pi))  # prior, d(pi)/d(logit)
    for rs in recs:
        loglik = loglik + np.mean([_mix_log(r, pi) for r in rs], axis=0)
    w = np.exp(loglik - loglik.max())
    return float(np.dot(w, pi) / w.sum())


_PI_LOGIT = np.linspace(-6.0, 6.0, 49)


def _mix(r: Sequence, log_weight: float, cdf: bool) -> float:
    """The hybrid predictive's cdf (or density) at the final from one record."""
    i = 3 if cdf else 2
    if r[1] is None:
        return r[i] if cdf else math.exp(r[i])
    wl = float(special.expit(_logit(log_weight) + r[1]))
    a, b = (r[i], r[i + 2]) if cdf else (math.exp(r[i]), math.exp(r[i + 2]))
    return (1 - wl) * a + wl * b


def _mix_log(r: Sequence, pi: np.ndarray) -> np.ndarray:
    """Log density of the hybrid predictive at the final, for every ``pi`` of a grid."""
    wl = special.expit(special.logit(pi) + r[1])
    return np.logaddexp(np.log1p(-wl) + r[2], np.log(wl) + r[4])


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _finite_log(x: float) -> float:
    """A log density clipped to [-50, 50] (nan: -50), so that the records stay finite JSON numbers."""
    return float(np.clip(x, -_LOG_CLIP, _LOG_CLIP)) if not math.isnan(x) else -_LOG_CLIP


_LOG_CLIP = 50.0


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
