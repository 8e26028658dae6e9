"""Vectorized candidate generation on a SearchSpace: unit-cube mapping and one-exchange neighbours.

The acquisition maximizer of the random-forest BO searcher evaluates thousands of candidates per ask, so
it cannot afford :meth:`SearchSpace.neighbours` / :meth:`SearchSpace.from_unit` row by row.  This module
implements the same definitions on whole matrices:

* ``from_unit``: a point of the plain unit cube to a normalized vector (categorical ``floor(u * n)``);
* ``neighbours``: SMAC's one-exchange neighbourhood (Hutter et al. 2011, Sec. 4.3): each neighbour
  changes one active parameter, a numeric one by a Gaussian step of ``scale`` in the unit scale (an
  integer or ordinal moves by at least one step), a categorical one to another choice; parameters that
  become active take their default.

Columns of unconditional spaces are snapped vectorized (rounding of integers, ordinals and categories);
conditional spaces are normalized row by row with :meth:`SearchSpace.normalize` (which decides activity),
and forbidden clauses are checked row by row only when the space has some (or not at all with
``check_forbidden=False``, for a caller that checks the few candidates it finally picks).
"""
from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np

from ..space import Param, SearchSpace

__all__ = ["Neighbourhood"]


def _int_bounds(p: Param) -> tuple[float, float]:
    """The scaled interval of an integer parameter: one equal cell around each integer (see space.py)."""
    lo, hi = p.lower - 0.5, p.upper + 0.5
    return (math.log(lo), math.log(hi)) if p.log else (lo, hi)


def _int_values(p: Param, u: np.ndarray) -> np.ndarray:
    lo, hi = _int_bounds(p)
    v = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
    if p.log:
        v = np.exp(v)
    return np.clip(np.round(v), p.lower, p.upper)


def _int_units(p: Param, v: np.ndarray) -> np.ndarray:
    lo, hi = _int_bounds(p)
    s = np.log(v) if p.log else v
    return np.clip((s - lo) / (hi - lo), 0.0, 1.0)


