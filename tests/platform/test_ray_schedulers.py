"""Scheduler cores on Ray: pause with a checkpoint, resume from it, stop losers, never stall."""
from __future__ import annotations

import glob
import json
import os

import pandas as pd
import pytest
from ray import tune

import tunestack as ts
from tests.platform.helpers import runs_of
from tunestack.schedulers import available as schedulers_available
from tunestack.searchers import available as searchers_available

pytestmark = pytest.mark.ray
MAX_BUDGET = 9


@ts.tunable(space={"x": tune.uniform(-1.0, 1.0), "epochs": MAX_BUDGET}, metric="loss")
def curve(config):
    start, restored = 0, 0
    ckpt = ts.load_checkpoint()
    if ckpt is not None:
        start, restored = ckpt["epoch"] + 1, 1
    for epoch in range(start, config["epochs"]):
        ts.report(loss=config["x"] ** 2 + 1.0 / (epoch + 1), epoch=epoch, restored=restored,
                  checkpoint={"epoch": epoch})


def _results(job_dir: str) -> dict[str, list[dict]]:
    out = {}
    for d in os.listdir(job_dir):
        path = os.path.join(job_dir, d, "result.json")
        if os.path.exists(path):
            rows = [json.loads(line) for line in open(path) if line.strip()]
            if rows:
                out[rows[0]["trial_id"]] = rows
    return out


SCHEDULERS = [s for s in ("asha", "hyperband", "sh", "async_hyperband", "bohb", "lce")
              if s in schedulers_available() or s == "bohb"]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_scheduler_on_ray(ray_local, mlflow_uri, tmp_path, scheduler):
    if scheduler == "bohb" and "tpe" not in searchers_available():
        pytest.skip("bohb needs the tpe searcher")
    name = f"sched-{scheduler}"
    result = curve.tune(scheduler=scheduler, num_samples=12, max_budget=MAX_BUDGET, max_concurrent=2,
                        seed=0, name=name, storage_path=str(tmp_path), tracking_uri=mlflow_uri, verbose=0)
    table = result.table
    assert len(table) == 12
    assert not table["status"].str.startswith("failed").any(), table
    # status is the category (what to group by); reason says why, e.g. lce's P(beat) at the stop
    assert set(table["status"]) <= {"completed", "stopped early"}, table["reason"].tolist()
    full = table[table["budget"] >= MAX_BUDGET]
    assert len(full) >= 1, "no trial reached max_budget"
    assert (full["status"] == "completed").all()
    assert (table["budget"] < MAX_BUDGET).any(), "nothing was stopped early"
    # every trial's epochs continue where its checkpoint left off: no epoch twice, none skipped.  Ray's
    # result.json can lose the rows before a pause (its JsonLoggerCallback copies the storage copy, which
    # may be stale, over the driver's file when a paused trial restarts), so there the rows need only be
    # contiguous; MLflow's histories (below) must hold every epoch.
    for rows in _results(result.path).values():
        epochs = [r["epoch"] for r in rows]
        assert epochs == list(range(epochs[0], epochs[0] + len(epochs)))
        assert [r["training_iteration"] for r in rows] == [e + 1 for e in epochs]
    if scheduler in ("asha", "hyperband", "sh", "bohb"):
        restored = [rows for rows in _results(result.path).values() if any(r["restored"] for r in rows)]
        assert restored, "no trial was paused and resumed from its checkpoint"
    # the best value is a max-budget value
    assert result.best_value == pytest.approx(full["value"].min())
    # MLflow: budget reached and why each trial ended
    client, parent, children = runs_of(mlflow_uri, name)
    assert len(children) == 12
    by_id = {c.data.tags["tunestack.trial_id"]: c for c in children}
    for _, row in table.iterrows():
        c = by_id[row["trial_id"]]
        assert c.data.metrics["budget_reached"] == row["budget"]
        assert c.data.tags["tunestack.status"] == row["status"] == row["reason"].split(":")[0]
        assert c.data.tags["tunestack.reason"] == row["reason"]
        # lce tells the searcher a stopped trial's predicted final; the table and MLflow show it
        if scheduler == "lce" and row["status"] == "stopped early":
            assert c.data.metrics["predicted_final"] == pytest.approx(row["predicted"])
        else:
            assert "predicted_final" not in c.data.metrics and pd.isna(row.get("predicted", float("nan")))
        expected = "FINISHED" if row["status"] == "completed" else "KILLED"
        assert c.info.status == expected, (row["status"], c.info.status)
        history = client.get_metric_history(c.info.run_id, "epoch")
        assert sorted((m.step, m.value) for m in history) == [(e + 1, e) for e in range(int(row["budget"]))]
    # the searcher heard every milestone result
    searcher = result.coordinator.searcher
    assert sum(1 for r in searcher.trials.values() if r.results) == 12


