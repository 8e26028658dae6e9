"""Asynchronous successive halving (ASHA) and asynchronous Hyperband.

Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht, Talwalkar 2020, "A system for massively
parallel hyperparameter tuning" (MLSys), Algorithm 2: a trial pauses when it reaches a rung; a free
worker resumes the most promising *promotable* trial -- one in the top ``floor(n_k / eta)`` of its rung
k that was not promoted yet, highest rung first -- and otherwise starts a new trial at the bottom rung.
No worker ever waits for a rung to fill.  When the backend closes its intake (a finite number of trials,
:meth:`~tunestack.schedulers.base.Scheduler.close_intake`), a rung that no running trial can reach any
more promotes its best paused trials up to ``max(1, floor(n_k / eta))``, so the best of the last rungs
still reaches ``max_budget``.  A trial that is promotable the moment it reaches its rung goes
on without a pause (the same choice :meth:`ASHA.next_action` would make for it next).

``promotion=False`` is the stopping variant (Section 3 of the paper; Ray's ``ASHAScheduler``): a trial at a
rung continues when it is in the top ``ceil(n_k / eta)`` of the results seen there so far, else stops.

Asynchronous Hyperband runs several ASHA brackets (bracket j starts at rung j) and samples each new
trial's bracket with probability proportional to the number of trials synchronous Hyperband gives that
bracket (Li et al. 2018, Algorithm 1), so every bracket gets about the same total budget.
"""
from __future__ import annotations

import bisect
import heapq
import math
from typing import Any, Callable, Mapping

import numpy as np

from .base import FAILED, PAUSED, RUNNING, STOPPED, Action, Decision, SchedulerError, TrialState
from .rungs import RungScheduler, hyperband_bracket_sizes

__all__ = ["ASHA", "AsyncHyperband"]


class _Rung:
    """The results at one rung of one bracket, kept sorted for ASHA's top-k query.

    ``values`` (id -> value, in arrival order) and ``promoted`` are the saved state; the sorted list
    (for ranks) and the heap of not-yet-promoted candidates (lazily cleaned: a trial that leaves the
    paused state at this rung never returns to it) are rebuilt from them.  Ties go to the earlier result.
    """

    def __init__(self, values: Mapping[str, float] | None = None, promoted: list | None = None):
        self.values: dict[str, float] = {}
        self.promoted: list[str] = list(promoted or [])
        self._promoted = set(self.promoted)
        self._seq: dict[str, int] = {}
        self._sorted: list[tuple[float, int, str]] = []
        self._heap: list[tuple[float, int, str]] = []
        for tid, v in (values or {}).items():
            self.add(tid, v)

    def __len__(self) -> int:
        return len(self.values)

    def add(self, tid: str, value: float) -> None:
        seq = self._seq.setdefault(tid, len(self._seq))
        if tid in self.values:  # a repeated report (e.g. after a restore): update in place
            old = (self.values[tid], seq, tid)
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self.values[tid] = value
        bisect.insort(self._sorted, (value, seq, tid))
        if tid not in self._promoted:
            heapq.heappush(self._heap, (value, seq, tid))

    def remove(self, tid: str) -> None:
        entry = (self.values.pop(tid), self._seq[tid], tid)
        del self._sorted[bisect.bisect_left(self._sorted, entry)]

    def promote(self, tid: str) -> None:
        self.promoted.append(tid)
        self._promoted.add(tid)

    def n_better(self, value: float) -> int:
        """How many results here are strictly better than ``value``."""
        return bisect.bisect_left(self._sorted, (value, -1, ""))

    def best_unpromoted(self, paused: Callable[[str], bool]) -> str | None:
        """The best paused trial here that has not gone on, whatever its rank."""
        return next((tid for _, _, tid in self._sorted if tid not in self._promoted and paused(tid)), None)

    def best_promotable(self, eta: float, paused: Callable[[str], bool]) -> str | None:
        """The best paused, unpromoted trial in the top ``floor(n / eta)``, if any (Li et al. 2020, Alg. 2)."""
        k = int(math.floor(len(self.values) / eta + 1e-9))
        while self._heap:
            value, seq, tid = self._heap[0]
            if tid in self._promoted or self.values.get(tid) != value or not paused(tid):
                heapq.heappop(self._heap)  # no longer a candidate here, ever
                continue
            return tid if bisect.bisect_left(self._sorted, self._heap[0]) < k else None
        return None


