"""Presets: BOHB and friends as (searcher, scheduler) pairs, and name resolution for the platform."""
from __future__ import annotations

import pytest

from tests import spaces
from tunestack import searchers
from tunestack.schedulers import SchedulerError, presets
from tunestack.schedulers.asha import AsyncHyperband
from tunestack.schedulers.hyperband import Hyperband


def _need(name: str) -> None:
    if name not in searchers.available():
        pytest.skip(f"searcher {name!r} is not available yet")


BOHB_KW = {"multivariate": True, "magic_clip": 0.5, "good_weights": "improvement"}


def test_resolve():
    assert presets.resolve("bohb", None) == ("hyperband", "tpe", BOHB_KW)
    assert presets.resolve("async_bohb") == ("async_hyperband", "tpe", {"multivariate": True, "liar_bandwidth": 1.0,
                                                                         "grow_candidates": False})
    assert presets.resolve("rf_hyperband", None) == ("hyperband", "rfbo", {})
    assert presets.resolve("bohb", "random") == ("hyperband", None, {}), "the user's searcher wins"
    assert presets.resolve("bohb", "tpe") == presets.resolve("bohb", None), "its own searcher keeps its settings"
    assert presets.resolve("rf_hyperband", "tpe") == ("hyperband", None, {})
    assert presets.resolve("asha", None) == ("asha", None, {})
    assert presets.resolve(None, "tpe") == (None, None, {})
    out = presets.resolve("bohb", None)
    out[2]["multivariate"] = False  # a copy: the preset itself is unchanged
    assert presets.PRESETS["bohb"].searcher_kwargs == BOHB_KW


@pytest.mark.parametrize("factory,sched_cls,searcher_name", [
    (presets.bohb, Hyperband, "tpe"),
    (presets.async_bohb, AsyncHyperband, "tpe"),
    (presets.rf_hyperband, Hyperband, "rfbo"),
])
def test_factories(factory, sched_cls, searcher_name):
    _need(searcher_name)
    searcher, scheduler = factory(spaces.continuous(), 1, 27, eta=3, mode="max", seed=3)
    assert type(scheduler) is sched_cls
    assert searcher.name == searcher_name
    assert scheduler.mode == searcher.mode == "max"
    assert (scheduler.min_budget, scheduler.max_budget, scheduler.eta) == (1.0, 27.0, 3.0)
    again = factory(spaces.continuous(), 1, 27, eta=3, mode="max", seed=3)
    assert again[0].ask().config == searcher.ask().config, "seeded"


def test_bohb_asks_for_multivariate_tpe_and_user_kwargs_win(monkeypatch):
    calls = []

    def fake_create(name, space, mode="min", seed=None, **kw):
        calls.append((name, mode, seed, kw))
        return searchers.create("random", space, mode=mode, seed=seed)

    monkeypatch.setattr(presets, "create_searcher", fake_create)
    presets.bohb(spaces.continuous(), 1, 27, seed=0)
    presets.bohb(spaces.continuous(), 1, 27, seed=0, multivariate=False, n_startup=5)
    assert calls == [("tpe", "min", 0, BOHB_KW),
                     ("tpe", "min", 0, {**BOHB_KW, "multivariate": False, "n_startup": 5})]


def test_unknown_preset():
    with pytest.raises(SchedulerError, match="unknown preset"):
        presets.create_pair("bohhb", spaces.continuous(), 1, 27)


def test_unknown_scheduler_names_the_presets_too():
    from tunestack.schedulers import create

    with pytest.raises(SchedulerError, match=r"unknown scheduler 'nope'.*presets .*'bohb'"):
        create("nope")
    with pytest.raises(SchedulerError, match="'bohb' is a preset"):
        create("bohb", min_budget=1, max_budget=9)
