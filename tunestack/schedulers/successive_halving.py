"""Synchronous successive halving (Jamieson & Talwalkar 2016; Karnin et al. 2013), the engine under
synchronous Hyperband.

One SH run (a *bracket*) starts ``n`` trials at its first rung; when every trial of a rung has a result
(or failed), the best ``floor(n_k / eta)`` go on to the next rung (Li et al. 2018, Algorithm 1, inner
loop: ``n_i = floor(n * eta**-i)``) and the rest stop.  Trials pause at a rung until it is decided and
are resumed from their checkpoints.  A free worker that would otherwise idle while a rung is still
running opens the next bracket (as HpBandSter does), so the plan never stalls; brackets cycle until the
backend stops, or until ``iterations`` brackets / ``max_trials`` trials when those are set (then
:meth:`next_action` says ``done``).  A backend with a finite number of trials closes the intake
(:meth:`close_intake`): the bracket still filling then decides on the trials it has (the best
``max(1, floor(n / eta))`` of a rung go on, so one of them reaches ``max_budget``).  A failed trial never
blocks a rung: it is dropped from the ranking.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .base import COMPLETED, PAUSED, STOPPED, Action, Decision, SchedulerError, TrialState
from .rungs import ENDED, RungScheduler, hyperband_bracket_sizes, top_k

__all__ = ["SuccessiveHalving", "Bracket"]


@dataclass
class Bracket:
    """One synchronous SH run.  Rung lists are indexed from the bracket's first rung ``start``."""

    index: int
    start: int  # absolute index (into the scheduler's rungs) of the first rung
    stage: int  # absolute index of the rung being filled now
    to_start: int  # new trials still to add to the first rung
    members: list = field(default_factory=list)  # per rung: trial ids
    values: list = field(default_factory=list)  # per rung: {trial id: value (minimization)}
    queue: list = field(default_factory=list)  # promoted trial ids waiting to be resumed, best first
    finished: bool = False

    @property
    def k(self) -> int:
        """Position of the current rung in ``members`` / ``values``."""
        return self.stage - self.start

    def to_json(self) -> dict:
        return {"index": self.index, "start": self.start, "stage": self.stage, "to_start": self.to_start,
                "members": self.members, "values": [list(v.items()) for v in self.values],
                "queue": self.queue, "finished": self.finished}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Bracket":
        return cls(d["index"], d["start"], d["stage"], d["to_start"], [list(m) for m in d["members"]],
                   [dict((k, v) for k, v in items) for items in d["values"]], list(d["queue"]),
                   d["finished"])


