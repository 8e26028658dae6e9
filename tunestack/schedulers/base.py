"""The scheduler contract: a pure multi-fidelity decision core with JSON state.

A scheduler core knows trial ids, budgets and values, never a Ray trial.  A backend (the Ray adapter,
the simulator) drives it like this::

    act = core.next_action()              # a worker is free: what should it do?
    if act.kind == "new":                 #   start a new trial (the backend asks the searcher)
        milestone = core.add_trial(tid)   #   and runs it up to this budget
    elif act.kind == "resume":            #   resume paused trial act.trial_id up to act.budget
        ...
    # "wait": nothing to start until a running trial reports; "done": the plan is finished
    dec = core.on_result(tid, budget, value)   # after every reported result
    # dec.action: "continue" (run on to dec.budget), "pause" (checkpoint, free the worker; the trial
    # may be resumed later) or "stop" (dec.reason says why: "completed", "stopped early", ...)
    core.close_intake()                   # a backend with a finite number of trials: the last is added

After :meth:`Scheduler.close_intake` no new trial comes, so the rung-based cores decide their rungs with
the trials they have (a truncated bracket promotes its best ``floor(n / eta)``, at least one), and at least
one trial that reached the first rung goes on to ``max_budget`` instead of waiting for results that will
never arrive.  A core that reads whole learning curves (``reads_curves``, the ``lce`` rule) wants a
result at every step of training, not only at its milestones; the simulator then reports every
``min_budget``.

Budgets are whatever the user chooses (epochs, iterations, data fraction) between ``min_budget`` and
``max_budget``.  Cores minimize: ``mode="max"`` flips values once, in :meth:`Scheduler.on_result`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from .._registry import resolve_seed

__all__ = ["Action", "Decision", "Scheduler", "SchedulerError", "TrialState", "rung_budgets"]

STATE_FORMAT = 1

RUNNING, PAUSED, STOPPED, COMPLETED, FAILED = "running", "paused", "stopped", "completed", "failed"


class SchedulerError(ValueError):
    """A scheduler was configured or driven in a way its contract does not allow."""


@dataclass(frozen=True)
class Action:
    """What a free worker should do: ``new`` | ``resume`` (``trial_id`` to ``budget``) | ``wait`` | ``done``."""

    kind: str
    trial_id: str | None = None
    budget: float | None = None


@dataclass(frozen=True)
class Decision:
    """What a trial does after a result.

    ``action``: ``continue`` (run on until ``budget``), ``pause`` or ``stop``.  ``reason`` says why a
    trial stops (``completed``, ``stopped early``).  ``milestone`` is true when the result is at a budget
    the scheduler decides on (the backend tells the searcher these results).  ``predicted`` is a
    predicted final value (user's direction) when a trial is stopped on a prediction.
    """

    action: str
    budget: float | None = None
    reason: str = ""
    milestone: bool = False
    predicted: float | None = None


@dataclass
class TrialState:
    """A scheduler's view of one trial."""

    id: str
    milestone: float  # the budget the trial currently runs to
    status: str = RUNNING
    results: dict = field(default_factory=dict)  # budget -> value (minimization; None = failed)
    bracket: int = 0
    reason: str = ""

    @property
    def budget_reached(self) -> float:
        return max(self.results) if self.results else 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "milestone": self.milestone, "status": self.status,
                "results": [[b, v] for b, v in self.results.items()], "bracket": self.bracket,
                "reason": self.reason}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "TrialState":
        return cls(d["id"], d["milestone"], d["status"], {float(b): v for b, v in d["results"]},
                   d["bracket"], d["reason"])


def rung_budgets(min_budget: float, max_budget: float, eta: float) -> list[float]:
    """Budgets of the successive-halving rungs, ``max_budget * eta**-k`` for k = s_max .. 0
    (Li et al. 2018, Hyperband; Falkner et al. 2018, BOHB), smallest first, all >= ``min_budget``."""
    s_max = int(math.floor(math.log(max_budget / min_budget) / math.log(eta) + 1e-9))
    return [max_budget * eta ** (-k) for k in range(s_max, -1, -1)]


