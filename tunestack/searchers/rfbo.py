"""Random-forest Bayesian optimization, as in SMAC (Hutter, Hoos & Leyton-Brown, LION 2011).

Sequential model-based optimization (SMBO, Hutter et al. 2011, Algorithm 1):

1. an initial design: a scrambled Sobol sequence (``sobol_design``);
2. then, each ask: fit a random forest (``forest.py``) to the observations at the largest budget with
   enough of them (``Searcher.model_budget``; final results count as the largest), on log-transformed
   targets; pending asks enter as fantasies at the worst observed value (the "constant liar" of
   Ginsbourger et al. 2010, CL-max), and new asks keep out of a ball around each pending one whose
   radius is that ask's distance to its nearest observation (a simplified local penalization, Gonzalez
   et al. 2016, at the local spacing of the data), so parallel asks spread out: far apart where the
   data are sparse, in a tight pattern around the incumbent where they are dense;
3. maximize expected improvement with SMAC's local search from the best configurations plus random and
   Sobol candidates (``acquisition.py``), and return the best candidate not yet asked;
4. every ``random_every``-th model-based ask is a random configuration instead (SMAC's interleaved
   random search, Sec. 4.3), which keeps the search from stalling on a misleading model.

Failures are imputed with the worst value observed at the same budget (``Searcher.data``).
"""
from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Mapping

import numpy as np

from .acquisition import (TRANSFORMS, MaximizerConfig, log_expected_improvement, maximize_acquisition,
                          transform_targets)
from .base import Searcher, SearcherError
from .forest import ForestConfig, RandomForestSurrogate
from .initial_design import sobol_design
from .neighbourhood import Neighbourhood

__all__ = ["RFBOSearcher"]

LIARS = ("worst", "mean", "best")
_PENALTY = 1e3  # log-EI penalty at the centre of an exclusion ball (log-EI values span ~1e2)


