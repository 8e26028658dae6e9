"""ASHA (promotion and stopping variants) and asynchronous Hyperband: the rules, by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.schedulers.driver import Driver
from tunestack.schedulers import SchedulerError
from tunestack.schedulers.asha import ASHA, AsyncHyperband
from tunestack.schedulers.rungs import hyperband_bracket_sizes


def _asha(**kw) -> ASHA:
    return ASHA(min_budget=1, max_budget=9, eta=3, seed=0, **kw)


def _start(s, n: int, first: int = 0) -> list[str]:
    ids = [str(i) for i in range(first, first + n)]
    for tid in ids:
        assert s.next_action().kind == "new"
        assert s.add_trial(tid) == 1
    return ids


def test_promotion_rule_by_hand():
    s = _asha()
    _start(s, 3)
    assert s.on_result("0", 1, 5.0).action == "pause"  # n=1: floor(1/3) = 0 promotable
    assert s.on_result("1", 1, 4.0).action == "pause"
    d = s.on_result("2", 1, 9.0)  # n=3: top-1 is trial 1 (paused): trial 2 pauses, 1 is resumed next
    assert d.action == "pause" and d.milestone
    act = s.next_action()
    assert (act.kind, act.trial_id, act.budget) == ("resume", "1", 3.0)
    assert s.next_action().kind == "new"  # top-1 of rung 0 already promoted
    _start(s, 3, first=3)
    d = s.on_result("3", 1, 1.0)  # n=4, top-1 is trial 3 itself: straight on, no pause
    assert (d.action, d.budget, d.milestone) == ("continue", 3.0, True)
    assert s.on_result("4", 1, 8.0).action == "pause"  # n=5: top-1 (trial 3) promoted already
    d = s.on_result("5", 1, 0.5)  # n=6, top-2 = {5, 3}: trial 5 goes straight on
    assert d.action == "continue"
    # the highest rung comes first: trials 1, 3 and 5 at rung 3 -> top-1 is promoted to 9
    s.on_result("1", 3, 3.0)
    s.on_result("3", 3, 2.0)
    d = s.on_result("5", 3, 2.5)
    assert d.action == "pause"
    act = s.next_action()
    assert (act.kind, act.trial_id, act.budget) == ("resume", "3", 9.0)
    assert s.on_result("3", 9, 1.5).reason == "completed"


def test_stopping_variant():
    s = _asha(promotion=False)
    _start(s, 4)
    assert s.on_result("0", 1, 5.0).action == "continue"  # alone: in the top ceil(1/3)
    assert s.on_result("1", 1, 6.0).action == "stop"  # worse than the top ceil(2/3) = 1
    assert s.on_result("2", 1, 1.0).action == "continue"
    d = s.on_result("3", 1, 4.0)  # top ceil(4/3) = 2: {2, 3}
    assert d.action == "continue" and d.milestone
    assert s.next_action().kind == "new"  # it never pauses, so never resumes


def test_a_failed_paused_trial_takes_no_promotion_slot():
    s = _asha()
    _start(s, 4)
    s.on_result("0", 1, 1.0)  # paused, would be the top-1 of the rung
    s.on_failure("0")
    s.on_result("1", 1, 2.0)
    s.on_result("2", 1, 3.0)
    d = s.on_result("3", 1, 4.0)  # n = 3 without the failed trial: top-1 = trial 1
    assert d.action == "pause"
    assert s.next_action().trial_id == "1"


def test_max_trials_waits_then_finishes():
    s = _asha(max_trials=3)
    _start(s, 3)
    assert s.next_action().kind == "wait"
    with pytest.raises(SchedulerError, match="max_trials"):
        s.add_trial("x")
    for tid, v in zip("012", (3.0, 2.0, 1.0)):
        s.on_result(tid, 1, v)  # trial 2 is the top-1 and goes on
    assert s.next_action().kind == "wait"
    s.on_result("2", 3, 0.5)
    s.on_result("2", 9, 0.4)
    assert s.next_action().kind == "done"


def test_async_hyperband_samples_brackets_like_hyperband():
    s = AsyncHyperband(min_budget=1, max_budget=81, eta=3, seed=1)
    firsts = [s.add_trial(str(i)) for i in range(4000)]
    rungs = s.rungs
    counts = np.array([sum(1 for f in firsts if f == r) for r in rungs], dtype=float)
    sizes = np.array(hyperband_bracket_sizes(len(rungs), 3), dtype=float)
    expected = 4000 * sizes / sizes.sum()
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 1), (counts, expected)
    assert [s.trials[str(i)].bracket for i in range(5)] == [rungs.index(f) for f in firsts[:5]]


def test_async_hyperband_brackets_rank_separately():
    s = AsyncHyperband(min_budget=1, max_budget=9, eta=3, seed=0)
    d = Driver(s, workers=4).run(600)
    assert len({t.bracket for t in s.trials.values()}) == 3
    for b, per_b in enumerate(s.table):
        for r, rung in enumerate(per_b):
            assert all(s.trials[tid].bracket == b for tid in rung.values)
            if r < b:
                assert not rung.values, "a bracket starting at rung b has nothing below it"
            assert set(rung.promoted) <= set(rung.values), "only trials with a result here go on"
            if r > b:  # nobody reaches a rung without a promotion from the rung below
                assert set(rung.values) <= set(per_b[r - 1].promoted)
    done = [t for t in s.trials.values() if t.status == "completed"]
    assert {t.bracket for t in done} == {0, 1, 2}
    assert d.waits == 0


def test_state_round_trip_rebuilds_the_rung_index():
    s = _asha()
    d = Driver(s, workers=3).run(150)
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    other = _asha()
    other.load_state_dict(state)
    for a, b in zip(s.table[0], other.table[0]):
        assert a.values == b.values and a.promoted == b.promoted
    e = d.clone_with(other)
    d.run(200)
    e.run(200)
    assert d.log == e.log


def test_bad_brackets_are_refused():
    with pytest.raises(SchedulerError, match="brackets"):
        ASHA(min_budget=1, max_budget=9, eta=3, brackets=4)
    assert AsyncHyperband(min_budget=1, max_budget=9, eta=3).n_brackets == 3


def test_a_closed_intake_promotes_past_thin_rungs_and_replaces_a_failed_promotion():
    s = _asha()
    _start(s, 2)
    assert s.on_result("0", 1, 2.0).action == "pause"  # n=2 < eta: nothing is promotable
    assert s.on_result("1", 1, 1.0).action == "pause"
    assert s.next_action().kind == "new"
    s.close_intake()  # no third trial will come: the rung decides with its two
    act = s.next_action()
    assert (act.kind, act.trial_id, act.budget) == ("resume", "1", 3.0)
    assert s.next_action().kind == "wait"  # max(1, floor(2/3)) = 1 went on
    s.on_failure("1")  # the promoted trial crashes: the other one takes its place
    act = s.next_action()
    assert (act.kind, act.trial_id, act.budget) == ("resume", "0", 3.0)
    d = s.on_result("0", 3, 1.5)  # alone at its rung, nothing else can come: straight on
    assert (d.action, d.budget) == ("continue", 9.0)
    assert s.on_result("0", 9, 1.4).reason == "completed"
    assert s.next_action().kind == "done"
    with pytest.raises(SchedulerError, match="max_trials"):
        s.add_trial("x")
    s.reopen_intake(1)  # a resumed job hands out a lost trial's suggestion again
    assert s.next_action().kind == "new" and s.add_trial("x") == 1


def test_a_closed_intake_waits_for_trials_that_can_still_reach_a_rung():
    s = _asha()
    _start(s, 3)
    s.on_result("0", 1, 2.0)
    s.on_result("1", 1, 1.0)  # trial 2 still runs to rung 0
    s.close_intake()
    assert s.next_action().kind == "wait"  # rung 0 is not settled while trial 2 can report there
    d = s.on_result("2", 1, 0.5)  # n=3: trial 2 is the top-1 and goes on as plain ASHA would
    assert (d.action, d.budget) == ("continue", 3.0)
    assert s.next_action().kind == "wait"
    assert s.on_result("2", 3, 0.4).action == "continue"  # alone at rung 3, nothing running below
