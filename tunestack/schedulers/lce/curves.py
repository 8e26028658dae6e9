"""Parametric learning-curve families for extrapolation (Domhan, Springenberg & Hutter 2015, Table 1).

Every family is written as ``f(t) = c + a * phi(t; eta)`` on scaled time ``t = budget / max_budget``
(so ``t`` is in ``(0, 1]`` and the target is ``t = 1``): an offset ``c`` (the asymptote of saturating
families), an amplitude ``a`` of either sign (curves may fall, as a loss, or rise, as an accuracy or a
diverging loss) and one or two *shape* parameters ``eta``.  The linear part ``(c, a)`` is integrated
out exactly in :mod:`.posterior`; ``eta`` is integrated by quadrature over the fixed grids below.  A
shape parameter that sets a time scale (``kappa``) makes every family independent of the budget unit.

Relation to the paper's eleven families (their ``x`` is the epoch, ours ``kappa * t``):

* ``pow3``    c - a x^-alpha                          (Domhan 2015; Frey & Fisher 1999 power law)
* ``pow4``    c - (a x + b)^-alpha                    (Domhan 2015) -> c + a (t + beta)^-alpha
* ``exp3``    c - exp(-a x + b)                       (Domhan 2015) -> c + a exp(-kappa t)
* ``janoschek`` alpha - (alpha - beta) exp(-kappa x^delta)  (Janoschek 1957); the paper's ``weibull``
  alpha - (alpha - beta) exp(-(kappa x)^delta) (Weibull 1951) and ``exp4`` c - exp(-a x^alpha + b) are
  the same function family under a re-parametrisation, so they appear once.
* ``mmf``     alpha - (alpha - beta) / (1 + (kappa x)^delta)  (Morgan, Mercer & Flodin 1975); the
  paper's ``hill3`` and ``log power`` a / (1 + (x / e^b)^c) are MMF with one of its offsets fixed.
* ``ilog2``   c - a / log(x)                          (Domhan 2015) -> c + a / log(1 + kappa t)
* ``loglog``  log(a log(x) + b), "log log linear"     (Domhan 2015) -> c + a log(log(1 + kappa t))
* ``vapor``   exp(a + b / x + c log x), vapor pressure (Domhan 2015) -> c + a t^gamma exp(-beta / t)

The grids are chosen once, a priori, to span slow to fast curves (decay time scales from ~1/300 to
~10 times the full budget); they are not fitted to any benchmark.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Family", "FAMILIES", "family_names", "basis"]

Basis = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (t[n], e1[G], e2[G]) -> [G, n]

_KAPPA = np.geomspace(0.1, 300.0, 48)  # time scales (in units of the full budget) for 1-D families
_KAPPA2 = np.geomspace(0.1, 300.0, 24)  # the same for 2-D families
_DELTA = np.geomspace(0.25, 4.0, 13)  # shape exponents (stretched / compressed)


@dataclass(frozen=True)
class Family:
    """One curve family: ``phi(t; e1, e2)`` evaluated for every grid point at once."""

    name: str
    phi: Basis
    e1: np.ndarray  # grid of the first shape parameter (flattened with e2)
    e2: np.ndarray  # grid of the second (zeros for 1-D families)
    dims: int = 1  # number of shape parameters
    log2: bool = True  # the second parameter's grid is geometric (else linear)

    @property
    def size(self) -> int:
        return len(self.e1)


def _grid(a: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if b is None:
        return a.copy(), np.zeros_like(a)
    aa, bb = np.meshgrid(a, b, indexing="ij")
    return aa.ravel(), bb.ravel()


def _pow3(t: np.ndarray, alpha: np.ndarray, _: np.ndarray) -> np.ndarray:
    return t[None, :] ** -alpha[:, None]


def _pow4(t: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return (t[None, :] + beta[:, None]) ** -alpha[:, None]


def _exp3(t: np.ndarray, kappa: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.exp(-kappa[:, None] * t[None, :])


def _janoschek(t: np.ndarray, kappa: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return np.exp(-(kappa[:, None] * t[None, :]) ** delta[:, None])


def _mmf(t: np.ndarray, kappa: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + (kappa[:, None] * t[None, :]) ** delta[:, None])


def _ilog2(t: np.ndarray, kappa: np.ndarray, _: np.ndarray) -> np.ndarray:
    return 1.0 / np.log1p(kappa[:, None] * t[None, :])


def _loglog(t: np.ndarray, kappa: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.log(np.log1p(kappa[:, None] * t[None, :]))


def _vapor(t: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    # t^gamma * exp(-beta / t), scaled to 1 at t = 1 so the amplitude prior is comparable
    tt = t[None, :]
    return tt ** gamma[:, None] * np.exp(-beta[:, None] * (1.0 / tt - 1.0))


FAMILIES: tuple[Family, ...] = (
    Family("pow3", _pow3, *_grid(np.geomspace(0.02, 3.0, 48))),
    Family("pow4", _pow4, *_grid(np.geomspace(0.1, 4.0, 18), np.geomspace(0.003, 1.0, 16)), dims=2),
    Family("exp3", _exp3, *_grid(_KAPPA)),
    Family("janoschek", _janoschek, *_grid(_KAPPA2, _DELTA), dims=2),
    Family("mmf", _mmf, *_grid(_KAPPA2, _DELTA), dims=2),
    Family("ilog2", _ilog2, *_grid(_KAPPA)),
    Family("loglog", _loglog, *_grid(_KAPPA)),
    Family("vapor", _vapor, *_grid(np.geomspace(0.003, 0.3, 14), np.linspace(-1.0, 1.0, 13)), dims=2,
           log2=False),
)


def family_names() -> list[str]:
    return [f.name for f in FAMILIES]


def basis(t: np.ndarray, families: tuple[Family, ...] = FAMILIES) -> tuple[np.ndarray, np.ndarray]:
    """``phi`` of every grid point of every family at times ``t``: ``(Phi [G, n], family index [G])``.

    Rows that overflow (a huge power at a tiny ``t``) come back as ``nan``; the posterior drops them.
    """
    t = np.asarray(t, dtype=float)
    rows, owner = [], []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for k, fam in enumerate(families):
            phi = fam.phi(t, fam.e1, fam.e2)
            phi[~np.isfinite(phi)] = np.nan
            rows.append(phi)
            owner.append(np.full(fam.size, k))
    return np.vstack(rows), np.concatenate(owner)