class RFBOSearcher(Searcher):
    """SMAC-style Bayesian optimization with a random-forest surrogate and log expected improvement.

    Keyword arguments (all optional):
        n_initial: size of the Sobol initial design (default ``max(5, dim + 1)``, at most 20).
        random_every: every k-th model-based ask is random (default 10; 0 turns it off).
        transform: target transform, ``"log"`` (default), ``"copula"`` or ``"none"``.
        liar: value given to pending asks: ``"worst"`` (default), ``"mean"`` (model prediction) or
            ``"best"`` observed value.
        exclusion: a pending ask keeps other asks out of a ball of radius ``exclusion`` times its
            distance to the nearest observation (default 1.0; 0 turns it off).
        min_points: observations a budget needs before the model uses it (default ``dim + 2``).
        forest: dict of :class:`ForestConfig` fields; maximizer: dict of :class:`MaximizerConfig` fields.
    """

    name = "rfbo"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *,
                 n_initial: int | None = None, random_every: int = 10, transform: str = "log",
                 liar: str = "worst", exclusion: float = 1.0, min_points: int | None = None,
                 forest: Mapping[str, Any] | None = None, maximizer: Mapping[str, Any] | None = None):
        super().__init__(space, mode=mode, seed=seed)
        d = self.space.dim
        self.n_initial = _check_int("n_initial", min(20, max(5, d + 1)) if n_initial is None else n_initial, 0)
        self.random_every = _check_int("random_every", random_every, 0)
        self.min_points = _check_int("min_points", d + 2 if min_points is None else min_points, 2)
        if transform not in TRANSFORMS:
            raise SearcherError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        if liar not in LIARS:
            raise SearcherError(f"liar must be one of {LIARS}, got {liar!r}")
        self.transform, self.liar = transform, liar
        if isinstance(exclusion, bool) or not isinstance(exclusion, (int, float)) or not exclusion >= 0:
            raise SearcherError(f"exclusion must be a number >= 0, got {exclusion!r}")
        self.exclusion = float(exclusion)
        try:
            self.forest_config = ForestConfig(**dict(forest or {}))
            self.maximizer_config = MaximizerConfig(**dict(maximizer or {}))
        except (TypeError, ValueError) as e:
            raise SearcherError(f"invalid forest or maximizer settings: {e}") from e
        self.hood = Neighbourhood(self.space, check_forbidden=False)  # checked at the final pick
        self.last_model_budget: float | None | bool = False  # the budget the last model was fit on
        self._n_design = 0  # initial-design points handed out
        self._n_model = 0  # model-based (or interleaved random) asks
        self._design_cache: np.ndarray = np.empty((0, d))

    # ---- proposals ----------------------------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        budget = self.model_budget(self.min_points)
        if len(self.trials) < self.n_initial or budget is False:  # warm-start observations count
            vec = self._next_design_point()
            if vec is not None:
                return vec
            return self.space.sample_vectors(self.rng, 1)[0]
        self._n_model += 1
        if self.random_every and self._n_model % self.random_every == 0:
            return self.space.sample_vectors(self.rng, 1)[0]
        return self._model_proposal(budget)

    def _next_design_point(self) -> np.ndarray | None:
        """The next point of the Sobol design not seen yet (the design is a pure function of the seed)."""
        while True:
            k = self._n_design
            if k >= len(self._design_cache):
                size = 2 ** max(4, math.ceil(math.log2(k + 1)) + 1)
                self._design_cache = sobol_design(self.space, size, seed=self.seed)
                if k >= len(self._design_cache):  # a tiny space: the design ran out
                    return None
            self._n_design += 1
            vec = self._design_cache[k]
            if _key(vec) not in self._seen:
                return vec

    def _model_proposal(self, budget: float | None) -> np.ndarray:
        X, y = self.data(budget)
        self.last_model_budget = budget
        seed = int(self.rng.integers(2**31 - 1))
        pending = np.array([r.vector for r in self.pending]).reshape(-1, self.space.dim)
        y_fit = np.concatenate([y, self._fantasies(X, y, pending, seed)])
        z = transform_targets(y_fit, self.transform)
        model = RandomForestSurrogate(self.forest_config).fit(np.concatenate([X, pending]), z, seed)
        best = float(np.min(z[: len(y)]))
        radii = self._exclusion_radii(pending, X)
        near = radii > 0
        pending, radii = pending[near], radii[near]

        def acq(C: np.ndarray) -> np.ndarray:
            mean, var = model.predict(C)
            value = log_expected_improvement(mean, var, best)
            if len(pending):  # a steep penalty inside the pending asks' exclusion balls
                d = _distances(C, pending, self.space.is_categorical)
                value = value - _PENALTY * np.max(np.maximum(0.0, 1.0 - d / radii), axis=1)
            return value

        starts = X[np.argsort(y, kind="stable")]
        cands, _ = maximize_acquisition(acq, self.hood, starts, self.rng, self.maximizer_config)
        for c in cands:
            vec = self.space.normalize(c)
            if _key(vec) not in self._seen and not self.space.is_forbidden(self.space.decode_flat(vec)):
                return vec
        return self.space.sample_vectors(self.rng, 1)[0]

    def _exclusion_radii(self, pending: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Radius of the ball around each pending ask that other asks avoid: ``exclusion`` times the
        ask's distance to its nearest observation.  In local penalization (Gonzalez et al. 2016, Sec. 3)
        the ball is where the pending evaluation is likely to tell something new; here its scale is
        the spacing of the data where the ask lies: an ask refining the incumbent excludes only the
        incumbent's close neighbourhood, so the batch's next asks refine it in other directions instead of
        leaving it, and an exploratory ask in sparse space excludes a wide region.  A fixed radius
        (``0.1 * n ** (-1/dim)``, before) left one refining ask per batch on smooth low-dimensional
        problems (``BENCHMARKS.md``, parallel section)."""
        if len(pending) == 0 or len(X) == 0 or self.exclusion == 0:
            return np.zeros(len(pending))
        return self.exclusion * np.min(_distances(pending, X, self.space.is_categorical), axis=1)

    def _fantasies(self, X: np.ndarray, y: np.ndarray, pending: np.ndarray, seed: int) -> np.ndarray:
        """Values of the pending asks for the constant liar (Ginsbourger et al. 2010, Sec. 4.2)."""
        if len(pending) == 0:
            return np.empty(0)
        if self.liar == "worst":
            return np.full(len(pending), float(np.max(y)))
        if self.liar == "best":
            return np.full(len(pending), float(np.min(y)))
        model = RandomForestSurrogate(self.forest_config).fit(X, y, seed)  # "kriging believer"
        return model.predict(pending)[0]

    # ---- state --------------------------------------------------------------------------------------
    def _get_state(self) -> dict:
        return {"n_design": self._n_design, "n_model": self._n_model}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._n_design = int(state.get("n_design", 0))
        self._n_model = int(state.get("n_model", 0))
        self._design_cache = np.empty((0, self.space.dim))

    def settings(self) -> dict:
        """The searcher's settings (for logs)."""
        return {"n_initial": self.n_initial, "random_every": self.random_every, "transform": self.transform,
                "liar": self.liar, "exclusion": self.exclusion, "min_points": self.min_points,
                "forest": asdict(self.forest_config), "maximizer": asdict(self.maximizer_config)}


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SearcherError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _distances(C: np.ndarray, P: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Distances (len(C), len(P)) between rows: unit-scale differences on numeric dimensions, 0/1
    mismatch on categorical ones, 1 where exactly one side is inactive (``nan``)."""
    A, B = C[:, None, :], P[None, :, :]
    nan_a, nan_b = np.isnan(A), np.isnan(B)
    with np.errstate(invalid="ignore"):
        diff = np.where(categorical, (A != B).astype(float), np.abs(A - B))
    diff = np.where(nan_a & nan_b, 0.0, np.where(nan_a | nan_b, 1.0, diff))
    return np.sqrt(np.sum(diff * diff, axis=2))


def _key(vec: np.ndarray) -> tuple:
    """The identity of a normalized vector (the same rounding as the base class's duplicate check)."""
    return tuple(np.round(np.nan_to_num(vec, nan=-1.0), 12).tolist())
