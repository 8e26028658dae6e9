"""The learning-curve extrapolation stopping rule (Domhan, Springenberg & Hutter 2015, IJCAI, Sec. 3.2).

After each result of a trial, the posterior predictive of its value at ``max_budget`` (see
:mod:`.posterior`) gives ``p = P(final < y*)``, the probability that the trial ends better than the
incumbent ``y*`` (the best value at ``max_budget`` of a completed trial).  The trial is stopped when
``p < threshold`` (the paper's delta = 0.05).  ``p`` first goes through a recalibration map learnt from
back-tests of the completed trials (``recalibration``; see :mod:`.calibration`).  The predictive
averages over two value spaces (the curve and, when it stays on one side of the metric's optimum, the
logarithm of its distance to it, option ``optimum``; :mod:`.posterior`) with
prior masses learnt from back-tests of the run's own ended trials: completed ones on their finals,
stopped ones on their last result (``log_weight``; Bayesian stacking, Yao et al. 2018).  Fits are
taken at the first result allowed to decide and then on a geometric grid of budgets (``check_growth``), so their
number grows with the log of the budget, not with the number of results.  The rule never pauses and a
free worker always starts a new trial; until ``min_completed`` trials have run to the end there is no
incumbent and nothing is stopped (except divergence).

A stopped trial's :class:`~tunestack.schedulers.base.Decision` carries ``predicted``: the *median* of the
predictive.  Domhan et al. return the predictive mean; the mixture's mean is pulled far by the heavy tail
of one wildly extrapolating family on a short prefix, while the median is robust and, because the trial
was stopped with ``P(final < y*) < threshold < 0.5``, lies on the losing side of the incumbent (it is
clipped to ``y*`` in the rare case where recalibration alone made the stop), so a model-based searcher
never mistakes a stopped trial for a new best.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..base import COMPLETED, FAILED, RUNNING, STOPPED, Decision, Scheduler, SchedulerError, TrialState
from .calibration import backtest, pits, probit_recalibrate, recalibrate as empirical_recalibrate
from .calibration import scale_recalibrate, space_weight
from .mixture import Prediction
from .posterior import G_PRIORS, MIN_POINTS, SPACES, TEMPER, predict_final

__all__ = ["LCEScheduler"]


class LCEScheduler(Scheduler):
    """Stop a trial when its extrapolated final value is unlikely to beat the incumbent.

    ``threshold``: stop when P(final beats the incumbent) falls below it.  ``min_points`` /
    ``min_fraction``: no prediction before that many results and before ``min_fraction * max_budget``.
    ``min_completed``: trials that must complete before anything is stopped.  ``check_growth``: after the
    first eligible result, fit again when the budget passes a point of the grid ``max_budget *
    check_growth^-k`` (1 = at every result); ``check_every``: only at every k-th result.
    ``divergence_factor``: a value worse than the trial's best so far by this many times the trial's own
    scale (its improvement from the first value, or the magnitude of its best value) stops it as
    diverged.  ``max_points``: longer curves are thinned evenly (the last point kept) to bound the cost
    of a fit.  ``recalibration``: ``"scale_widen"`` (default; a spread of the probit PITs, applied only
    where it widens the predictive, i.e. raises P(beat)), ``"scale"`` (the same spread in both
    directions), ``"probit"`` or ``"empirical"`` (these two only ever raise P(beat)), or ``"none"``; the
    raw model counts as ``prior_weight`` completed trials.  ``temper`` and ``g_prior``: the posterior's shape
    learning rate and g prior (see :mod:`.posterior`; for ablations).  ``spaces``: the value spaces
    fitted (``["identity", "log"]``; one alone for ablations).  ``burn_in``: fit only the points after
    ``burn_in x`` the trial's last budget (at least ``posterior.BURN_KEEP`` stay; default 0: tried on development curves, it
    saves more but stops noisy plateaus that end best, ``benchmarks/lce/README.md``).  ``bounded``:
    condition every prediction on a positive final while every result of the run so far has been
    positive (a loss, an error rate; default off: on development curves it saved 2-5 points more and
    stopped the noisy eventual best of one generated set in 3 of 20 seeds, ``benchmarks/lce/README.md``).
    ``optimum``: the best value the metric can take, in the user's direction (0 for a loss or an error
    rate, 1 for an accuracy); the log value space fits the logarithm of the curve's distance to it, so an
    accuracy curve (``mode="max"``) gets the log space as an error curve does.  ``"auto"`` (default): 0
    with ``mode="min"``; with ``mode="max"``, 1 if the run's first result lies in [0, 1] (an accuracy,
    an AUC, an F1 score), else 0.  The identity space does not depend on it.
    """

    name = "lce"
    reads_curves = True

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, threshold: float = 0.05,
                 min_points: int = 5, min_fraction: float = 0.1, min_completed: int = 3,
                 check_growth: float = 1.1, check_every: int = 1, divergence_factor: float = 10.0,
                 max_points: int = 100, recalibration: str = "scale_widen", prior_weight: float = 2.0,
                 temper: float = TEMPER, g_prior: str = "hyper-g/n", spaces: tuple[str, ...] | list = SPACES,
                 burn_in: float = 0.0, bounded: bool = False, optimum: float | str = "auto"):
        super().__init__(min_budget, max_budget, eta, mode, seed)
        _check("threshold", threshold, 0.0 < threshold < 0.5, "in (0, 0.5)")
        _check("min_points", min_points, isinstance(min_points, int) and min_points >= MIN_POINTS,
               f"an integer >= {MIN_POINTS}")
        _check("min_fraction", min_fraction, 0.0 <= min_fraction < 1.0, "in [0, 1)")
        _check("min_completed", min_completed, isinstance(min_completed, int) and min_completed >= 1,
               "an integer >= 1")
        _check("check_growth", check_growth, check_growth >= 1.0, ">= 1 (1: decide at every result)")
        _check("check_every", check_every, isinstance(check_every, int) and check_every >= 1,
               "an integer >= 1")
        _check("divergence_factor", divergence_factor, divergence_factor > 1.0, "> 1")
        _check("max_points", max_points, isinstance(max_points, int) and max_points >= min_points,
               "an integer >= min_points")
        _check("recalibration", recalibration, recalibration in _RECAL, f"one of {list(_RECAL)}")
        _check("prior_weight", prior_weight, prior_weight > 0, "> 0")
        _check("temper", temper, 0.0 < temper <= 1.0, "in (0, 1]")
        _check("g_prior", g_prior, g_prior in G_PRIORS, f"one of {list(G_PRIORS)}")
        _check("spaces", spaces, bool(spaces) and all(sp in SPACES for sp in spaces), f"a subset of {list(SPACES)}")
        _check("burn_in", burn_in, 0.0 <= burn_in < 1.0, "in [0, 1)")
        self.threshold, self.min_points, self.min_fraction = float(threshold), min_points, float(min_fraction)
        self.min_completed, self.check_growth, self.check_every = min_completed, float(check_growth), check_every
        self.divergence_factor, self.max_points = float(divergence_factor), max_points
        self.recalibration, self.prior_weight = recalibration, float(prior_weight)
        self.temper, self.g_prior, self.spaces = float(temper), g_prior, [str(sp) for sp in spaces]
        self.burn_in = float(burn_in)
        _check("bounded", bounded, isinstance(bounded, bool), "True or False")
        self.bounded = bounded
        _check("optimum", optimum,
               optimum == "auto" or (not isinstance(optimum, (bool, str)) and _finite(optimum)),
               '"auto" or a finite number')
        self.optimum = optimum if optimum == "auto" else float(optimum)
        # the optimum in the minimization direction (the results' direction); None until "auto" resolves
        self.floor: float | None = None if optimum == "auto" else self._to_min(float(optimum))
        self._positive = True  # every result of the run so far > floor (in the minimization direction)
        self.last_prediction: dict[str, dict] = {}  # trial id -> the latest decision's numbers
        self.backtests: dict[str, list[list]] = {}  # completed trial id -> back-test records (its final)
        self.horizon_tests: dict[str, list[list]] = {}  # stopped trial id -> back-tests of its last result
        self.pits: dict[str, list[list[float]]] = {}  # completed trial id -> [[fraction, PIT], ...]
        self.log_weight = 0.5  # prior mass of the log value space, learnt from the back-tests

    # ---- the contract ------------------------------------------------------------------------------
    def on_result(self, trial_id: str, budget: float, value: Any) -> Decision:
        t = self._get(trial_id)
        if t.status == RUNNING and not _finite(value):
            t.results[float(budget)] = None
            return self._finish(t, FAILED, f"failed: diverged (the value at budget {float(budget):g} is "
                                           f"{value!r}, not a finite number)")
        if _finite(value) and self.floor is None:  # optimum "auto": decided by the run's first result
            self.floor = -1.0 if self.mode == "max" and 0.0 <= float(value) <= 1.0 else 0.0
        if _finite(value) and self._to_min(float(value)) <= self._floor():
            self._positive = False  # before the decision this value is part of
        was_running = t.status == RUNNING
        dec = super().on_result(trial_id, budget, value)
        if was_running and t.status in (COMPLETED, STOPPED):
            self._backtest(t)
        return dec

    def _floor(self) -> float:
        return 0.0 if self.floor is None else self.floor

    def notes(self) -> list[str]:
        """Why nothing was stopped, when a setting made stopping impossible; when the log value space
        was not used, why, and the option that would give it."""
        return [n for n in (self._idle_note(), self._space_note()) if n]

    def _idle_note(self) -> str | None:
        if not self.trials or any(t.status == STOPPED for t in self.trials.values()):
            return None
        longest = max(len(t.results) for t in self.trials.values())
        if longest < self.min_points:
            lower = f" or lower scheduler_kwargs min_points (>= {MIN_POINTS})" if longest >= MIN_POINTS else ""
            return (f"lce stopped no trial: it decides after {self.min_points} results of a trial and no trial "
                    f"reported more than {longest}; report more often (every epoch){lower}")
        completed = sum(1 for t in self.trials.values() if t.status == COMPLETED)
        if completed < self.min_completed:
            return (f"lce stopped no trial: it needs {self.min_completed} trials completed at max_budget "
                    f"(its incumbent) before it stops any, and {completed} completed")
        return None

    def _space_note(self) -> str | None:
        if self.floor is None or "log" not in self.spaces:
            return None
        if self.optimum == "auto" and self.mode == "max" and self.floor == 0.0:
            return ("lce fitted the curves without its log value space: with mode='max' the first result lay "
                    "outside [0, 1], so optimum='auto' knows no best value; if the metric has one (100 for a "
                    "percentage), pass scheduler_kwargs={'optimum': 100}")
        if not self._positive:
            beyond = [v for t in self.trials.values() for v in t.results.values()
                      if v is not None and v <= self.floor]
            worst = f" ({self._to_min(min(beyond)):g})" if beyond else ""
            if self.optimum == "auto" and self.mode == "min":
                return (f"lce turned its log value space off: a result{worst} was <= 0, so the metric "
                        "is not a loss or an error rate bounded by 0; pass scheduler_kwargs={'optimum': "
                        "<its best value>} if it has one")
            return (f"lce turned its log value space off: a result{worst} reached or passed "
                    f"optimum={self._to_min(self.floor):g}; check the optimum")
        return None

    def incumbent(self) -> float | None:
        """The best value at ``max_budget`` among completed trials (minimization), if enough completed."""
        finals = [v for t in self.trials.values() if t.status == COMPLETED
                  for b, v in t.results.items() if b >= self.max_budget and v is not None]
        return min(finals) if len(finals) >= self.min_completed else None

    def predict(self, trial_id: str) -> Prediction:
        """The posterior predictive of the trial's value at ``max_budget``, in the minimization direction
        and less ``floor`` (the optimum in that direction: 0 unless ``optimum`` says otherwise)."""
        budgets, values = self._curve(self._get(trial_id))
        if len(budgets) < MIN_POINTS:
            raise SchedulerError(f"trial {trial_id!r} has {len(budgets)} finite results; a prediction "
                                 f"needs at least {MIN_POINTS}")
        return self._predict(np.asarray(budgets) / self.max_budget, np.asarray(values))

    def _predict(self, t: np.ndarray, y: np.ndarray, t_target: float = 1.0) -> Prediction:
        prior = {"identity": 1.0 - self.log_weight, "log": self.log_weight}
        lower = 0.0 if self.bounded and self._positive else None
        return predict_final(t, y, t_target, temper=self.temper, g_prior=self.g_prior, spaces=tuple(self.spaces),
                             space_prior=prior, burn_in=self.burn_in, lower=lower)

    # ---- the decision ------------------------------------------------------------------------------
    def _decide(self, t: TrialState, budget: float, value: float) -> Decision:
        diverged = self._divergence(t, value)
        if diverged:
            return self._finish(t, STOPPED, f"stopped early: diverged ({diverged})")
        y_star = self.incumbent()
        if y_star is None or not self._due(t):
            return Decision("continue", t.milestone)
        budgets, values = self._curve(t)
        n = len(budgets)
        pred = self._predict(np.asarray(budgets) / self.max_budget, np.asarray(values))
        p_raw = pred.cdf(y_star - self._floor())
        p_beat = self._recalibrated(p_raw, budget / self.max_budget)
        self.last_prediction[t.id] = {"budget": budget, "p_raw": p_raw, "p_beat": p_beat}
        if p_beat < self.threshold:
            median = pred.median() + self._floor()  # only a stop needs it: half the cost of a decision
            self.last_prediction[t.id]["median"] = median
            return self._finish(t, STOPPED, f"stopped early: P(final beats the incumbent) = {p_beat:.3g} "
                                            f"< {self.threshold:g} after {n} results",
                                predicted=max(median, y_star))
        return Decision("continue", t.milestone)

    def _recalibrated(self, p: float, fraction: float) -> float:
        """``p`` through the recalibration map; every map but ``"scale"`` may only raise it.

        The back-tested trials are a selected sample (those the rule let complete), so a map learnt from
        them that *sharpens* the predictive is not trusted by default (``"scale_widen"``): on development
        curves the two-sided spread turned P(beat) = 0.1 at 12% of the budget into 0.03 and stopped the
        eventual best trial (``benchmarks/lce/README.md``).
        """
        if self.recalibration == "none":
            return p
        mapped = _RECAL[self.recalibration](p, fraction, self.pits, self.prior_weight)
        return mapped if self.recalibration == "scale" else max(p, mapped)

    def _due(self, t: TrialState) -> bool:
        """Whether the trial's latest result is a decision point.

        Decisions need ``min_points`` results and ``min_fraction`` of the budget.  After the first
        eligible result, a decision is taken when the budget passes a point of the geometric grid
        ``max_budget * check_growth^-k`` (and at every ``check_every``-th result).  A trial that a fit at
        every result would stop at budget ``b`` is stopped by the next grid point, ``b * check_growth``
        at the latest (if its prediction stays below the threshold): the grid costs at most a
        ``check_growth - 1`` share of a stopped trial's budget.
        """
        pts = sorted(b for b, v in t.results.items() if v is not None and b < self.max_budget)
        n = len(pts)
        if not self._eligible(n, pts[-1] if pts else 0.0) or (n - self.min_points) % self.check_every:
            return False
        if n < 2 or not self._eligible(n - 1, pts[-2]) or self.check_growth <= 1.0:
            return True
        return _grid_index(pts[-1], self.max_budget, self.check_growth) < _grid_index(
            pts[-2], self.max_budget, self.check_growth)

    def _eligible(self, n: int, budget: float) -> bool:
        return n >= self.min_points and budget >= self.min_fraction * self.max_budget

    def _backtest(self, t: TrialState) -> None:
        """Back-test an ended trial's own prefix predictions: the data of the learnt space prior
        (``log_weight``, Bayesian stacking) and, for a completed trial, of the recalibration (PITs of
        its final under that prior).  A stopped trial is back-tested on its last result (it has no
        final): without it the stacking would only see the trials the rule kept."""
        budgets, values = self._curve(t)
        if t.status == COMPLETED:
            finals = [v for b, v in t.results.items() if b >= self.max_budget and v is not None]
            if not finals:
                return
            self.backtests[t.id] = backtest(budgets, values, self.max_budget, finals[-1] - self._floor(),
                                            self.min_points, self.min_fraction, self._predict)
        elif len(budgets) > self.min_points:
            recs = backtest(budgets[:-1], values[:-1], self.max_budget, values[-1], self.min_points,
                            self.min_fraction, self._predict, target_budget=budgets[-1])
            if recs:
                self.horizon_tests[t.id] = recs
        if "log" in self.spaces and "identity" in self.spaces:
            self.log_weight = space_weight({**self.horizon_tests, **self.backtests})
        self._update_pits()

    def _update_pits(self) -> None:
        """The completed trials' PITs under the current space weight (the recalibration data)."""
        self.pits = {k: pits(v, self.log_weight) for k, v in self.backtests.items()}

    def _divergence(self, t: TrialState, value: float) -> str:
        """Why ``value`` counts as an exploding curve, or ``""`` (a scale-free, direction-free rule)."""
        floor = self._floor()  # values as distances to the optimum: an accuracy's scale is its error's
        finite = [v - floor for _, v in sorted(t.results.items()) if v is not None]
        if len(finite) < 2:
            return ""
        value -= floor
        best = min(finite[:-1])
        scale = max(abs(finite[0] - best), abs(best), 1e-12)
        jump = (value - best) / scale
        if jump > self.divergence_factor:
            return f"worse than its best by {jump:.3g} times its own scale, limit {self.divergence_factor:g}"
        return ""

    def _curve(self, t: TrialState) -> tuple[list[float], list[float]]:
        """The trial's finite results below ``max_budget`` less ``floor``, thinned to at most ``max_points``."""
        floor = self._floor()
        pts = sorted((b, v - floor) for b, v in t.results.items() if v is not None and b < self.max_budget)
        if len(pts) > self.max_points:
            step = (len(pts) - 1) / (self.max_points - 1)
            pts = [pts[int(round(i * step))] for i in range(self.max_points)]
        return [b for b, _ in pts], [v for _, v in pts]

    # ---- state ---------------------------------------------------------------------------------
    def _get_state(self) -> dict:
        return {**{k: getattr(self, k) for k in _OPTIONS}, "last_prediction": self.last_prediction,
                "backtests": self.backtests, "horizon_tests": self.horizon_tests, "log_weight": self.log_weight,
                "floor": self.floor}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        for key in _OPTIONS:
            if key in state:
                setattr(self, key, state[key])
        self.last_prediction = {k: dict(v) for k, v in (state.get("last_prediction") or {}).items()}
        self.backtests = {k: [list(x) for x in v] for k, v in (state.get("backtests") or {}).items()}
        self.horizon_tests = {k: [list(x) for x in v] for k, v in (state.get("horizon_tests") or {}).items()}
        self.log_weight = float(state.get("log_weight", 0.5))
        self.floor = state.get("floor", 0.0 if self.optimum == "auto" else self._to_min(self.optimum))
        self._positive = all(v is None or v > self._floor()
                             for t in self.trials.values() for v in t.results.values())
        self._update_pits()


_OPTIONS = ("threshold", "min_points", "min_fraction", "min_completed", "check_growth", "check_every",
            "divergence_factor", "max_points", "recalibration", "prior_weight", "temper", "g_prior", "spaces",
            "burn_in", "bounded", "optimum")
_RECAL = {"scale": scale_recalibrate, "scale_widen": scale_recalibrate, "probit": probit_recalibrate,
          "empirical": empirical_recalibrate, "none": None}


def _grid_index(budget: float, max_budget: float, growth: float) -> int:
    """The ``k`` of the largest grid point ``max_budget * growth^-k`` at or below ``budget``."""
    return math.ceil(math.log(max_budget / budget) / math.log(growth) - 1e-9)


def _check(name: str, value: Any, ok: bool, what: str) -> None:
    if not ok:
        raise SchedulerError(f"LCEScheduler: {name} must be {what}, got {value!r}")


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