class SuccessiveHalving(RungScheduler):
    """Synchronous successive halving; every bracket starts ``n_initial`` trials at ``min_budget``'s rung.

    ``n_initial`` defaults to ``ceil(eta**s_max)`` (one trial reaches ``max_budget``), ``iterations``
    caps the number of brackets, ``max_trials`` the number of trials (a truncated bracket promotes
    ``floor(n / eta)`` of the trials it has).
    """

    name = "sh"

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, n_initial: int | None = None,
                 iterations: int | None = None, max_trials: int | None = None):
        super().__init__(min_budget, max_budget, eta, mode, seed, max_trials)
        for label, v in (("n_initial", n_initial), ("iterations", iterations)):
            if v is not None and (int(v) != v or v < 1):
                raise SchedulerError(f"{label} must be a positive integer or None, got {v!r}")
        self.n_initial = None if n_initial is None else int(n_initial)
        self.iterations = None if iterations is None else int(iterations)
        self.brackets: list[Bracket] = []

    # ---- the plan -----------------------------------------------------------------------------
    def _bracket_plan(self, index: int) -> tuple[int, int]:
        """(first rung index, number of trials) of bracket ``index``."""
        return 0, self.n_initial or hyperband_bracket_sizes(len(self.rungs), self.eta)[0]

    def _may_open(self) -> bool:
        return self.can_add() and (self.iterations is None or len(self.brackets) < self.iterations)

    def _open(self) -> list[Bracket]:
        return [b for b in self.brackets if not b.finished]

    # ---- the contract -----------------------------------------------------------------------------
    def next_action(self) -> Action:
        for b in self._open():  # the oldest bracket with work first (HpBandSter's order)
            if b.to_start > 0:
                return Action("new")
            while b.queue:
                t = self.trials[b.queue.pop(0)]
                if t.status == PAUSED:
                    return self._resume(t, self.rungs[b.stage])
        if self._may_open():  # nothing to run in the open brackets: start the next one, never idle
            return Action("new")
        return Action("wait") if self.any_running() else Action("done")

    def _first_milestone(self, trial_id: str) -> float:
        b = next((b for b in self._open() if b.to_start > 0), None)
        if b is None:
            if not self._may_open():
                raise SchedulerError(f"{self.name!r}: the plan is finished (iterations={self.iterations}, "
                                     f"max_trials={self.max_trials}); next_action() says "
                                     f"{self.next_action().kind!r}, no new trial can be added")
            start, n = self._bracket_plan(len(self.brackets))
            b = Bracket(len(self.brackets), start, start, n, [[]], [{}])
            self.brackets.append(b)
        b.to_start -= 1
        b.members[0].append(trial_id)
        self.trials[trial_id] = TrialState(trial_id, self.rungs[b.start], bracket=b.index)
        if not self.can_add():  # max_trials reached: the bracket keeps the trials it has
            b.to_start = 0
        return self.rungs[b.start]

    def _decide(self, t: TrialState, budget: float, value: float) -> Decision:
        if budget < t.milestone * (1 - 1e-12):
            return Decision("continue", t.milestone)
        b = self.brackets[t.bracket]
        b.values[b.k][t.id] = value
        return self._decide_rung(b, current=t) or self._pause(t)

    def _trial_ended(self, t: TrialState) -> None:
        b = self.brackets[t.bracket]
        if t.id in b.queue:
            b.queue.remove(t.id)
        reached = t.budget_reached
        if (t.status == COMPLETED and t.id in b.members[b.k] and t.id not in b.values[b.k]
                and reached >= self.rungs[b.stage] * (1 - 1e-12) and t.results[reached] is not None):
            b.values[b.k][t.id] = t.results[reached]
        self._decide_rung(b)

    def _intake_closed(self) -> None:
        for b in self._open():  # a bracket still filling keeps the trials it has and decides on them
            if b.to_start > 0:
                b.to_start = 0
                self._decide_rung(b)

    # ---- promotion (Li et al. 2018, Algorithm 1: keep the top floor(n_i / eta)) -----------------------
    def _decide_rung(self, b: Bracket, current: TrialState | None = None) -> Decision | None:
        """Promote when every trial of the current rung is done; the decision for ``current`` if any."""
        if b.finished or b.to_start > 0:
            return None
        members = b.members[b.k]
        if not all(tid in b.values[b.k] or self.trials[tid].status in ENDED for tid in members):
            return None
        if b.stage == len(self.rungs) - 1:
            b.finished = True
            return None
        n_next = max(1, int(math.floor(len(members) / self.eta + 1e-9)))
        ranked = [tid for tid in top_k(b.values[b.k], len(members))
                  if self.trials[tid].status == PAUSED or (current is not None and tid == current.id)]
        promoted = ranked[:n_next]
        for tid in members:
            if tid not in promoted:
                self._stop_paused(self.trials[tid])
        if not promoted:
            b.finished = True
            return None
        b.stage += 1
        b.members.append(promoted)
        b.values.append({})
        b.queue = [tid for tid in promoted if current is None or tid != current.id]
        if current is None:
            return None
        if current.id in promoted:  # the last result of the rung: go on without a pause
            return self._continue_to(current, self.rungs[b.stage])
        return self._finish(current, STOPPED, "stopped early", milestone=True)

    # ---- state ----------------------------------------------------------------------------------
    def _rung_state(self) -> dict:
        return {"n_initial": self.n_initial, "iterations": self.iterations,
                "brackets": [b.to_json() for b in self.brackets]}

    def _set_rung_state(self, state: Mapping[str, Any]) -> None:
        self.n_initial, self.iterations = state.get("n_initial"), state.get("iterations")
        self.brackets = [Bracket.from_json(d) for d in state.get("brackets", [])]
