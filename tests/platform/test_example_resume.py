"""The example `make demo` runs (examples/digits_mlp.py): a trial paused at a checkpoint and resumed from
it trains exactly as one that never paused (ASHA and BOHB pause trials; the model, the optimizer and the
random states -- the shuffling order and dropout's -- all come back)."""
from __future__ import annotations

import importlib.util
import math
import io
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.py"
# dropout > 0 and small batches: both random states matter
CONFIG = {"lr": 0.01, "optimizer": "sgd", "width": 32, "depth": 2, "dropout": 0.3, "batch_size": 32, "epochs": 4}


def _example():
    spec = importlib.util.spec_from_file_location("digits_mlp_under_test", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(monkeypatch, train, resume_from=None) -> list[tuple[float, bytes]]:
    """Run ``train`` plainly; each report's (val_loss, its checkpoint serialized as a pause would store it)."""
    import tunestack

    reports: list[tuple[float, bytes]] = []

    def report(checkpoint=None, **metrics):
        buf = io.BytesIO()
        torch.save(checkpoint, buf)  # a copy, as the checkpoint directory of a paused trial holds it
        reports.append((metrics["val_loss"], buf.getvalue()))

    def load_checkpoint(path=None):
        return None if resume_from is None else torch.load(io.BytesIO(resume_from), weights_only=True)

    monkeypatch.setattr(tunestack, "report", report)
    monkeypatch.setattr(tunestack, "load_checkpoint", load_checkpoint)
    train(dict(CONFIG))
    return reports


def test_a_resumed_trial_trains_as_one_that_never_paused(monkeypatch):
    ex = _example()
    straight = _run(monkeypatch, ex.train)
    assert len(straight) == CONFIG["epochs"]
    resumed = _run(monkeypatch, ex.train, resume_from=straight[1][1])  # paused after epoch 1 (of 0-3)
    assert len(resumed) == 2
    assert [v for v, _ in resumed] == [v for v, _ in straight[2:]]  # bit for bit
    again = _run(monkeypatch, ex.train, resume_from=straight[0][1])  # paused after epoch 0
    assert [v for v, _ in again] == [v for v, _ in straight[1:]]
    assert len(set(v for v, _ in straight)) == len(straight)  # the losses move: the equalities say something


def test_a_checkpoint_of_the_example_before_it_saved_random_states_still_resumes(monkeypatch):
    """A job started with the example as it was (no random states in its checkpoints) resumes with it."""
    ex = _example()
    straight = _run(monkeypatch, ex.train)
    old = torch.load(io.BytesIO(straight[1][1]), weights_only=True)
    del old["shuffle_rng"], old["torch_rng"]
    buf = io.BytesIO()
    torch.save(old, buf)
    resumed = _run(monkeypatch, ex.train, resume_from=buf.getvalue())
    assert len(resumed) == 2 and all(math.isfinite(v) for v, _ in resumed)  # two epochs trained
