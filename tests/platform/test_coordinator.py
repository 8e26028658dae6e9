"""The coordinator's restore path without Ray: journal replay, and reconciling with Ray's trial list."""
from __future__ import annotations

import json

import pytest

from tunestack.platform.coordinator import FINISHED, Coordinator, read_journal
from tunestack.schedulers import create as create_scheduler
from tunestack.searchers import create as create_searcher

def _space():
    from ray import tune

    return {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def _coordinator(tmp_path, scheduler=None, num_samples=6, max_concurrent=2):
    searcher = create_searcher("random", _space(), mode="min", seed=3)
    sched = None if scheduler is None else create_scheduler(scheduler, min_budget=1, max_budget=4, eta=2,
                                                           mode="min", seed=3)
    c = Coordinator(searcher, sched, "loss", "min", num_samples, max_concurrent, lookahead=0)
    c.journal_path = str(tmp_path / "journal.jsonl")
    return c


def _restored(tmp_path, state, scheduler=None, **kw):
    c = _coordinator(tmp_path, scheduler, **kw)
    c.load_state_dict(json.loads(json.dumps(state)))
    return c


def _loss(config):
    return config["x"] ** 2 + config["y"]


def test_a_trial_ended_after_the_snapshot_is_adopted_not_run_again(tmp_path):
    a = _coordinator(tmp_path)
    c1, c2 = a.suggest("r1"), a.suggest("r2")
    snapshot = a.state_dict()  # what Ray saved; then r3 is created and r1, r3 end before the kill
    a.on_complete("r1", {"loss": _loss(c1), "training_iteration": 1}, False)
    c3 = a.suggest("r3")
    a.on_complete("r3", {"loss": _loss(c3), "training_iteration": 1}, False)

    b = _restored(tmp_path, snapshot)
    assert b.replay_journal() == 2
    assert set(b.trials) == {"r1", "r2", "r3"}
    assert b.trials["r3"].status == "done" and b.trials["r3"].last_value == pytest.approx(_loss(c3))
    assert b.trials["r2"].status == "running"
    told = {tuple(round(v, 9) for v in b.searcher.space.decode(r.vector).values()): r.results
            for r in b.searcher.trials.values()}
    assert told[(round(c3["x"], 9), round(c3["y"], 9))] == {None: pytest.approx(_loss(c3))}
    # the rest of the job never repeats r3's configuration, and counts it as one of its trials
    b.on_complete("r2", {"loss": _loss(c2)}, False)
    later = []
    for i in range(3):
        later.append(b.suggest(f"n{i}"))
        b.on_complete(f"n{i}", {"loss": 1.0}, False)
    assert all(isinstance(c, dict) for c in later) and c3 not in later
    assert b.suggest("n9") == FINISHED and len(b.trials) == 6


def test_a_journal_line_cut_short_by_a_kill_is_left_out(tmp_path):
    a = _coordinator(tmp_path)
    c1 = a.suggest("r1")
    snapshot = a.state_dict()
    a.on_complete("r1", {"loss": _loss(c1)}, False)
    with open(a.journal_path, "a") as f:
        f.write('{"ray_id": "r2", "value": 0.')
    assert [r["ray_id"] for r in read_journal(a.journal_path)] == ["r1"]
    b = _restored(tmp_path, snapshot)
    assert b.replay_journal() == 1 and b.trials["r1"].status == "done"


def test_reconcile_stops_unknown_ray_trials_and_hands_out_lost_ones_again(tmp_path):
    a = _coordinator(tmp_path)
    c1, c2 = a.suggest("r1"), a.suggest("r2")
    b = _restored(tmp_path, a.state_dict())
    assert b.suggest("x") is None  # two trials live: nothing new yet
    # Ray's restored list holds r1 and a trial it created after our state was saved, but not r2
    run, stop = b.choose({"r1": "PENDING", "orphan": "PENDING"})
    assert stop == ["orphan"] and run is None
    assert "r2" not in b.trials and b.n_live == 1
    assert b.suggest("r2b") == c2  # r2's suggestion again, under the new Ray trial
    assert b.trials["r2b"].sid == a.trials["r2"].sid
    assert b.choose({"r1": "PENDING", "r2b": "PENDING"}) == ("r1", [])  # reconciled once only
    assert len(b.trials) == 2 and not b.reissue
    del c1


def test_lost_trials_never_stall_the_job(tmp_path):
    """Both live trials of our state are missing from Ray's list: without reconciling, they would count
    as running forever and no trial would ever start."""
    a = _coordinator(tmp_path, num_samples=4)
    a.suggest("r1"), a.suggest("r2")
    b = _restored(tmp_path, a.state_dict(), num_samples=4)
    assert b.choose({}) == (None, [])
    got = [b.suggest(f"n{i}") for i in range(2)]
    assert all(isinstance(c, dict) for c in got) and b.reissue == []
    b.on_complete("n0", {"loss": 1.0}, False)
    b.on_complete("n1", {"loss": 2.0}, False)
    assert isinstance(b.suggest("n2"), dict) and isinstance(b.suggest("n3"), dict)
    assert b.suggest("n4") == FINISHED


def test_reissue_survives_a_state_round_trip(tmp_path):
    a = _coordinator(tmp_path)
    a.suggest("r1")
    b = _restored(tmp_path, a.state_dict())
    b.choose({})
    c = _restored(tmp_path, b.state_dict())
    assert c.reissue == b.reissue == [a.trials["r1"].sid]


def test_reconcile_with_a_scheduler_core(tmp_path):
    a = _coordinator(tmp_path, scheduler="asha")
    c1 = a.suggest("r1")
    b = _restored(tmp_path, a.state_dict(), scheduler="asha")
    b.choose({})
    assert b.scheduler.trial_status("r1")["status"] == "failed"
    assert b.suggest("r1b") == c1
    assert b.on_result("r1b", {"loss": 0.5, "training_iteration": 1}) in ("continue", "pause", "stop")


def test_a_report_past_max_budget_is_stopped_and_does_not_replace_the_value_at_max_budget(tmp_path):
    """A function that trains on past max_budget: the trial's value stays the one at max_budget."""
    a = _coordinator(tmp_path, scheduler="fifo", num_samples=1)
    a.suggest("r1")
    decisions = [a.on_result("r1", {"loss": 1.0 / b, "training_iteration": b}) for b in (1, 2, 3, 4)]
    assert decisions == ["continue"] * 4  # at max_budget the function may still return by itself
    assert a.on_result("r1", {"loss": 0.01, "training_iteration": 5}) == "stop"
    a.on_complete("r1", {"loss": 0.01, "training_iteration": 5}, False)
    t = a.trials["r1"]
    assert t.outcome == "completed" and t.budget == 4 and t.last_value == pytest.approx(0.25)
    assert a.best(max_budget=4) == ("r1", pytest.approx(0.25))


def test_a_trial_resumed_from_before_its_report_at_max_budget_runs_to_its_end(tmp_path):
    """A Ctrl-C or kill caught a trial between its report at max_budget and its return, before Ray saved
    that report's checkpoint: the resume restarts its function from the checkpoint before, so it reports
    max_budget again.  It was stopped there (the code after its training loop never ran, CI 2026-12-07: 9
    completion marks of 10); now it runs on to its end, and its value stays the one first reported."""
    a = _coordinator(tmp_path, scheduler="fifo", num_samples=1)
    a.suggest("r1")
    for b in (1, 2, 3, 4):
        a.on_result("r1", {"loss": 1.0 / b, "training_iteration": b})
    b = _restored(tmp_path, a.state_dict(), scheduler="fifo", num_samples=1)  # the driver's last snapshot
    assert b.trials["r1"].outcome == "completed" and b.trials["r1"].status != "done"
    assert b.on_result("r1", {"loss": 0.3, "training_iteration": 4}) == "continue"  # retrained, not equal
    assert b.on_result("r1", {"loss": 0.01, "training_iteration": 5}) == "stop"  # past max_budget, as ever
    b.on_complete("r1", {"loss": 0.01, "training_iteration": 5}, False)
    t = b.trials["r1"]
    assert t.outcome == "completed" and t.budget == 4 and t.last_value == pytest.approx(0.25)
    assert b.best(max_budget=4) == ("r1", pytest.approx(0.25))


def test_a_function_that_returns_below_max_budget_is_completed_and_said_so(tmp_path, caplog):
    """A function that only returns a value (one report) under a scheduler with max_budget=4: it counts as
    completed at its budget, the reason says it returned below max_budget, and the log says so once."""
    a = _coordinator(tmp_path, scheduler="fifo", num_samples=3)
    for rid in ("r1", "r2"):
        a.suggest(rid)
        a.on_result(rid, {"loss": 0.5, "training_iteration": 1})
        with caplog.at_level("WARNING", logger="tunestack"):
            a.on_complete(rid, {"loss": 0.5, "training_iteration": 1}, False)
    a.suggest("r3")  # one that trains to max_budget: plain "completed"
    for b in (1, 2, 3, 4):
        a.on_result("r3", {"loss": 0.1, "training_iteration": b})
    a.on_complete("r3", {"loss": 0.1, "training_iteration": 4}, False)
    assert a.trials["r1"].outcome == "completed: its function returned at budget 1, below max_budget=4"
    assert a.trials["r3"].outcome == "completed"
    said = [r for r in caplog.records if "returned at budget 1, below max_budget=4" in r.getMessage()]
    assert len(said) == 1 and "r1" in said[0].getMessage()
    plain = _coordinator(tmp_path, scheduler=None, num_samples=1)  # no scheduler, no max_budget: nothing to say
    plain.suggest("p1")
    plain.on_complete("p1", {"loss": 0.5, "training_iteration": 1}, False)
    assert plain.trials["p1"].outcome == "completed"


def test_a_trial_that_fails_before_its_first_report_fails_at_the_first_budget(tmp_path):
    """Under a scheduler the searcher's models are fit at budgets; a trial that raised before reporting was
    told as a failed *final* result, which no budget's fit sees.  It is told at min_budget now (as the
    simulator tells a failure at its evaluation's budget), so the fit at min_budget counts it as bad."""
    a = _coordinator(tmp_path, scheduler="asha", num_samples=4)
    a.suggest("r1")
    a.on_complete("r1", None, True)  # raised before its first report
    a.suggest("r2")
    a.on_result("r2", {"loss": 0.5, "training_iteration": 1})  # a rung result: told at budget 1
    rec1, rec2 = (a.searcher.trials[a.trials[r].sid] for r in ("r1", "r2"))
    assert rec1.results == {1.0: None} and rec2.results == {1.0: 0.5}
    X, y = a.searcher.data(1.0)  # r2's value, and r1 as bad as the worst value there
    assert len(y) == 2 and list(y) == pytest.approx([0.5, 0.5])
    plain = _coordinator(tmp_path, scheduler=None, num_samples=1)  # no scheduler: a failed final, as ever
    plain.suggest("p1")
    plain.on_complete("p1", None, True)
    assert plain.searcher.trials[plain.trials["p1"].sid].results == {None: None}


def test_a_paused_trial_that_a_restore_brings_back_pending_waits_for_its_promotion(tmp_path):
    """Ray's restore makes every unfinished trial PENDING and starts every PENDING trial by itself, so a
    trial paused at a rung before a Ctrl-C trained on unpromoted and ended between rungs (a user-style
    Ctrl-C of tpe + asha, max_budget 4, eta 2: "stopped early: not promoted" at budget 3).  The coordinator
    names such trials for the Ray adapter, which makes them PAUSED; they wait and resume when promoted."""
    a = _coordinator(tmp_path, scheduler="asha", num_samples=3)
    a.suggest("r1")
    assert a.on_result("r1", {"loss": 0.1, "training_iteration": 1}) == "pause"
    a.suggest("r2")
    b = _restored(tmp_path, a.state_dict(), scheduler="asha", num_samples=3)
    assert b.trials["r1"].status == "paused"
    assert b.held_paused({"r1": "PENDING", "r2": "PENDING"}) == ["r1"]  # the adapter makes r1 PAUSED
    assert b.choose({"r1": "PAUSED", "r2": "RUNNING"}) == (None, [])  # it waits
    assert b.on_result("r2", {"loss": 0.9, "training_iteration": 1}) == "pause"
    assert b.choose({"r1": "PAUSED", "r2": "PAUSED"}) == ("r1", [])  # promoted: resumed
    assert b.trials["r1"].status == "running"


def _predicting(c):
    """Make the coordinator's scheduler stop every trial at budget 2 on a prediction of 0.7, as lce does."""
    from tunestack.schedulers.base import Decision

    inner = c.scheduler.on_result

    def on_result(tid, budget, value):
        dec = inner(tid, budget, value)
        if budget >= 2:
            return Decision("stop", reason="stopped early: P(final beats the incumbent) = 0.01", milestone=True,
                            predicted=0.7)
        return dec

    c.scheduler.on_result = on_result
    return c


def test_a_predicted_final_is_kept_with_the_trial_and_survives_a_kill(tmp_path):
    a = _predicting(_coordinator(tmp_path, scheduler="fifo"))
    a.suggest("r1")
    snapshot = json.loads(json.dumps(a.state_dict()))  # Ray's snapshot: r1 running; then it is stopped
    # on a prediction, and r2 too
    for b in (1, 2):
        a.on_result("r1", {"loss": 1.0, "training_iteration": b})
    a.on_complete("r1", {"loss": 1.0, "training_iteration": 2}, False)
    a.suggest("r2")
    for b in (1, 2):
        a.on_result("r2", {"loss": 2.0, "training_iteration": b})
    a.on_complete("r2", {"loss": 2.0, "training_iteration": 2}, False)
    assert a.trials["r1"].predicted == 0.7 and a.trials["r1"].outcome.startswith("stopped early")
    assert a.searcher.trials[a.trials["r1"].sid].predicted
    # a state round trip keeps it
    assert _restored(tmp_path, a.state_dict(), scheduler="fifo").trials["r2"].predicted == 0.7
    # after a kill: r1 is replayed from the journal, r2 (born after the snapshot) adopted; both keep the
    # prediction, and the searcher holds it as a predicted final of each, not only their last result
    b = _restored(tmp_path, snapshot, scheduler="fifo")
    assert b.replay_journal() == 2
    for rid in ("r1", "r2"):
        t = b.trials[rid]
        assert t.predicted == 0.7, rid
        rec = b.searcher.trials[t.sid]
        assert rec.predicted and rec.results[None] == pytest.approx(0.7), (rid, rec.results)


def test_num_samples_minus_one_hands_out_trials_until_the_job_is_stopped(tmp_path):
    c = _coordinator(tmp_path, "asha", num_samples=-1, max_concurrent=1)
    for i in range(40):  # far past any bracket: a rung scheduler keeps asking for new trials
        rid = f"r{i}"
        cfg = c.suggest(rid)
        assert isinstance(cfg, dict), (i, cfg)
        c.on_result(rid, {"loss": _loss(cfg), "training_iteration": 1})
        c.on_complete(rid, {"loss": _loss(cfg), "training_iteration": 1}, False)
    assert not c.search_finished and len(c.trials) == 40


def test_a_job_saved_without_a_scheduler_resumes_without_one(tmp_path):
    """fifo with max_budget now runs fifo's core; a job saved before ran with none, and its trials are
    unknown to a fresh core (a result of one raised 'unknown trial'): it goes on as it ran."""
    a = _coordinator(tmp_path)
    a.suggest("r1")
    a.on_result("r1", {"loss": 0.5, "training_iteration": 1})
    c = _restored(tmp_path, a.state_dict(), scheduler="fifo")
    assert c.scheduler is None
    assert c.on_result("r1", {"loss": 0.4, "training_iteration": 2}) == "continue"
    saved = _coordinator(tmp_path, scheduler="fifo")
    saved.suggest("r1")
    assert _restored(tmp_path, saved.state_dict(), scheduler="fifo").scheduler is not None


def test_the_known_budget_of_a_restored_trial_is_what_its_scheduler_saw(tmp_path):
    """The Ray adapter rewinds a restored trial whose checkpoint is past this budget (our state older than
    Ray's trial list); fifo decides nothing before max_budget, so its trials are never rewound."""
    for scheduler, expected in (("asha", 1.0), ("fifo", None)):
        a = _coordinator(tmp_path, scheduler=scheduler, num_samples=3)
        a.suggest("r1")
        a.on_result("r1", {"loss": 0.1, "training_iteration": 1})
        a.suggest("r2")
        b = _restored(tmp_path, a.state_dict(), scheduler=scheduler, num_samples=3)
        assert b.known_budget("r1") == expected and b.known_budget("r9") is None
        assert b.known_budget("r2") == (None if scheduler == "fifo" else 0.0)  # no report seen yet
        if scheduler == "asha":
            b.on_complete("r1", {"loss": 0.1, "training_iteration": 1}, True)
            assert b.known_budget("r1") is None  # ended: not run again
