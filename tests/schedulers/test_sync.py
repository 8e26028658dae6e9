"""Synchronous successive halving and Hyperband: promotion counts, rung waits, failures, the plan."""
from __future__ import annotations

import json
import math

import pytest

from tests.schedulers.driver import Driver
from tunestack.schedulers import SchedulerError, create
from tunestack.schedulers.hyperband import Hyperband
from tunestack.schedulers.rungs import hyperband_bracket_sizes
from tunestack.schedulers.successive_halving import SuccessiveHalving


def _run_rung(s, ids, values, budget):
    return {tid: s.on_result(tid, budget, v) for tid, v in zip(ids, values)}


def test_bracket_sizes_follow_hyperband():
    # Li et al. 2018, Table/Algorithm 1 with R = 81, eta = 3: n = 81, 34, 15, 8, 5
    assert hyperband_bracket_sizes(5, 3) == [81, 34, 15, 8, 5]
    assert hyperband_bracket_sizes(3, 3) == [9, 5, 3]


def test_one_sh_bracket_by_hand():
    s = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=9, iterations=1, seed=0)
    ids = []
    for i in range(9):
        assert s.next_action().kind == "new"
        ids.append(f"t{i}")
        assert s.add_trial(ids[-1]) == 1
    values = [5, 3, 8, 1, 9, 2, 7, 6, 4]  # t3 < t5 < t1 < ...
    decs = _run_rung(s, ids[:8], values[:8], 1)
    assert all(d.action == "pause" and d.milestone for d in decs.values()), "the rung waits for all"
    last = s.on_result("t8", 1, values[8])  # value 4: not among the best 3 -> stopped
    assert last.action == "stop" and last.reason == "stopped early" and last.milestone
    stopped = set(s.take_stopped())
    assert stopped == {"t0", "t2", "t4", "t6", "t7"}  # paused losers, reported once
    assert s.take_stopped() == []
    resumed = [s.next_action() for _ in range(3)]
    assert [(a.kind, a.trial_id, a.budget) for a in resumed] == [
        ("resume", "t3", 3.0), ("resume", "t5", 3.0), ("resume", "t1", 3.0)]  # best first
    assert s.next_action().kind == "wait", "iterations=1: nothing new while the rung runs"
    assert s.on_result("t3", 2, 0.9).action == "continue"  # between rungs: go on
    assert s.on_result("t3", 3, 0.5).action == "pause"
    assert s.on_result("t1", 3, 0.8).action == "pause"
    d = s.on_result("t5", 3, 0.1)  # completes the rung and is the best: straight on, no pause
    assert (d.action, d.budget, d.milestone) == ("continue", 9.0, True)
    assert set(s.take_stopped()) == {"t3", "t1"}
    assert s.next_action().kind == "wait"
    d = s.on_result("t5", 9, 0.05)
    assert (d.action, d.reason) == ("stop", "completed")
    assert s.next_action().kind == "done"
    assert s.trial_status("t5") == {"status": "completed", "reason": "completed", "budget_reached": 9.0}


def test_a_busy_rung_opens_the_next_bracket():
    s = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=9, seed=0)
    for i in range(9):
        s.add_trial(str(i))
    _run_rung(s, [str(i) for i in range(8)], range(8), 1)  # trial 8 still running
    act = s.next_action()
    assert act.kind == "new"
    assert s.add_trial("9") == 1
    assert [b.index for b in s.brackets] == [0, 1] and s.brackets[1].members[0] == ["9"]
    # the old bracket's promotions come first once its rung completes
    s.on_result("8", 1, 100.0)
    assert s.next_action().kind == "resume"


def test_a_failure_never_blocks_a_rung():
    s = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=9, iterations=1, seed=0)
    for i in range(9):
        s.add_trial(str(i))
    _run_rung(s, [str(i) for i in range(7)], [7, 6, 5, 4, 3, 2, 1], 1)
    s.on_failure("7")  # crashed mid-rung
    d = s.on_result("8", 1, math.nan)  # a non-finite value
    assert d.action == "stop" and d.reason.startswith("failed")
    # rung complete: top floor(9/3) = 3 of the finite results go on
    assert [s.next_action().trial_id for _ in range(3)] == ["6", "5", "4"]