class ASHA(RungScheduler):
    """Asynchronous successive halving, promotion-based (pause and resume) unless ``promotion=False``.

    ``brackets`` (default 1) runs that many ASHA brackets as in :class:`AsyncHyperband`;
    ``max_trials`` caps the number of trials started (the intake is then closed; :meth:`next_action` ends
    with ``done``).
    """

    name = "asha"

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, promotion: bool = True,
                 brackets: int | None = 1, max_trials: int | None = None):
        super().__init__(min_budget, max_budget, eta, mode, seed, max_trials)
        n = len(self.rungs)
        brackets = n if brackets is None else brackets
        if int(brackets) != brackets or not 1 <= brackets <= n:
            raise SchedulerError(f"brackets must be an integer in [1, {n}] (the number of rungs for "
                                 f"min_budget={min_budget}, max_budget={max_budget}, eta={eta}), got {brackets!r}")
        self.promotion = bool(promotion)
        self.n_brackets = int(brackets)
        # per bracket, per absolute rung index (a bracket starting at rung j leaves rungs < j empty)
        self.table: list[list[_Rung]] = [[_Rung() for _ in range(n)] for _ in range(self.n_brackets)]

    # ---- the contract -----------------------------------------------------------------------------
    def next_action(self) -> Action:
        if self.promotion:
            best = self._best_promotable()
            if best is not None:
                b, r, tid = best
                self.table[b][r].promote(tid)
                return self._resume(self.trials[tid], self.rungs[r + 1])
        if self.can_add():
            return Action("new")
        return Action("wait") if self.any_running() else Action("done")

    def _first_milestone(self, trial_id: str) -> float:
        if not self.can_add():
            raise SchedulerError(f"{self.name!r}: max_trials={self.max_trials} trials were started; "
                                 "no new trial can be added")
        b = 0 if self.n_brackets == 1 else int(self.rng.choice(self.n_brackets, p=self._bracket_probs()))
        self.trials[trial_id] = TrialState(trial_id, self.rungs[b], bracket=b)
        return self.rungs[b]

    def _decide(self, t: TrialState, budget: float, value: float) -> Decision:
        if budget < t.milestone * (1 - 1e-12):
            return Decision("continue", t.milestone)
        b, r = t.bracket, self.rung_index(t.milestone)
        rung = self.table[b][r]
        rung.add(t.id, value)
        if not self.promotion:
            if rung.n_better(value) < math.ceil(len(rung) / self.eta):
                rung.promote(t.id)
                return self._continue_to(t, self.rungs[r + 1])
            return self._finish(t, STOPPED, "stopped early", milestone=True)
        t.status = PAUSED  # as if paused: would the next free worker resume exactly this trial?
        if self._best_promotable() == (b, r, t.id):
            t.status = RUNNING
            rung.promote(t.id)
            return self._continue_to(t, self.rungs[r + 1])
        return self._pause(t)

    def _trial_ended(self, t: TrialState) -> None:
        # a failed (or prematurely finished) trial leaves the rungs it was not promoted from, so it never
        # takes a promotion slot (it is dropped, Li et al. 2020 treat it as lost work)
        for rung in self.table[t.bracket]:
            if t.id in rung.values and t.id not in rung.promoted:
                rung.remove(t.id)

    # ---- promotion (Li et al. 2020, Algorithm 2, get_job) --------------------------------------------
    def _best_promotable(self) -> tuple[int, int, str] | None:
        """(bracket, rung, id) of the paused trial to promote next: highest rung first, best value first."""
        paused = self._is_paused
        for r in range(len(self.rungs) - 2, -1, -1):
            for b in range(min(self.n_brackets, r + 1)):
                tid = self.table[b][r].best_promotable(self.eta, paused)
                if tid is not None:
                    return b, r, tid
        return None if self.can_add() else self._last_promotable()

    def _last_promotable(self) -> tuple[int, int, str] | None:
        """With the intake closed (no new trial will come), a rung that no running trial can still reach
        promotes its best paused trials until ``max(1, floor(n_k / eta))`` of it went on, as synchronous
        SH would with the trials it has: otherwise a rung with fewer than ``eta`` results, which ASHA
        promotes from only once more trials arrive, would keep every trial below ``max_budget``.
        Lowest rung first, so a rung's promotions come in before the rung above decides."""
        for b in range(self.n_brackets):
            running = [t.milestone for t in self.trials.values() if t.status == RUNNING and t.bracket == b]
            for r in range(b, len(self.rungs) - 1):
                if any(m <= self.rungs[r] * (1 + 1e-12) for m in running):
                    break  # rung r (and every rung above it) may still get results
                rung = self.table[b][r]
                gone_on = sum(1 for tid in rung.promoted if self.trials[tid].status != FAILED)
                if not rung.values or gone_on >= max(1, int(math.floor(len(rung) / self.eta + 1e-9))):
                    continue
                tid = rung.best_unpromoted(self._is_paused)
                if tid is not None:
                    return b, r, tid
        return None

    def _is_paused(self, tid: str) -> bool:
        return self.trials[tid].status == PAUSED

    def _bracket_probs(self) -> np.ndarray:
        sizes = np.array(hyperband_bracket_sizes(len(self.rungs), self.eta)[:self.n_brackets], dtype=float)
        return sizes / sizes.sum()

    # ---- state ----------------------------------------------------------------------------------
    def _rung_state(self) -> dict:
        return {"promotion": self.promotion, "n_brackets": self.n_brackets,
                "values": [[list(rung.values.items()) for rung in per_b] for per_b in self.table],
                "promoted": [[rung.promoted for rung in per_b] for per_b in self.table]}

    def _set_rung_state(self, state: Mapping[str, Any]) -> None:
        self.promotion, self.n_brackets = bool(state["promotion"]), int(state["n_brackets"])
        self.table = [[_Rung(dict((k, v) for k, v in items), promoted) for items, promoted in zip(vals, proms)]
                      for vals, proms in zip(state["values"], state["promoted"])]


class AsyncHyperband(ASHA):
    """Asynchronous Hyperband: ASHA brackets starting at every rung (``brackets`` defaults to all),
    each new trial's bracket sampled in proportion to Hyperband's bracket sizes."""

    name = "async_hyperband"

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, promotion: bool = True,
                 brackets: int | None = None, max_trials: int | None = None):
        super().__init__(min_budget, max_budget, eta, mode, seed, promotion, brackets, max_trials)
