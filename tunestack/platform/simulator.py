"""The simulated-time backend: run a searcher and a scheduler core against a cheap objective that says
what each evaluation *would* cost, with N simulated workers on an event heap.

``objective(config, budget) -> (value, cost_seconds)`` gives the value at ``budget`` and the cost of
training from scratch to that budget.  A trial continued or resumed from budget ``a`` to ``b`` costs
``cost(b) - cost(a)``; a new trial starts from zero.  Nothing sleeps: hours of simulated time replay in
seconds, deterministically (events are ordered by (time, counter)).

The cores are driven exactly as on Ray (``tunestack.platform.coordinator``): a free worker asks the
scheduler's :meth:`next_action` (``new``: the searcher asks; ``resume``: from the checkpoint; ``wait``:
the worker idles until the next event; ``done``: the plan is over); every reported budget goes to
:meth:`on_result`; results the scheduler marks as milestones are told to the searcher with their budget,
a stop with a ``predicted`` value is told as ``predicted=True`` without a budget, and a trial that ends
untold is told its last value.  FIFO runs, like the Ray runner without a scheduler core, tell final
values without a budget.
"""
from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pandas as pd

from .._registry import is_whole
from ..schedulers import Decision, Scheduler
from ..schedulers import create as create_scheduler
from ..schedulers.presets import resolve as resolve_preset
from ..searchers import Searcher
from ..searchers import create as create_searcher
from .local import check_searcher_object, copied

__all__ = ["simulate", "SimulationResult", "SimulationError"]

Objective = Callable[[dict, float], Sequence[float]]


class SimulationError(ValueError):
    """The simulation was configured wrongly, or the objective or a core broke the contract."""


@dataclass
class SimulationResult:
    """The outcome of :func:`simulate`.  ``history`` holds one record per reported evaluation, in order."""

    history: list[dict]
    searcher: Searcher
    scheduler: Scheduler
    mode: str
    max_budget: float
    workers: int
    time: float = 0.0  # simulated time of the last processed event
    budget_used: float = 0.0  # trained budget in full-evaluation equivalents (sum of budgets / max_budget)
    busy: list = field(default_factory=list)  # per worker: seconds spent running trials
    ended: str = ""  # "done" | "max_time" | "max_evaluations" | "stalled" | "stood_still"

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.history)

    def _full(self) -> list[dict]:
        return [h for h in self.history
                if h["budget"] >= self.max_budget * (1 - 1e-12) and math.isfinite(h["value"])]

    def trajectory(self) -> list[tuple[float, float]]:
        """(time, best value at ``max_budget`` so far), one point per improvement."""
        sign, best, out = (1.0 if self.mode == "min" else -1.0), math.inf, []
        for h in self._full():
            if sign * h["value"] < best:
                best = sign * h["value"]
                out.append((h["time"], h["value"]))
        return out

    def best_at(self, time: float) -> float | None:
        """The best value at ``max_budget`` reached by simulated ``time`` (``None`` before the first)."""
        best = None
        for t, v in self.trajectory():
            if t <= time:
                best = v
        return best

    @property
    def best_value(self) -> float | None:
        traj = self.trajectory()
        return traj[-1][1] if traj else None

    @property
    def best_config(self) -> dict | None:
        full = self._full()
        if not full:
            return None
        sign = 1.0 if self.mode == "min" else -1.0
        return min(full, key=lambda h: sign * h["value"])["config"]

    @property
    def notes(self) -> list[str]:
        """What the scheduler says about how the run was decided (e.g. lce's log space off, and why)."""
        return self.scheduler.notes()

    @property
    def utilization(self) -> float:
        """Busy worker-seconds over ``workers * time``."""
        return sum(self.busy) / (self.workers * self.time) if self.time > 0 else 0.0


@dataclass
class _Segment:
    """A worker's current job: trial ``tid`` from its checkpoint (budget, cost) toward ``target``."""

    tid: str
    budget: float
    cost: float
    target: float