def test_all_failed_bracket_ends_and_the_plan_goes_on():
    s = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=3, iterations=2, seed=0)
    for i in range(3):
        s.add_trial(str(i))
        s.on_failure(str(i))
    assert s.brackets[0].finished
    assert s.next_action().kind == "new"
    s.add_trial("3")
    assert s.brackets[1].members[0] == ["3"]


def test_a_closed_intake_decides_the_bracket_still_filling():
    s = Hyperband(min_budget=1, max_budget=27, eta=3, seed=0)  # first bracket: 27 trials at budget 1
    ids = [str(i) for i in range(5)]
    for tid in ids:
        assert s.next_action().kind == "new"
        s.add_trial(tid)
    decs = _run_rung(s, ids, [5, 4, 3, 2, 1], 1)
    assert all(d.action == "pause" for d in decs.values()), "the rung waits for its other 22 trials"
    assert s.next_action().kind == "new"
    s.close_intake()  # those 22 will not come
    assert sorted(s.take_stopped()) == ["0", "1", "2", "3"]
    act = s.next_action()  # max(1, floor(5/3)) = 1 goes on: the best
    assert (act.kind, act.trial_id, act.budget) == ("resume", "4", 3.0)
    assert s.on_result("4", 3, 0.5).action == "continue"  # alone at its rung: on to 9, then 27
    assert s.on_result("4", 9, 0.4).action == "continue"
    assert s.on_result("4", 27, 0.3).reason == "completed"
    assert s.next_action().kind == "done"


def test_max_trials_truncates_the_bracket():
    s = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=9, max_trials=5, seed=0)
    for i in range(5):
        assert s.next_action().kind == "new"
        s.add_trial(str(i))
    assert s.next_action().kind == "wait"
    with pytest.raises(SchedulerError, match="plan is finished"):
        s.add_trial("extra")
    decs = _run_rung(s, [str(i) for i in range(5)], [5, 4, 3, 2, 1], 1)
    assert decs["4"].action == "continue"  # floor(5/3) = 1 goes on: the best, straight away
    assert [d.action for k, d in decs.items() if k != "4"] == ["pause"] * 4
    s.on_result("4", 3, 0.5)
    s.on_result("4", 9, 0.4)
    assert s.next_action().kind == "done"


def test_hyperband_cycles_its_brackets():
    s = Hyperband(min_budget=1, max_budget=9, eta=3, seed=0)
    d = Driver(s, workers=1).run(400)
    starts = [e for e in d.log if e[0] == "action" and e[1] == "new"]
    assert len(starts) > 9 + 5 + 3
    plan = [(b.start, len(b.members[0])) for b in s.brackets]
    assert plan[:4] == [(0, 9), (1, 5), (2, 3), (0, 9)]
    # each bracket keeps floor(n / eta) per rung: 9 -> 3 -> 1 and 5 -> 1
    assert [len(m) for m in s.brackets[0].members] == [9, 3, 1]
    assert [len(m) for m in s.brackets[1].members] == [5, 1]
    assert [len(m) for m in s.brackets[2].members] == [3]


def test_hyperband_iterations_end_the_plan():
    s = Hyperband(min_budget=1, max_budget=9, eta=3, iterations=3, seed=0)
    d = Driver(s, workers=4).run(2000)
    assert d.done
    assert len(s.trials) == 9 + 5 + 3
    assert all(b.finished for b in s.brackets)
    assert sum(1 for t in s.trials.values() if t.status == "completed") == 1 + 1 + 3


def test_state_round_trip_keeps_the_queue():
    s = create("sh", min_budget=1, max_budget=9, eta=3, n_initial=9, seed=0)
    for i in range(9):
        s.add_trial(str(i))
    _run_rung(s, [str(i) for i in range(9)], [9, 8, 7, 6, 5, 4, 3, 2, 1], 1)
    first = s.next_action()
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    other = create("sh", min_budget=1, max_budget=9, eta=3, seed=5)
    other.load_state_dict(state)
    assert other.n_initial == 9
    assert [other.next_action() for _ in range(3)] == [s.next_action() for _ in range(3)]
    assert first.trial_id == "7"  # "8" (the best) went on without a pause


def test_bad_options_are_refused():
    with pytest.raises(SchedulerError, match="n_initial"):
        SuccessiveHalving(n_initial=0)
    with pytest.raises(SchedulerError, match="iterations"):
        Hyperband(iterations=1.5)
    with pytest.raises(SchedulerError, match="max_trials"):
        Hyperband(max_trials=-1)
