"""Synchronous Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar 2018, JMLR, Algorithm 1).

Brackets s = s_max, s_max-1, ..., 0 cycle: bracket s starts ``n = ceil((s_max+1)/(s+1) * eta**s)``
trials at budget ``max_budget * eta**-s`` and runs synchronous successive halving on them.  Like
HpBandSter, a free worker opens the next bracket while the current one waits for a rung, so workers
never idle; ``iterations`` (number of brackets) or ``max_trials`` end the plan.  BOHB is this scheduler
with a budget-aware TPE searcher (see :mod:`tunestack.schedulers.presets`).
"""
from __future__ import annotations

from .rungs import hyperband_bracket_sizes
from .successive_halving import SuccessiveHalving

__all__ = ["Hyperband"]


class Hyperband(SuccessiveHalving):
    """Synchronous Hyperband: successive-halving brackets of every aggressiveness, in turn."""

    name = "hyperband"

    def __init__(self, min_budget: float = 1.0, max_budget: float = 81.0, eta: float = 3.0,
                 mode: str = "min", seed: int | None = None, iterations: int | None = None,
                 max_trials: int | None = None):
        super().__init__(min_budget, max_budget, eta, mode, seed, None, iterations, max_trials)

    def _bracket_plan(self, index: int) -> tuple[int, int]:
        # bracket index i has s = s_max - (i mod (s_max+1)); its first rung is j = s_max - s
        sizes = hyperband_bracket_sizes(len(self.rungs), self.eta)
        j = index % len(sizes)
        return j, sizes[j]