class Scheduler:
    """Base class of every scheduler core.  Subclasses implement the decisions."""

    name: ClassVar[str] = "base"
    #: the scheduler reads whole learning curves: a backend without a natural reporting interval (the
    #: simulator) reports every ``min_budget`` of training, not only at the budgets decided at
    reads_curves: ClassVar[bool] = False

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None):
        if mode not in ("min", "max"):
            raise SchedulerError(f"mode must be 'min' or 'max', got {mode!r}")
        if not (0 < min_budget <= max_budget) or not math.isfinite(max_budget):
            raise SchedulerError(f"need 0 < min_budget <= max_budget < inf, got min_budget={min_budget}, "
                                 f"max_budget={max_budget}")
        if not eta > 1:
            raise SchedulerError(f"eta must be > 1, got {eta}")
        self.min_budget, self.max_budget, self.eta = float(min_budget), float(max_budget), float(eta)
        self.mode = mode
        self.seed = resolve_seed(seed, SchedulerError)
        self.rng = np.random.default_rng(self.seed)
        self.trials: dict[str, TrialState] = {}

    # ---- the contract (subclasses override the underscored parts) ---------------------------------
    def next_action(self) -> Action:
        return Action("new")

    def add_trial(self, trial_id: str) -> float:
        tid = str(trial_id)
        if tid in self.trials:
            raise SchedulerError(f"trial {tid!r} was already added")
        milestone = self._first_milestone(tid)
        self.trials.setdefault(tid, TrialState(tid, milestone))
        self.trials[tid].milestone = milestone
        return milestone

    def on_result(self, trial_id: str, budget: float, value: Any) -> Decision:
        t = self._get(trial_id)
        if t.status in (STOPPED, COMPLETED, FAILED):  # a late report never revives an ended trial
            return Decision("stop", t.milestone, t.reason or t.status)
        v = _to_value(value)
        if v is not None:
            v = self._to_min(v)
        t.results[float(budget)] = v
        if t.status == PAUSED:  # a result after a pause (a backend that reports late): keep it paused
            return Decision("pause", t.milestone)
        t.status = RUNNING
        if v is None:
            return self._finish(t, FAILED, "failed: the reported value is not a finite number")
        if budget >= self.max_budget:
            return self._finish(t, COMPLETED, "completed", milestone=True)
        return self._decide(t, float(budget), v)

    def on_failure(self, trial_id: str) -> None:
        t = self.trials.get(str(trial_id))
        if t is not None and t.status in (RUNNING, PAUSED):
            t.status, t.reason = FAILED, "failed"

    def on_complete(self, trial_id: str) -> None:
        """The trial's function returned by itself."""
        t = self.trials.get(str(trial_id))
        if t is not None and t.status in (RUNNING, PAUSED):
            t.status, t.reason = COMPLETED, t.reason or "completed"

    def close_intake(self) -> None:
        """No new trial will be added (the backend's trial count is reached); idempotent.

        Cores that never pause a trial have nothing to do; the rung-based ones override it."""

    def reopen_intake(self, n: int) -> None:
        """``n`` more trials will be added after all (a resumed job re-running lost trials)."""

    def notes(self) -> list[str]:
        """What the user should know about how this run was decided (a setting that did not fit the
        metric, say); the run summary prints them.  None (an empty list) by default."""
        return []

    def take_stopped(self) -> list[str]:
        """Ids of *paused* trials this core has since stopped (never to be resumed), each id once.

        A backend calls it after each decision to stop those trials and free their checkpoints.
        """
        return []

    def trial_status(self, trial_id: str) -> dict:
        t = self._get(trial_id)
        return {"status": t.status, "reason": t.reason, "budget_reached": t.budget_reached}

    def state_dict(self) -> dict:
        return {"format": STATE_FORMAT, "scheduler": self.name, "mode": self.mode, "seed": self.seed,
                "rng": self.rng.bit_generator.state,
                "budgets": [self.min_budget, self.max_budget, self.eta],
                "trials": [t.to_json() for t in self.trials.values()], "extra": self._get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("scheduler") != self.name:
            raise SchedulerError(f"state of scheduler {state.get('scheduler')!r} cannot be loaded into "
                                 f"{self.name!r}")
        if state.get("format") != STATE_FORMAT:
            raise SchedulerError(f"unsupported scheduler state format {state.get('format')!r}")
        self.mode, self.seed = state["mode"], int(state["seed"])
        self.min_budget, self.max_budget, self.eta = state["budgets"]
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]
        self.trials = {d["id"]: TrialState.from_json(d) for d in state["trials"]}
        self._set_state(state.get("extra") or {})

    # ---- helpers -------------------------------------------------------------------------------
    def _get(self, trial_id: str) -> TrialState:
        t = self.trials.get(str(trial_id))
        if t is None:
            raise SchedulerError(f"unknown trial {trial_id!r}: call add_trial first")
        return t

    def _finish(self, t: TrialState, status: str, reason: str, milestone: bool = False,
                predicted: float | None = None) -> Decision:
        t.status, t.reason = status, reason
        if predicted is not None:
            predicted = self._to_min(predicted)  # the flip is its own inverse: back to the user's direction
        return Decision("stop", t.milestone, reason, milestone, predicted)

    def _pause(self, t: TrialState) -> Decision:
        t.status = PAUSED
        return Decision("pause", t.milestone, milestone=True)

    def _resume(self, t: TrialState, budget: float) -> Action:
        t.status, t.milestone = RUNNING, float(budget)
        return Action("resume", t.id, float(budget))

    def _to_min(self, value: float) -> float:
        """A value of the user's direction in the cores' (minimization), and back: the same flip."""
        return value if self.mode == "min" else -value

    # ---- hooks ------------------------------------------------------------------------------------
    def _first_milestone(self, trial_id: str) -> float:
        return self.max_budget

    def _decide(self, t: TrialState, budget: float, value: float) -> Decision:
        """Called for a finite result below max_budget of a running trial."""
        return Decision("continue", t.milestone)

    def _get_state(self) -> dict:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_get_state`` saved."""


def _to_value(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
