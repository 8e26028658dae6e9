"""The Ray-for-real benchmark's measure: the best of the trials' last reports (Ray's scope="last"), so a
trial its scheduler ends below max_epochs (Ray's Hyperband rounds rungs down: 2 / 6 / 18 of 20) counts."""
from __future__ import annotations

import json

from benchmarks.multifidelity.ray_real import summarize


def _trial(root, name, losses):
    d = root / name
    d.mkdir(parents=True)
    rows = [{"training_iteration": i + 1, "val_loss": v, "val_acc": 1 - v} for i, v in enumerate(losses)]
    (d / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_a_trial_ended_below_max_epochs_by_its_scheduler_counts(tmp_path):
    _trial(tmp_path, "full", [0.5] * 19 + [0.10])          # to epoch 20
    _trial(tmp_path, "to18", [0.5] * 17 + [0.04, 0.05])    # promoted, ended at 18 + 1 = 19 < 20
    _trial(tmp_path, "early", [0.03, 0.6])                  # stopped at epoch 2: its last report counts, 0.6
    s = summarize(str(tmp_path), max_epochs=20)
    assert s["trials"] == 3 and s["epochs_trained"] == 20 + 19 + 2
    assert (s["best_final_loss"], s["best_final_epochs"]) == (0.05, 19)
    assert s["best_final_acc"] == 1 - 0.05
    assert s["best_val_loss"] == 0.10  # the old measure: trials at max_epochs only
