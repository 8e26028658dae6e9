"""Extra variants for ``dev.py --extra``: BOHB's random fraction drawn at random (probability ``p`` per
ask after the startup design, a generator of its own), as measured on 2026-12-02 (BENCHMARKS.md, one
worker).  tpe's own option ``random_fraction`` interleaves evenly instead::

    nice -n 5 .venv/bin/python benchmarks/multifidelity/dev.py --seeds 10 \\
        --variants bohb,rf_hyperband,bohb_r33,bohb_r15,random --extra benchmarks/multifidelity/dev_random_fraction.py

Executed by ``dev.py`` with ``add_variant`` in its namespace.
"""
import numpy as np

from tunestack.searchers import register
from tunestack.searchers.tpe import TPESearcher


class RandomDrawTPE(TPESearcher):
    """TPE whose asks after the startup design come from the prior with probability ``p_random``."""

    name = "tpe_random_draw"

    def __init__(self, space, mode="min", seed=None, *, p_random=1 / 3, **kw):
        super().__init__(space, mode=mode, seed=seed, **kw)
        self.p_random = p_random
        self._draws = np.random.default_rng([int(self.seed), 77])

    def _propose(self):
        if len(self.trials) >= self.n_startup and self._draws.random() < self.p_random:
            return self.space.sample_vectors(self.rng, 1)[0]
        return super()._propose()


register("tpe_random_draw", RandomDrawTPE)
add_variant("bohb_r33", "hyperband", "tpe_random_draw", {"multivariate": True, "p_random": 1 / 3})  # noqa: F821
add_variant("bohb_r15", "hyperband", "tpe_random_draw", {"multivariate": True, "p_random": 0.15})  # noqa: F821
