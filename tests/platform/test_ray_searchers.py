"""Every searcher through fn.tune on Ray with 2 concurrent trials: the searcher hears every result."""
from __future__ import annotations

import pytest
from ray import tune

import tunestack as ts
from tunestack.searchers import available

pytestmark = pytest.mark.ray


@ts.tunable(space={"x": tune.uniform(-2.0, 2.0), "n": tune.randint(1, 9), "lr": tune.loguniform(1e-3, 1.0)},
            metric="loss")
def bowl(config):
    ts.report(loss=(config["x"] - 0.5) ** 2 + abs(config["n"] - 4) + abs(config["lr"] - 0.1))


@pytest.mark.parametrize("name", available())
def test_searcher_receives_every_result(ray_local, tmp_path, name):
    result = bowl.tune(searcher=name, num_samples=14, max_concurrent=2, seed=0, storage_path=str(tmp_path),
                       tracking=False, verbose=0)
    searcher = result.coordinator.searcher
    assert searcher.name == name
    assert len(result.table) == 14 and (result.table["status"] == "completed").all()
    # the state holds every result, each equal to what the trial reported
    state = searcher.state_dict()
    told = {t["id"]: dict((b, v) for b, v in t["results"]) for t in state["trials"] if t["results"]}
    assert len(told) == 14
    for rid, info in result.coordinator.trials.items():
        assert told[info.sid][None] == pytest.approx(info.last_value)
    assert min(v[None] for v in told.values()) == pytest.approx(result.best_value)
    assert not searcher.pending
