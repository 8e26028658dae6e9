"""Space-filling initial designs shared by the model-based searchers.

A scrambled Sobol sequence (Owen scrambling, scipy's ``qmc.Sobol``) in the unit cube, mapped to valid
vectors with :meth:`SearchSpace.from_unit`; points that hit a forbidden clause are skipped.  The design
is a pure function of ``(space, n, seed)``, so searchers only keep the seed and how much they used.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import qmc

from ..space import SearchSpace

__all__ = ["sobol_design"]


def sobol_design(space: SearchSpace, n: int, seed: int) -> np.ndarray:
    """``n`` normalized vectors of a scrambled Sobol design (``n x space.dim``), deterministic in seed."""
    if n <= 0:
        return np.empty((0, space.dim))
    sampler = qmc.Sobol(d=space.dim, scramble=True, seed=np.random.default_rng(seed))
    out: list[np.ndarray] = []
    seen: set[tuple] = set()
    draw = 2 ** max(1, math.ceil(math.log2(n)))
    for _ in range(8):
        for vec in space.from_unit(sampler.random(draw)):
            key = tuple(np.nan_to_num(vec, nan=-1.0).round(12))
            if key in seen or space.is_forbidden(space.decode_flat(vec)):
                continue
            seen.add(key)
            out.append(vec)
            if len(out) == n:
                return np.array(out)
    # tiny discrete spaces: fewer distinct points than asked
    return np.array(out).reshape(-1, space.dim)
