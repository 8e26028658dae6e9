"""An experiment for ``dev.py`` (not part of tunestack): BOHB's TPE with an annealed bandwidth floor.

On the development benchmarks the floor's constant (``magic_clip``, the floor being ``magic_clip /
min(100, n + 1)``) trades the first 10 full evaluations against the later ones, smoothly
(``results/dev_bohb_clip_sensitivity.txt``: 1.0 ranks best at 10, 0.5 at 30 and 100).  Here the
constant falls linearly from ``clip_start`` to ``magic_clip`` over the first ``anneal_trials`` trials
the searcher has asked: a wide floor while the model rests on few observations, the narrow one after.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from tunestack.searchers.tpe import TPESearcher


class AnnealTPE(TPESearcher):
    name = "tpe_anneal"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *, clip_start: float = 1.0,
                 anneal_trials: int = 60, **kwargs: Any):
        super().__init__(space, mode=mode, seed=seed, **kwargs)
        self.clip_end, self.clip_start, self.anneal_trials = self.config.magic_clip, float(clip_start), int(anneal_trials)

    def current_clip(self) -> float:
        n = sum(1 for r in self.trials.values() if r.asked)
        w = max(0.0, 1.0 - n / self.anneal_trials)
        return self.clip_end + w * (self.clip_start - self.clip_end)

    def _fit_budget(self, budget: float | None):
        self.config = dataclasses.replace(self.config, magic_clip=self.current_clip())
        return super()._fit_budget(budget)
