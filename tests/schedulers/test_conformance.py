"""The conformance suite every registered scheduler joins (DESIGN.md, scheduler contract).

Lifecycle under a fake backend that reports every integer budget, determinism, strict-JSON state
round trip mid-run (identical decisions afterwards, no finished trial ever re-run), failures (nan
values, crashes mid-rung), no stall with N workers, and mode max.  Parametrized over
``tunestack.schedulers.available()``.
"""
from __future__ import annotations

import json
import math

import pytest

from tests.schedulers.driver import Driver
from tunestack.schedulers import Decision, SchedulerError, available, create

NAMES = available()
BUDGETS = dict(min_budget=1, max_budget=27, eta=3)


def _make(name: str, seed: int = 0, mode: str = "min"):
    return create(name, **BUDGETS, mode=mode, seed=seed)


def _statuses(sched) -> dict:
    return {tid: sched.trial_status(tid)["status"] for tid in sched.trials}


def test_the_issue_schedulers_are_registered():
    for n in ("fifo", "sh", "asha", "hyperband", "async_hyperband"):
        assert n in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_lifecycle(name):
    s = _make(name)
    d = Driver(s, workers=3).run(400)
    st = _statuses(s)
    assert set(st.values()) <= {"running", "paused", "stopped", "completed", "failed"}
    completed = [tid for tid, v in st.items() if v == "completed"]
    assert completed, "some trial must reach max_budget"
    for tid in completed:
        assert s.trial_status(tid)["budget_reached"] == BUDGETS["max_budget"]
    results = [e for e in d.log if e[0] == "result"]
    # decisions at milestones are marked, decisions in between are plain "continue"
    assert any(e[5] for e in results)
    for e in results:
        if e[3] == "pause":
            assert e[5], "a pause is a milestone (the searcher learns the value)"
        if e[3] == "stop":
            assert e[6], "a stop says why"
    # every trial that stopped or paused below max budget did so at one of its reported budgets
    running = [tid for tid, v in st.items() if v == "running"]
    assert len(running) <= 3


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_decisions(name):
    a = Driver(_make(name, seed=4), workers=3).run(300)
    b = Driver(_make(name, seed=4), workers=3).run(300)
    assert a.log == b.log


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("at", [97, 251])
def test_state_round_trip_mid_run(name, at):
    d = Driver(_make(name, seed=2), workers=4, fail_crash={"5"}, fail_value={"8"}).run(at)
    state = json.loads(json.dumps(d.sched.state_dict(), allow_nan=False))  # strict JSON
    restored = _make(name, seed=999)
    restored.load_state_dict(state)
    assert _statuses(restored) == _statuses(d.sched)
    finished = {tid for tid, v in _statuses(restored).items() if v in ("stopped", "completed", "failed")}
    e = d.clone_with(restored)
    n_before = len(e.log)
    d.run(250)
    e.run(250)
    assert e.log == d.log
    # ray-project/ray#39900: a restored scheduler never re-runs a trial that had finished
    resumed_after = {x[2] for x in e.log[n_before:] if x[0] == "action" and x[1] == "resume"}
    assert not (resumed_after & finished)


@pytest.mark.parametrize("name", NAMES)
def test_no_finished_trial_is_ever_resumed(name):
    s = _make(name, seed=1)
    d = Driver(s, workers=5, fail_crash={"3", "11"}, fail_value={"4"})
    ended: set = set()
    for _ in range(400):
        before = len(d.log)
        if not d.step():
            break
        for x in d.log[before:]:
            if x[0] == "action" and x[1] == "resume":
                assert x[2] not in ended, f"trial {x[2]} resumed after it ended"
        ended |= {tid for tid, v in _statuses(s).items() if v in ("stopped", "completed", "failed")}


@pytest.mark.parametrize("name", NAMES)
def test_failures_never_block(name):
    fails = {str(i) for i in range(0, 60, 3)}
    crashes = {str(i) for i in range(1, 60, 4)}
    s = _make(name, seed=3)
    d = Driver(s, workers=4, fail_value=fails, fail_crash=crashes).run(500)
    st = _statuses(s)
    # a failed trial is never resumed, and failing trials do not keep the others from finishing
    assert any(v == "completed" for v in st.values())
    crashed = {e[1] for e in d.log if e[0] == "failure"}
    nan_reported = {tid for tid in fails if sum(1 for e in d.log if e[0] == "result" and e[1] == tid) >= 2}
    assert crashed and nan_reported
    for tid in crashed | nan_reported:
        assert st[tid] == "failed", (tid, st[tid])
        assert s.trial_status(tid)["reason"].startswith("failed")
    # a result after the end never revives a trial
    failed = next(tid for tid, v in st.items() if v == "failed")
    dec = s.on_result(failed, 99, 0.0)
    assert dec.action == "stop" and s.trial_status(failed)["status"] == "failed"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("workers", [1, 4, 16])
def test_no_stall(name, workers):
    """With an open-ended plan a free worker always gets work: never ``wait``, never ``done``."""
    d = Driver(_make(name, seed=0), workers=workers, fail_crash={"2"}).run(300)
    d.fill()
    kinds = {e[1] for e in d.log if e[0] == "action"}
    assert kinds <= {"new", "resume"}, kinds
    assert d.waits == 0
    assert all(s is not None for s in d.slots), "every worker busy"


@pytest.mark.parametrize("name", NAMES)
def test_mode_max_mirrors_mode_min(name):
    lo = Driver(_make(name, seed=6), workers=3).run(300)
    hi = Driver(_make(name, seed=6, mode="max"), workers=3, sign=-1.0).run(300)
    assert hi.log == lo.log


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n,workers", [(1, 1), (2, 1), (5, 2), (11, 4), (40, 3)])
def test_a_closed_intake_still_brings_a_trial_to_max_budget(name, n, workers):
    """A backend with a finite number of trials (Ray's num_samples) closes the intake after the last one:
    rungs that waited for more trials decide with those they have, and the run ends, with at least one
    trial at max_budget, however few trials there were."""
    s = _make(name, seed=1)
    d = Driver(s, workers=workers, close_after=n).run(5000)
    assert not any(d.slots), "the run must end once the intake is closed"
    assert len(s.trials) == n
    if hasattr(s, "max_trials"):  # the rung-based cores say "done" and stop asking for new trials
        assert d.done and d.new_after_close == 0 and s.max_trials == n
    st = _statuses(s)
    completed = [tid for tid, v in st.items() if v == "completed"]
    assert completed, st
    assert all(s.trial_status(tid)["budget_reached"] == BUDGETS["max_budget"] for tid in completed)
    restored = _make(name, seed=1)  # the closed intake survives a state round trip
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert json.dumps(restored.state_dict(), sort_keys=True) == json.dumps(s.state_dict(), sort_keys=True)


@pytest.mark.parametrize("name", NAMES)
def test_contract_errors_are_clear(name):
    s = _make(name)
    with pytest.raises(SchedulerError, match="unknown trial"):
        s.on_result("nope", 1, 0.5)
    s.add_trial("a")
    with pytest.raises(SchedulerError, match="already added"):
        s.add_trial("a")
    state = s.state_dict()
    state["scheduler"] = "something-else"
    with pytest.raises(SchedulerError):
        _make(name).load_state_dict(state)
    with pytest.raises(SchedulerError, match="eta"):
        create(name, min_budget=1, max_budget=27, eta=1)
    with pytest.raises(SchedulerError, match="min_budget"):
        create(name, min_budget=0, max_budget=27)
    assert isinstance(s.on_result("a", 1, math.inf), Decision)