def simulate(objective: Objective, space: Any, searcher: str | Searcher | None = None,
             scheduler: str | Scheduler | None = None, *, min_budget: float = 1.0, max_budget: float,
             eta: float = 3.0, workers: int = 1, max_time: float = math.inf, seed: int = 0,
             mode: str = "min", max_evaluations: int | None = None, step: float | None = None,
             searcher_kwargs: dict | None = None, scheduler_kwargs: dict | None = None,
             **options: Any) -> SimulationResult:
    """Simulate a tuning run; see the module docstring.

    ``searcher``/``scheduler``: names or core objects; ``scheduler=None`` is FIFO; a preset name
    (``"bohb"``) brings its searcher unless one is given.  ``step``: trials report at every multiple of
    ``step`` (e.g. 1 = every epoch, for learning-curve schedulers); ``None`` reports only at the budgets
    the scheduler decides at, except for a scheduler that reads whole curves (``"lce"``), where it
    defaults to ``min_budget`` (one report per epoch when budgets are epochs from 1).  Extra keyword
    arguments go to the scheduler (``max_trials=``, ``promotion=False`` ...), as does ``scheduler_kwargs``
    (a dict, as in ``fn.tune``).  Ends at ``max_time``
    (simulated seconds), ``max_evaluations`` (reports)
    or when the scheduler says ``done``; a run under ``max_time`` alone whose simulated time stands still
    (evaluations that all fail, or cost 0) ends with a warning and what it has (``ended="stood_still"``).
    """
    if not is_whole(workers) or workers < 1:
        raise SimulationError(f"workers must be a positive integer, got {workers!r}")
    if not max_time > 0:  # NaN too: a run that ends before its first evaluation
        raise SimulationError(f"max_time must be > 0 simulated seconds, got {max_time!r}")
    if not (max_time < math.inf or max_evaluations is not None):
        raise SimulationError("set max_time (simulated seconds) or max_evaluations, or the run never ends")
    if max_evaluations is not None and not (is_whole(max_evaluations) and max_evaluations >= 1):
        raise SimulationError(f"max_evaluations must be a whole number >= 1, got {max_evaluations!r}")
    if step is not None and not (math.isfinite(step) and step > 0):
        raise SimulationError(f"step must be a positive number or None, got {step!r}")
    both = set(scheduler_kwargs or {}) & set(options)
    if both:
        raise SimulationError(f"scheduler option(s) {sorted(both)} given twice: in scheduler_kwargs and as "
                              "keyword arguments")
    options = {**(scheduler_kwargs or {}), **options}
    sched = _make_scheduler(scheduler, searcher, min_budget, max_budget, eta, mode, seed, options)
    if step is None and sched.reads_curves:
        step = sched.min_budget
    srch = _make_searcher(scheduler, searcher, space, mode, seed, searcher_kwargs or {})
    sim = _Simulation(objective, srch, sched, int(workers), float(max_time), max_evaluations, step)
    return sim.run()


def _make_scheduler(scheduler: Any, searcher: Any, min_budget: float, max_budget: float, eta: float,
                    mode: str, seed: int, kwargs: dict) -> Scheduler:
    if isinstance(scheduler, Scheduler):
        if kwargs:
            raise SimulationError(f"scheduler options {sorted(kwargs)} need a scheduler name, not an object")
        if scheduler.mode != mode:
            raise SimulationError(f"the scheduler object has mode={scheduler.mode!r}, the simulation {mode!r}")
        if not math.isclose(scheduler.max_budget, max_budget):
            raise SimulationError(f"the scheduler object has max_budget={scheduler.max_budget}, the simulation "
                                  f"{max_budget}")
        return scheduler
    name, _, _ = resolve_preset(scheduler, searcher)
    return create_scheduler(name, min_budget=min_budget, max_budget=max_budget, eta=eta, mode=mode,
                            seed=int(seed) + 1, **kwargs)