def test_synchronous_hyperband_does_not_stall_with_one_worker(ray_local, tmp_path):
    result = curve.tune(scheduler="hyperband", num_samples=10, max_budget=MAX_BUDGET, max_concurrent=1,
                        seed=1, storage_path=str(tmp_path), tracking=False, verbose=0,
                        time_budget_s=600)
    assert len(result.table) == 10
    assert not result.table["status"].isin(["running", "paused"]).any()


@pytest.mark.parametrize("scheduler", ["hyperband", "asha"])
def test_fewer_samples_than_a_bracket_still_train_one_to_max_budget(ray_local, tmp_path, scheduler):
    """num_samples=4 fills neither Hyperband's first bracket (9 trials) nor ASHA's second rung (3 results
    needed for one promotion): once the last trial is handed out the rungs decide with what they have."""
    result = curve.tune(scheduler=scheduler, num_samples=4, max_budget=MAX_BUDGET, max_concurrent=2,
                        seed=2, storage_path=str(tmp_path), tracking=False, verbose=0, time_budget_s=600)
    table = result.table
    assert len(table) == 4 and not result.interrupted
    full = table[table["budget"] >= MAX_BUDGET]
    assert len(full) >= 1 and (full["status"] == "completed").all(), table
    assert result.best_value == pytest.approx(full["value"].min())
    if scheduler == "hyperband":  # its rung waits for all four: the one that went on is the best of them
        # (the curves keep their order: loss = x^2 + 1/epoch); ASHA may have promoted before the 4th result
        assert len(full) == 1
        assert full.iloc[0]["config/x"] ** 2 == pytest.approx((table["config/x"] ** 2).min())


def test_max_budget_without_a_scheduler_ends_each_trial_there(ray_local, mlflow_uri, tmp_path):
    """fifo with max_budget=2: trials trained on to the end of the function (9 epochs) and kept that value.
    The report past max_budget, which stops a trial, is not the trial's: MLflow showed it as the latest,
    and its checkpoint (epoch 2, a model trained past the value) was the best checkpoint."""
    result = curve.tune(num_samples=2, max_budget=2, seed=0, name="fifo-max-budget", storage_path=str(tmp_path),
                        tracking_uri=mlflow_uri, verbose=0)
    table = result.table
    assert (table["budget"] == 2).all() and (table["status"] == "completed").all(), table
    assert table["value"].tolist() == pytest.approx((table["config/x"] ** 2 + 1 / 2).tolist())
    assert ts.load_checkpoint(result.best_checkpoint) == {"epoch": 1}  # the report at budget 2
    # and the stopping report's checkpoint, which nothing uses, is not left in the trials' directories
    ckpts = glob.glob(os.path.join(result.path, "*", "checkpoint_*"))
    assert len(ckpts) == 2 and all(ts.load_checkpoint(c) == {"epoch": 1} for c in ckpts), ckpts
    client, parent, children = runs_of(mlflow_uri, "fifo-max-budget")
    by_id = {c.data.tags["tunestack.trial_id"]: c for c in children}
    for _, row in table.iterrows():
        c = by_id[row["trial_id"]]
        assert c.data.metrics["loss"] == pytest.approx(row["value"])
        assert [m.step for m in client.get_metric_history(c.info.run_id, "loss")] == [1, 2]


def test_scheduler_needs_max_budget(tmp_path):
    with pytest.raises(ts.TuneError, match="max_budget"):
        curve.tune(scheduler="asha", storage_path=str(tmp_path), tracking=False)


def test_a_pause_without_a_checkpoint_warns_once(caplog):
    """A paused trial whose function reports no checkpoint would retrain from scratch when promoted."""
    from types import SimpleNamespace

    from tunestack.platform.ray_adapters import RayScheduler

    coordinator = SimpleNamespace(on_result=lambda tid, result: result["decision"],
                                  scheduler=SimpleNamespace(name="asha"))
    sched = RayScheduler(coordinator)
    trial = SimpleNamespace(trial_id="t1")
    with caplog.at_level("WARNING", logger="tunestack"):
        assert sched.on_trial_result(None, trial, {"decision": "pause", "checkpoint_dir_name": "c1"}) == "PAUSE"
        assert sched.on_trial_result(None, trial, {"decision": "continue"}) == "CONTINUE"
        assert not [r for r in caplog.records if "no checkpoint" in r.getMessage()]
        sched.on_trial_result(None, trial, {"decision": "pause"})
        sched.on_trial_result(None, SimpleNamespace(trial_id="t2"), {"decision": "pause"})
    warned = [r.getMessage() for r in caplog.records if "no checkpoint" in r.getMessage()]
    assert len(warned) == 1 and "trial t1 is paused by the 'asha' scheduler" in warned[0]
