"""What the TPE model needs to know about each encoded dimension of a :class:`SearchSpace`.

* the number of choices of categorical dimensions (0 for numeric ones);
* normal priors declared by parameters, in the unit scale;
* the width of the cell around a value of a discrete numeric dimension (integers, ordinals, quantized
  floats): a kernel never gets narrower than its cell, so that it keeps mass on neighbouring values
  (Watanabe, arXiv:2304.11127, 2023, sec. 3.4: discrete parameters);
* snapping many candidate vectors at once to the values they decode to (vectorized, with the exact
  rounding of :meth:`SearchSpace.normalize`);
* the groups of dimensions that are active together (same conditions), and the parents each group's
  conditions read: the tree structure the searcher walks (as Optuna's ``group=True`` decomposition).
"""
from __future__ import annotations

import math

import numpy as np

from ..space import Param, SearchSpace

__all__ = ["Dims"]


def _scaled(p: Param) -> tuple[float, float]:
    """Bounds of the encoding's scale (log where the parameter is log; integer cells widened by 1/2)."""
    lo, hi = p.lower, p.upper
    if p.kind == "int":
        lo, hi = lo - 0.5, hi + 0.5
    return (math.log(lo), math.log(hi)) if p.log else (lo, hi)


class Dims:
    """Per-dimension facts of a space, precomputed once per searcher."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.params = space.params
        self.n_choices = np.array([p.n_choices if p.kind == "cat" else 0 for p in self.params], dtype=int)
        self.n_numeric = int(np.sum(self.n_choices == 0))
        self.discrete = np.array([p.kind in ("int", "ordinal") or (p.kind == "float" and bool(p.q))
                                  for p in self.params])
        self.plain_float = np.array([p.kind == "float" and not p.q for p in self.params])
        prior = [p.prior for p in self.params]
        self.prior_mu = np.array([pr[1] if pr else np.nan for pr in prior], dtype=float)
        self.prior_sigma = np.array([pr[2] if pr else 1.0 for pr in prior], dtype=float)
        self.has_prior = bool(np.any(~np.isnan(self.prior_mu)))
        self.groups, self.group_parents = _groups(space)

    # ---- discrete cells ---------------------------------------------------------------------------
    def cell_width(self, mu: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Width (unit scale) of the cell of each centre in ``mu`` (n x len(cols)); 0 where continuous."""
        cols = np.arange(self.space.dim) if cols is None else cols
        out = np.zeros_like(mu, dtype=float)
        for k, j in enumerate(cols):
            if self.discrete[j]:
                out[:, k] = self._cell(self.params[j], mu[:, k])
        return out

    @staticmethod
    def _cell(p: Param, u: np.ndarray) -> np.ndarray:
        if p.kind == "ordinal":
            return np.full(u.shape, 1.0 / max(1, len(p.choices)))
        lo, hi = _scaled(p)
        step = float(p.q or 1.0)
        u = np.nan_to_num(u, nan=0.5)
        raw = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        value = np.exp(raw) if p.log else raw
        value = np.clip(np.round(value / step) * step, p.lower, p.upper)
        if not p.log:
            return np.full(u.shape, step / (hi - lo))
        left = np.maximum(value - step / 2, np.exp(lo))
        return (np.log(value + step / 2) - np.log(left)) / (hi - lo)

    # ---- snapping candidates ------------------------------------------------------------------------
    def snap(self, x: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Columns ``cols`` of candidates (unit scale / choice index) rounded to the values they decode
        to; for a space without conditions and all columns, the rows are normalized vectors."""
        cols = np.arange(self.space.dim) if cols is None else cols
        out = x.copy()
        for k, j in enumerate(cols):
            p, col = self.params[j], out[:, k]
            if self.n_choices[j]:
                out[:, k] = np.clip(np.round(col), 0, self.n_choices[j] - 1)
            elif self.plain_float[j]:
                out[:, k] = np.clip(col, 0.0, 1.0)
            else:  # few distinct values after rounding: snap each distinct one exactly like normalize
                values, inverse = np.unique(col, return_inverse=True)
                out[:, k] = np.array([p.snap(v) for v in values])[inverse]
        return out


def _groups(space: SearchSpace) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Dimensions grouped by their conditions (the child's own name removed, so that siblings under
    the same condition share a group), with the dimensions each group's conditions read."""
    cs = space.configspace
    index = {n: i for i, n in enumerate(space.names)}
    keys: dict[tuple, list[int]] = {}
    for i, name in enumerate(space.names):
        conds = cs.parent_conditions_of.get(name, [])
        keys.setdefault(tuple(sorted(str(c).replace(f"{name} | ", "") for c in conds)), []).append(i)
    groups = [np.array(v, dtype=int) for v in keys.values()]
    parents = [np.array(sorted({index[p.name] for i in g for p in cs.parents_of.get(space.names[i], [])
                                if p.name in index}), dtype=int) for g in groups]
    return groups, parents
