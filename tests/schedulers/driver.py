"""A fake backend for scheduler tests: N workers, trials report every integer budget.

The driver is deterministic (round-robin over busy workers) and checks the contract as it goes: only
paused trials are resumed, never a finished one; a new trial id is never reused; ``continue`` points
forward; ``wait`` never comes while no trial runs (that would stall the backend forever).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from tunestack.schedulers import Scheduler


def curve_value(trial_id: str, budget: float, seed: int = 0) -> float:
    """A deterministic learning curve per trial: final quality + a decaying term."""
    g = np.random.default_rng([seed, int(trial_id)])
    q, c, a = g.uniform(0, 1), g.uniform(0.2, 2.0), g.uniform(0.5, 1.5)
    return float(q + c * budget ** -a)


@dataclass
class Driver:
    sched: Scheduler
    workers: int = 4
    sign: float = 1.0  # -1 with mode="max": the driver reports negated values
    fail_value: set = field(default_factory=set)  # trial ids that report nan at their 2nd budget
    fail_crash: set = field(default_factory=set)  # trial ids that crash (on_failure) at their 2nd budget
    close_after: int | None = None  # call close_intake() once this many trials were added
    log: list = field(default_factory=list)  # every decision and action, in order
    slots: list = field(default_factory=list)  # per worker: [trial id, budget reached, target] or None
    reached: dict = field(default_factory=dict)  # trial id -> budget reached
    n_reports: dict = field(default_factory=dict)  # trial id -> reports so far
    new_after_close: int = 0  # "new" actions after close_intake (cores that never pause may say so)
    counter: int = 0
    turn: int = 0
    waits: int = 0
    done: bool = False

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = [None] * self.workers

    def fill(self) -> None:
        for w in range(self.workers):
            if self.slots[w] is not None:
                continue
            act = self.sched.next_action()
            self.log.append(("action", act.kind, act.trial_id, act.budget))
            if act.kind == "new" and self.counter == self.close_after:
                self.new_after_close += 1  # a backend out of trials leaves the worker free
                continue
            if act.kind == "new":
                tid = str(self.counter)
                self.counter += 1
                assert tid not in self.reached
                target = self.sched.add_trial(tid)
                assert target > 0
                self.reached[tid] = 0.0
                self.slots[w] = [tid, 0.0, target]
                if self.counter == self.close_after:
                    self.sched.close_intake()
            elif act.kind == "resume":
                st = self.sched.trial_status(act.trial_id)
                assert st["status"] == "running", st  # it was paused; resuming makes it run
                assert act.trial_id not in [s[0] for s in self.slots if s], "resumed a running trial"
                assert act.budget > self.reached[act.trial_id], "resume must go beyond the checkpoint"
                self.slots[w] = [act.trial_id, self.reached[act.trial_id], act.budget]
            elif act.kind == "wait":
                self.waits += 1
                assert any(s is not None for s in self.slots), "wait while nothing runs: a stall"
            else:
                assert act.kind == "done", act
                self.done = all(s is None for s in self.slots)

    def step(self) -> bool:
        """One report by the next busy worker; False when nothing runs."""
        self.fill()
        busy = [w for w in range(self.workers) if self.slots[w] is not None]
        if not busy:
            return False
        w = busy[self.turn % len(busy)]
        self.turn += 1
        tid, reached, target = self.slots[w]
        budget = float(math.floor(reached + 1e-9) + 1)
        nth = self.n_reports.get(tid, 0) + 1
        self.n_reports[tid] = nth
        if nth == 2 and tid in self.fail_crash:
            self.sched.on_failure(tid)
            self.log.append(("failure", tid))
            self.slots[w] = None
            return True
        value = math.nan if (nth == 2 and tid in self.fail_value) else self.sign * curve_value(tid, budget)
        dec = self.sched.on_result(tid, budget, value)
        self.log.append(("result", tid, budget, dec.action, dec.budget, dec.milestone, dec.reason))
        self.reached[tid] = budget
        assert dec.action in ("continue", "pause", "stop"), dec
        if dec.action == "continue":
            assert dec.budget is not None and dec.budget > budget, (dec, budget)
            self.slots[w] = [tid, budget, dec.budget]
        else:
            self.slots[w] = None
        for other in self.sched.take_stopped():  # paused trials the scheduler gave up on
            assert self.sched.trial_status(other)["status"] == "stopped"
            assert other not in [s[0] for s in self.slots if s], "a running trial reported as stopped"
            self.log.append(("stopped", other))
        return True

    def run(self, steps: int) -> "Driver":
        for _ in range(steps):
            if not self.step():
                break
        return self

    def clone_with(self, sched: Scheduler) -> "Driver":
        """The same backend state driving another scheduler object (a restored one)."""
        other = copy.deepcopy(self.__dict__ | {"sched": None})
        other["sched"] = sched
        d = Driver.__new__(Driver)
        d.__dict__.update(other)
        return d
