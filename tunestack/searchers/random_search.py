"""Random search (Bergstra & Bengio, JMLR 2012): independent draws from the prior."""
from __future__ import annotations

import numpy as np

from .base import Searcher

__all__ = ["RandomSearcher"]


class RandomSearcher(Searcher):
    """Samples each configuration independently from the space's prior with the searcher's own RNG."""

    name = "random"

    def _propose(self) -> np.ndarray:
        return self.space.sample_vectors(self.rng, 1)[0]
