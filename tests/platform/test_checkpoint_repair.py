"""A restored trial whose snapshot names a checkpoint that Ray has since deleted (driver killed between
a newer checkpoint and the next experiment snapshot) resumes from one that exists, or from scratch; a
checkpoint that cannot be saved says what in it."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ray.train._internal.session import _TrainingResult
from ray.tune import Checkpoint

from tunestack.platform.ray_adapters import _repair_checkpoint, _rewind_checkpoint


def _trial(tmp_path, named: str, on_disk: list[str], logged: list[str]) -> SimpleNamespace:
    trial_dir = tmp_path / "train_abc"
    trial_dir.mkdir()
    for name in on_disk:
        (trial_dir / name).mkdir()
    with open(trial_dir / "result.json", "w") as f:
        for i, name in enumerate(logged, start=1):
            f.write(json.dumps({"training_iteration": i, "loss": 1.0 / i, "checkpoint_dir_name": name}) + "\n")
        f.write('{"training_iteration": 9, "loss"')  # a line the kill cut short
    res = _TrainingResult(Checkpoint(path=str(trial_dir / named)), {"training_iteration": 2})
    manager = SimpleNamespace(_latest_checkpoint_result=res)
    return SimpleNamespace(latest_checkpoint_result=res, run_metadata=SimpleNamespace(checkpoint_manager=manager))


def test_an_existing_checkpoint_is_left_alone(tmp_path):
    t = _trial(tmp_path, "checkpoint_000001", ["checkpoint_000001"], ["checkpoint_000000", "checkpoint_000001"])
    assert _repair_checkpoint(t) is None
    assert t.latest_checkpoint_result.checkpoint.path.endswith("checkpoint_000001")


def test_resumes_from_the_newest_logged_checkpoint_with_its_iteration(tmp_path):
    # the snapshot names 000001, deleted when 000002 and 000003 arrived; 000003's result was never logged
    t = _trial(tmp_path, "checkpoint_000001", ["checkpoint_000002", "checkpoint_000003"],
               ["checkpoint_000000", "checkpoint_000001", "checkpoint_000002"])
    assert _repair_checkpoint(t) == "resumes from checkpoint_000002"
    res = t.latest_checkpoint_result
    assert res.checkpoint.path.endswith("checkpoint_000002")
    assert res.metrics["training_iteration"] == 3 and res.metrics["checkpoint_dir_name"] == "checkpoint_000002"


def test_starts_from_scratch_when_no_logged_checkpoint_exists(tmp_path):
    t = _trial(tmp_path, "checkpoint_000002", ["checkpoint_000003"], ["checkpoint_000001", "checkpoint_000002"])
    assert _repair_checkpoint(t) == "starts again from scratch"
    assert t.run_metadata.checkpoint_manager._latest_checkpoint_result is None


def test_a_trial_without_checkpoint_is_left_alone():
    t = SimpleNamespace(latest_checkpoint_result=None)
    assert _repair_checkpoint(t) is None


def test_a_checkpoint_that_cannot_be_saved_names_its_entry(tmp_path):
    # a trial failed with a bare "TypeError: cannot pickle 'generator' object", nothing of the checkpoint
    from tunestack.platform.session import _save_object

    with pytest.raises(TypeError, match=r"the checkpoint cannot be saved \(its entry 'batches'\): .*generator"):
        _save_object({"epoch": 3, "batches": (b for b in range(3))}, str(tmp_path))


def test_a_checkpoint_past_what_our_state_knows_is_rewound(tmp_path):
    # Ray's snapshot names 000002 (iteration 3); our older state knows reports up to budget 2: the newest
    # checkpoint at or below it is 000001 (iteration 2)
    t = _trial(tmp_path, "checkpoint_000002", ["checkpoint_000001", "checkpoint_000002"],
               ["checkpoint_000000", "checkpoint_000001", "checkpoint_000002"])
    t.latest_checkpoint_result.metrics = {"training_iteration": 3}
    assert _rewind_checkpoint(t, "training_iteration", 2.0) == (
        "its checkpoint is at training_iteration 3, past what the job's saved state knows (2); it resumes "
        "from checkpoint_000001")
    assert t.latest_checkpoint_result.metrics["training_iteration"] == 2


def test_a_checkpoint_past_what_our_state_knows_starts_from_scratch_if_none_is_older(tmp_path):
    t = _trial(tmp_path, "checkpoint_000002", ["checkpoint_000002"], ["checkpoint_000001", "checkpoint_000002"])
    t.latest_checkpoint_result.metrics = {"training_iteration": 2}
    assert _rewind_checkpoint(t, "training_iteration", 1.0).endswith("it starts again from scratch")
    assert t.run_metadata.checkpoint_manager._latest_checkpoint_result is None


def test_a_checkpoint_our_state_knows_is_left_alone(tmp_path):
    t = _trial(tmp_path, "checkpoint_000001", ["checkpoint_000001"], ["checkpoint_000000", "checkpoint_000001"])
    assert _rewind_checkpoint(t, "training_iteration", 2.0) is None  # at iteration 2, which our state saw
    assert _rewind_checkpoint(t, "epoch", 0.0) is None  # a budget the checkpoint's result does not hold
    assert t.latest_checkpoint_result.checkpoint.path.endswith("checkpoint_000001")