def _make_searcher(scheduler: Any, searcher: Any, space: Any, mode: str, seed: int,
                   kwargs: dict) -> Searcher:
    if isinstance(searcher, Searcher):  # another space failed every evaluation; options were ignored
        try:
            check_searcher_object(searcher, space, mode, kwargs)
        except ValueError as e:
            raise SimulationError(str(e)) from None
        return searcher
    name = searcher
    if isinstance(scheduler, str):
        _, preset_searcher, preset_kwargs = resolve_preset(scheduler, searcher)
        if preset_searcher is not None:
            name, kwargs = preset_searcher, {**preset_kwargs, **kwargs}
    return create_searcher(name or "random", space, mode=mode, seed=int(seed), **kwargs)


class _Simulation:
    def __init__(self, objective: Objective, searcher: Searcher, scheduler: Scheduler, workers: int,
                 max_time: float, max_evaluations: int | None, step: float | None):
        self.objective, self.searcher, self.scheduler = objective, searcher, scheduler
        self.max_time, self.max_evaluations, self.step = max_time, max_evaluations, step
        self.final_key = scheduler.name == "fifo"  # tell finals without a budget, as the Ray runner does
        self.result = SimulationResult([], searcher, scheduler, scheduler.mode, scheduler.max_budget,
                                       workers, busy=[0.0] * workers)
        self.heap: list[tuple[float, int, int, dict]] = []
        self.counter = 0
        self.now = 0.0
        self.jobs: list[_Segment | None] = [None] * workers
        self.configs: dict[str, dict] = {}
        self.checkpoints: dict[str, tuple[float, float]] = {}  # paused trial -> (budget, cost)
        self.told: set[str] = set()
        self.warned = False
        self.last_kind = ""

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        self._fill()
        still, still_limit = 0, self._still_limit()
        while self.heap:
            time, _, worker, ev = heapq.heappop(self.heap)
            if time > self.max_time:
                self.result.ended = "max_time"
                break
            still = still + 1 if time <= self.now else 0
            if still >= still_limit and self.max_evaluations is None:
                self._stood_still(still)
                break
            self.now = time
            self._report(worker, ev)
            if self.max_evaluations is not None and len(self.result.history) >= self.max_evaluations:
                self.result.ended = "max_evaluations"
                break
            self._fill()
        else:
            self.result.ended = "done" if self.last_kind == "done" else "stalled"
        self.result.time = self.now
        return self.result

    def _still_limit(self) -> int:
        """How many evaluations in a row may leave the simulated time where it was: a trial continued at
        no cost (a cost that does not grow with the budget) reports up to max_budget / step times."""
        reports = self.scheduler.max_budget / self.step if self.step else 100
        return int(10_000 + len(self.jobs) * min(reports, 1e6))

    def _stood_still(self, n: int) -> None:
        """End a run whose simulated time no longer moves (it would never reach ``max_time``)."""
        recent = self.result.history[-n:]
        failed = sum(not math.isfinite(h["value"]) for h in recent)
        why = (f"{failed} of them failed (a failed evaluation costs no time)" if failed
               else "the objective's costs do not grow")
        warnings.warn(f"simulated time stood still at {self.now:g} s for {len(recent)} evaluations in a row: "
                      f"{why}; the run ends here, with what it has (set max_evaluations to bound a run whose "
                      "costs can be 0)", RuntimeWarning, stacklevel=3)
        self.result.ended = "stood_still"

    def _fill(self) -> None:
        """Give every free worker work until the scheduler says wait or done."""
        for w, job in enumerate(self.jobs):
            if job is not None:
                continue
            act = self.scheduler.next_action()
            self.last_kind = act.kind
            if act.kind == "new":
                sug = self.searcher.ask()
                self.configs[sug.id] = sug.config
                target = self.scheduler.add_trial(sug.id)
                self._start(w, _Segment(sug.id, 0.0, 0.0, float(target)))
            elif act.kind == "resume":
                if act.trial_id not in self.checkpoints:
                    raise SimulationError(f"scheduler {self.scheduler.name!r} resumed trial {act.trial_id!r}, "
                                          "which is not paused")
                b, c = self.checkpoints.pop(act.trial_id)
                self._start(w, _Segment(act.trial_id, b, c, float(act.budget)))
            elif act.kind in ("wait", "done"):
                return
            else:
                raise SimulationError(f"scheduler {self.scheduler.name!r} returned unknown action {act.kind!r}")

    def _start(self, worker: int, job: _Segment) -> None:
        """Evaluate the next report of ``job`` and schedule it at now + its incremental cost."""
        self.jobs[worker] = job
        budget = self._next_budget(job)
        value, cost = self._evaluate(job.tid, budget, job.cost)
        dt = max(0.0, cost - job.cost)
        ev = {"budget": budget, "value": value, "cost": cost, "dt": dt}
        heapq.heappush(self.heap, (self.now + dt, self.counter, worker, ev))
        self.counter += 1

    def _next_budget(self, job: _Segment) -> float:
        if self.step is None:
            if job.target <= job.budget:
                raise SimulationError(f"scheduler {self.scheduler.name!r} asked trial {job.tid!r} to run to "
                                      f"budget {job.target}, which it already reached")
            return job.target
        k = math.floor(job.budget / self.step + 1e-9) + 1
        return min(round(k * self.step, 12), self.scheduler.max_budget)

    def _evaluate(self, tid: str, budget: float, cost_before: float) -> tuple[float, float]:
        try:
            out = self.objective(copied(self.configs[tid]), budget)  # its own: it may change it
        except Exception as e:  # noqa: BLE001 - a failing evaluation is a failed trial, not a crash
            if not self.warned:
                warnings.warn(f"the objective raised {type(e).__name__}: {e} (trial {tid}, budget {budget}); "
                              "counted as a failed evaluation", RuntimeWarning, stacklevel=4)
                self.warned = True
            return math.nan, cost_before
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise SimulationError(f"the objective must return (value, cost_seconds), got {out!r}")
        try:
            cost = float(out[1])
        except (TypeError, ValueError):
            cost = math.nan
        try:
            if isinstance(out[0], (str, bytes)):  # float("0.5") would take a formatted string as a value
                raise TypeError
            value = float(out[0])
        except (TypeError, ValueError):
            value = math.nan  # a value that is not a number is a failed evaluation
            if not self.warned:
                warnings.warn(f"the objective returned value {out[0]!r} (trial {tid}, budget {budget}), not a "
                              "number; counted as a failed evaluation", RuntimeWarning, stacklevel=4)
                self.warned = True
        if not (math.isfinite(cost) and cost >= 0):
            raise SimulationError(f"the objective returned cost {out[1]!r} at budget {budget}; the cost must be "
                                  "a finite number of seconds >= 0")
        return value, cost

    # ---- one report ----------------------------------------------------------------------------
    def _report(self, worker: int, ev: dict) -> None:
        job = self.jobs[worker]
        assert job is not None
        budget, value = ev["budget"], ev["value"]
        self.result.busy[worker] += ev["dt"]
        self.result.budget_used += (budget - job.budget) / self.scheduler.max_budget
        dec = self.scheduler.on_result(job.tid, budget, value)
        self._tell(job.tid, budget, value, dec)
        self.result.history.append({
            "time": self.now, "trial_id": job.tid, "config": self.configs[job.tid], "budget": budget,
            "value": value, "worker": worker, "decision": dec.action, "reason": dec.reason,
            "milestone": dec.milestone, "cost": ev["dt"], "predicted": dec.predicted})
        for tid in self.scheduler.take_stopped():  # paused trials given up on: free their checkpoints
            self.checkpoints.pop(tid, None)
        if dec.action == "continue":
            self._start(worker, _Segment(job.tid, budget, ev["cost"], float(dec.budget)))
            return
        if dec.action == "pause":
            self.checkpoints[job.tid] = (budget, ev["cost"])
        self.jobs[worker] = None

    def _tell(self, tid: str, budget: float, value: float, dec: Decision) -> None:
        key = None if self.final_key else budget
        if dec.milestone:
            self.searcher.tell(tid, value, budget=key)
            self.told.add(tid)
        if dec.predicted is not None:
            self.searcher.tell(tid, dec.predicted, predicted=True)
            self.told.add(tid)
        if dec.action == "stop" and tid not in self.told:
            self.searcher.tell(tid, value, budget=key)  # a trial never ends untold (nan = failure)
            self.told.add(tid)