class Neighbourhood:
    """Matrix versions of the space's unit mapping and one-exchange neighbours."""

    def __init__(self, space: SearchSpace, check_forbidden: bool = True):
        self.space = space
        self.check_forbidden = check_forbidden and space.has_forbidden
        self.params = space.params
        self.dim = space.dim
        self.conditional = space.is_conditional
        # dimensions a neighbour can change: numeric ones and categoricals with two or more choices
        self.movable = np.array([p.kind != "cat" or p.n_choices >= 2 for p in self.params], dtype=bool)
        self.defaults = np.array([p.to_unit(p.default) for p in self.params], dtype=float)
        self._fast = [p.q is None for p in self.params]
        self._rules = _activity_rules(space) if self.conditional else None

    # ---- snapping -----------------------------------------------------------------------------------
    def snap_column(self, i: int, u: np.ndarray) -> np.ndarray:
        """Unit values of dimension ``i`` rounded to what they decode to (``SearchSpace.normalize``)."""
        p = self.params[i]
        if p.kind == "cat":
            return np.clip(np.round(u), 0, p.n_choices - 1)
        if p.kind == "ordinal":
            n = p.n_choices
            return (np.clip(np.floor(u * n), 0, n - 1) + 0.5) / n
        if not self._fast[i]:  # quantized: rare, exact but slow
            return np.array([p.snap(float(x)) for x in u], dtype=float)
        if p.kind == "float":
            return np.clip(u, 0.0, 1.0)
        return _int_units(p, _int_values(p, u))

    def _finish(self, X: np.ndarray) -> np.ndarray:
        """Activity of conditional spaces: inactive dimensions become ``nan``, newly active ones take
        their default (vectorized for conditions on categorical parents, else ``SearchSpace.normalize``)."""
        if not self.conditional:
            return X
        X = np.where(np.isnan(X), self.defaults, X)
        if self._rules is None:
            return np.array([self.space.normalize(row) for row in X]).reshape(-1, self.dim)
        for i, rules in enumerate(self._rules):  # parents come before their children
            for parent, allowed in rules:
                col = X[:, parent]
                inactive = np.isnan(col) | ~np.isin(col, allowed)
                X[inactive, i] = np.nan
        return X

    def allowed(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows that hit no forbidden clause."""
        if not self.check_forbidden:
            return np.ones(len(X), dtype=bool)
        return np.array([not self.space.is_forbidden(self.space.decode_flat(row)) for row in X], dtype=bool)

    # ---- candidates ---------------------------------------------------------------------------------
    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Points of the plain unit cube to normalized vectors (forbidden rows dropped if checked)."""
        U = np.atleast_2d(np.asarray(U, dtype=float))
        X = np.empty_like(U)
        for i, p in enumerate(self.params):
            col = U[:, i]
            if p.kind == "cat":
                col = np.floor(col * p.n_choices)
            X[:, i] = self.snap_column(i, col)
        X = self._finish(X)
        return X[self.allowed(X)]

    def neighbours(self, X: np.ndarray, m: int, scale: np.ndarray, rng: np.random.Generator,
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``m`` one-exchange neighbours of each row of ``X``: (neighbours, index of their row in X).

        ``scale`` (one per row) is the standard deviation of numeric steps in the unit scale.
        Neighbours equal to their base (or forbidden, if checked) are dropped, so fewer may come back.
        """
        k = X.shape[0]
        parent = np.repeat(np.arange(k), m)
        base = X[parent]
        # one changeable active dimension per neighbour, uniformly
        keys = rng.random(base.shape)
        keys[:, ~self.movable] = -1.0
        keys[np.isnan(base)] = -1.0
        dims = np.argmax(keys, axis=1)
        ok = keys[np.arange(len(base)), dims] >= 0.0
        steps = rng.normal(0.0, 1.0, len(base)) * np.repeat(np.asarray(scale, dtype=float), m)
        other = rng.random(len(base))
        out = base.copy()
        for i in np.unique(dims[ok]):
            rows = np.flatnonzero(ok & (dims == i))
            out[rows, i] = self._move(i, base[rows, i], steps[rows], other[rows])
        out = self._finish(out)
        diff = np.any(np.nan_to_num(out, nan=-1.0) != np.nan_to_num(base, nan=-1.0), axis=1)
        keep = diff & ok
        keep[keep] = self.allowed(out[keep])
        return out[keep], parent[keep]

    def _move(self, i: int, u: np.ndarray, step: np.ndarray, other: np.ndarray) -> np.ndarray:
        """New unit values of dimension ``i`` for the one-exchange move."""
        p = self.params[i]
        if p.kind == "cat":  # another choice, uniformly among the n - 1 others
            shift = 1 + np.floor(other * (p.n_choices - 1))
            return (u + shift) % p.n_choices
        new = self.snap_column(i, u + step)
        stuck = new == u
        if not stuck.any():
            return new
        direction = np.where(step[stuck] >= 0, 1.0, -1.0)
        if p.kind == "ordinal":  # one step to the next choice
            n = p.n_choices
            idx = np.clip(np.floor(u[stuck] * n) + direction, 0, n - 1)
            new[stuck] = (idx + 0.5) / n
        elif p.kind == "int" and self._fast[i]:  # one step to the next integer
            v = np.clip(_int_values(p, u[stuck]) + direction, p.lower, p.upper)
            new[stuck] = _int_units(p, v)
        return new


def _activity_rules(space: SearchSpace) -> list[list[tuple[int, np.ndarray]]] | None:
    """Per dimension, the (parent dimension, allowed choice indices) its conditions require; ``None``
    when some condition is of another kind (numeric parent, conjunction) or a child precedes its parent."""
    index = {n: i for i, n in enumerate(space.names)}
    rules: list[list[tuple[int, np.ndarray]]] = []
    for i, name in enumerate(space.names):
        mine = []
        for cond in space.configspace.parent_conditions_of.get(name, []):
            parent = index.get(cond.parent.name)
            hp = cond.parent
            if parent is None or parent >= i or not isinstance(hp, CS.CategoricalHyperparameter):
                return None
            choices = list(hp.choices)
            if isinstance(cond, CS.EqualsCondition):
                allowed = [choices.index(cond.value)]
            elif isinstance(cond, CS.InCondition):
                allowed = [choices.index(v) for v in cond.values]
            elif isinstance(cond, CS.NotEqualsCondition):
                allowed = [k for k, c in enumerate(choices) if c != cond.value]
            else:
                return None
            mine.append((parent, np.array(allowed, dtype=float)))
        rules.append(mine)
    return rules
