"""Shared parts of the rung-based cores (successive halving, Hyperband, ASHA).

A rung is a budget of :func:`~tunestack.schedulers.base.rung_budgets`; a trial decides only when a
report reaches the rung it runs to (its milestone) and simply continues in between.  This module holds
what the synchronous and the asynchronous cores share: the rung ladder, the trial budget of a plan
(``max_trials``, which :meth:`RungScheduler.close_intake` sets to the trials added), the end-of-trial
hook, the guard against late results, and the list of paused trials that were later stopped (so a
backend can free their checkpoints).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from .base import COMPLETED, FAILED, PAUSED, RUNNING, STOPPED, Decision, Scheduler, SchedulerError, TrialState, \
    rung_budgets

__all__ = ["RungScheduler", "ENDED", "hyperband_bracket_sizes", "top_k"]

ENDED = (STOPPED, COMPLETED, FAILED)


def top_k(values: Mapping[str, float], k: int) -> list[str]:
    """Ids of the ``k`` smallest values; ties keep insertion order (the earlier result wins)."""
    return sorted(values, key=values.__getitem__)[:max(k, 0)]  # sorted() is stable


def hyperband_bracket_sizes(n_rungs: int, eta: float) -> list[int]:
    """Trials per Hyperband bracket, indexed by the bracket's first rung j = 0 .. n_rungs-1.

    Li et al. 2018 (JMLR), Algorithm 1: bracket s = s_max - j starts ``n = ceil((s_max+1)/(s+1) * eta**s)``
    configurations at budget ``R * eta**-s``.
    """
    s_max = n_rungs - 1
    sizes = []
    for j in range(n_rungs):
        s = s_max - j
        sizes.append(int(math.ceil((s_max + 1) / (s + 1) * eta ** s - 1e-9)))
    return sizes


class RungScheduler(Scheduler):
    """Base of the rung-based cores.  ``max_trials`` (optional) caps how many trials the plan starts."""

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, max_trials: int | None = None):
        super().__init__(min_budget, max_budget, eta, mode, seed)
        if max_trials is not None and (int(max_trials) != max_trials or max_trials < 1):
            raise SchedulerError(f"max_trials must be a positive integer or None, got {max_trials!r}")
        self.max_trials = None if max_trials is None else int(max_trials)
        self._stopped_paused: list[str] = []

    # ---- rungs -------------------------------------------------------------------------------
    @property
    def rungs(self) -> list[float]:
        """Rung budgets, smallest first; the last is ``max_budget``."""
        return rung_budgets(self.min_budget, self.max_budget, self.eta)

    def rung_index(self, budget: float) -> int:
        """Index of the rung whose budget is ``budget`` (the milestone a trial runs to)."""
        for i, r in enumerate(self.rungs):
            if math.isclose(r, budget, rel_tol=1e-9, abs_tol=1e-12):
                return i
        raise SchedulerError(f"budget {budget} is not a rung budget of {self.name!r} ({self.rungs})")

    def can_add(self) -> bool:
        """Whether the plan allows another new trial (``max_trials`` not reached)."""
        return self.max_trials is None or len(self.trials) < self.max_trials

    def any_running(self) -> bool:
        return any(t.status == RUNNING for t in self.trials.values())

    # ---- the contract, with the shared guards ---------------------------------------------------
    def on_result(self, trial_id: str, budget: float, value: Any) -> Decision:
        t = self._get(trial_id)
        before = t.status
        dec = super().on_result(trial_id, budget, value)
        if before not in ENDED and t.status in (FAILED, COMPLETED):  # ended by the base class
            self._trial_ended(t)
        return dec

    def on_failure(self, trial_id: str) -> None:
        t = self.trials.get(str(trial_id))
        before = None if t is None else t.status
        super().on_failure(trial_id)
        if t is not None and before != t.status:
            self._trial_ended(t)

    def on_complete(self, trial_id: str) -> None:
        t = self.trials.get(str(trial_id))
        before = None if t is None else t.status
        super().on_complete(trial_id)
        if t is not None and before != t.status:
            self._trial_ended(t)

    def close_intake(self) -> None:
        """No new trial will come: the plan's trial count becomes the number added so far."""
        if self.max_trials is None or self.max_trials > len(self.trials):
            self.max_trials = len(self.trials)
        self._intake_closed()

    def reopen_intake(self, n: int) -> None:
        if self.max_trials is not None and n > 0:
            self.max_trials += int(n)

    def take_stopped(self) -> list[str]:
        """Ids of paused trials this core has since stopped (never to be resumed), each once.

        A backend may free their checkpoints; their ``trial_status`` says ``stopped``.
        """
        out, self._stopped_paused = self._stopped_paused, []
        return out

    # ---- helpers for subclasses -------------------------------------------------------------------
    def _stop_paused(self, t: TrialState, reason: str = "stopped early") -> None:
        if t.status == PAUSED:
            t.status, t.reason = STOPPED, reason
            self._stopped_paused.append(t.id)

    def _continue_to(self, t: TrialState, budget: float) -> Decision:
        """Run on to the next rung straight away (a promotion without a pause)."""
        t.milestone = float(budget)
        return Decision("continue", t.milestone, milestone=True)

    # ---- hooks --------------------------------------------------------------------------------
    def _trial_ended(self, t: TrialState) -> None:
        """Called once when a trial fails or completes outside :meth:`_decide`."""

    def _intake_closed(self) -> None:
        """Called by :meth:`close_intake`: decide what waited for trials that will not come."""

    def _rung_state(self) -> dict:
        return {}

    def _set_rung_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_rung_state`` saved."""

    def _get_state(self) -> dict:
        return {"max_trials": self.max_trials, "stopped_paused": list(self._stopped_paused),
                **self._rung_state()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.max_trials = state.get("max_trials")
        self._stopped_paused = list(state.get("stopped_paused", []))
        self._set_rung_state(state)
