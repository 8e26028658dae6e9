"""CMA-ES searcher (``"cmaes"``): IPOP-CMA-ES with margin in the unit cube of the space's encoding.

* The (mu/mu_w, lambda)-CMA-ES of Hansen (2016) runs in the encoding's unit cube (log scales come free);
  the numerics live in :mod:`tunestack.searchers.cma_core`.
* Bounds: a candidate x is projected onto [0, 1]^n and the projected point is both evaluated and used
  in the update (Lamarckian repair, ``cma_core.repair``): bound optima are hit exactly and the mean stays
  in the box.  See ``benchmarks/cmaes/results/bounds.md`` for the comparison with mirroring,
  pycma-like transforms and resampling that chose it.
* Integer, ordinal and quantized parameters: CMA-ES with Margin (Hamano et al., GECCO 2022) keeps the
  probability of leaving the mean's integer cell at least alpha = 1 / (n lambda).
* IPOP restarts (Auger & Hansen, CEC 2005): on flat fitness, tolx, tolfun, stagnation, an ill
  conditioned C or no effect of the steps, restart at a uniform random mean with a doubled population.
* Ask/tell in any order: every ask samples the current distribution (asks beyond lambda are extra
  candidates of the same generation); the generation is updated as soon as lambda of its candidates are
  told, with those lambda.  Parallel workers make a population straddle generations (8 asks at a time
  and lambda = 10: two of the second 8 complete the first generation); a candidate of an earlier
  generation of the same run told after its generation was updated is injected into the current one
  (its step for the current mean and sigma, length-clipped: Hansen 2011, "Injecting external solutions
  into CMA-ES", arXiv:1110.4181), so that no evaluation is wasted.  Tells of an earlier run (before a
  restart) are kept in the history only.  (Growing lambda to the number of parallel asks instead did
  worse at 16 parallel asks and no better at 8: ``benchmarks/searchers/results/parallel.md``.)
  Failures (nan, inf, None) rank last.  A draw that decodes to an already evaluated configuration takes
  that known value without being asked again; one that hits a forbidden clause ranks as a failure.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..space import Param, SpaceError
from . import cma_core as core
from .base import Searcher, SearcherError, _key

__all__ = ["CMAESSearcher"]

_MAX_CELLS = 10_000  # parameters with more values than this are treated as continuous
_MAX_POPSIZE_FACTOR = 2 ** 9  # IPOP stops doubling lambda after 9 restarts (pycma's maxrestarts)
_X0 = ("random", "default")


class CMAESSearcher(Searcher):
    """IPOP-CMA-ES with margin for float, integer and ordinal parameters (no categoricals, no conditions).

    Options: ``sigma0`` (initial step size in the unit cube, default 0.3), ``popsize`` (initial lambda,
    default 4 + floor(3 ln n)), ``x0`` (``"random"``: uniform initial mean, ``"default"``: the space's
    default configuration), ``ipop`` (double lambda at each restart), ``max_resample`` (draws per ask
    before falling back to a random unseen point).  Results told with ``add_observation`` before the
    first ask set the initial mean (the best of them); later ones are recorded but not learnt from.
    """

    name = "cmaes"
    supports_categorical = False
    supports_conditional = False
    dedupe = False  # duplicates are handled in _propose: a known value is reused, not re-evaluated

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *, sigma0: float = 0.3,
                 popsize: int | None = None, x0: str = "random", ipop: bool = True, max_resample: int = 32):
        super().__init__(space, mode, seed)
        if not (isinstance(sigma0, (int, float)) and 0 < sigma0 <= 1):
            raise SearcherError(f"cmaes: sigma0 must be in (0, 1] (a step in the unit cube), got {sigma0!r}")
        if popsize is not None and not (_is_int(popsize) and popsize >= 2):
            raise SearcherError(f"cmaes: popsize must be an integer >= 2, got {popsize!r}")
        if x0 not in _X0:
            raise SearcherError(f"cmaes: x0 must be one of {_X0}, got {x0!r}")
        if not (_is_int(max_resample) and max_resample >= 1):
            raise SearcherError(f"cmaes: max_resample must be a positive integer, got {max_resample!r}")
        params = self.space.params
        self._dims = np.array([i for i, p in enumerate(params) if not _fixed(p)], dtype=int)
        if self._dims.size == 0:
            raise SpaceError("searcher 'cmaes': the space has no parameter with more than one value")
        self._base_vector = self.space.default_vector()  # fixed (single-valued) dimensions keep these
        self._cells = [_thresholds(params[i]) for i in self._dims]
        self._continuous = np.array([c is None for c in self._cells])
        self.n = int(self._dims.size)
        self.sigma0, self.x0, self.ipop, self.max_resample = float(sigma0), x0, bool(ipop), int(max_resample)
        self.lam0 = int(popsize) if popsize is not None else core.default_popsize(self.n)
        self._tol = core.Tolerances()
        self._lam = self.lam0
        self._state: core.CMAState | None = None  # started lazily, so warm-start observations count
        self._params = core.make_params(self.n, self._lam)
        self._hist = core.History()
        self.restarts: list[dict] = []  # one record per restart: generation, evaluations, reason, popsize
        self._gen = 0  # generations completed over all runs
        self._members: dict[str, np.ndarray] = {}  # current generation: trial id -> step y
        self._done: list[tuple[str | None, np.ndarray, float | None]] = []  # (id or None, y, known value)
        self._done_ids: set[str] = set()
        self._stale: dict[str, np.ndarray] = {}  # asked, untold candidates of an earlier generation: id -> u
        self._proposal: tuple[tuple, np.ndarray] | None = None
        self._key_to_id: dict[tuple, str] = {}

    # ---- the space ---------------------------------------------------------------------------------
    def _check_space(self) -> None:
        cats = [p.name for p in self.space.params if p.kind == "cat" and p.n_choices > 1]
        if cats:
            raise SpaceError(f"searcher 'cmaes' (CMA-ES) does not support categorical parameters {cats}: it "
                             "searches float, integer and ordinal parameters only; use 'tpe', 'rfbo' or "
                             "'random' for this space")
        if self.space.is_conditional:
            conds = [str(c) for c in self.space.configspace.conditions]
            raise SpaceError(f"searcher 'cmaes' (CMA-ES) does not support conditional spaces (conditions "
                             f"{conds}); use 'tpe', 'rfbo' or 'random' for this space")

    def _vector(self, u: np.ndarray) -> np.ndarray:
        """The normalized space vector of a point u of the CMA coordinates' unit cube."""
        vec = self._base_vector.copy()
        vec[self._dims] = u
        return self.space.normalize(vec)

    # ---- ask ---------------------------------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        if self._state is None:
            self._start_run(self._initial_mean())
        for _ in range(self.max_resample):
            state = self._state
            u, y = core.repair(state, state.point(core.sample_y(state, self.rng)))
            vec = self._vector(u)
            key = _key(vec)
            if self.space.has_forbidden and self.space.is_forbidden(self.space.decode_flat(vec)):
                self._add_done(None, y, None)  # infeasible: ranked with the failures
                continue
            tid = self._key_to_id.get(key)
            if tid is None:
                self._proposal = (key, y)
                return vec
            if self.trials[tid].results:  # already evaluated: reuse its value, do not ask again
                self._add_done(None, y, self.trials[tid].last()[1])
            # a duplicate of a pending trial: draw again
        self._proposal = None
        return self._unseen_random()

    def _unseen_random(self) -> np.ndarray:
        vec = self.space.sample_vectors(self.rng, 1)[0]
        for _ in range(16):
            if _key(vec) not in self._key_to_id:
                break
            vec = self.space.sample_vectors(self.rng, 1)[0]
        return vec

    def _on_ask(self, trial_id: str) -> None:
        key = _key(self.trials[trial_id].vector)
        self._key_to_id.setdefault(key, trial_id)

        if self._proposal is not None and self._proposal[0] == key:
            self._members[trial_id] = self._proposal[1]
        self._proposal = None

    # ---- tell --------------------------------------------------------------------------------------
    def _on_tell(self, trial_id: str) -> None:
        rec = self.trials[trial_id]
        if not rec.asked:
            self._key_to_id.setdefault(_key(rec.vector), trial_id)
        elif trial_id in self._members and trial_id not in self._done_ids:
            self._add_done(trial_id, self._members[trial_id], None)
        elif trial_id in self._stale:  # sampled by an earlier generation: inject into this one
            self._add_done(trial_id, core.inject(self._state, self._stale.pop(trial_id)), None)

    def _add_done(self, trial_id: str | None, y: np.ndarray, value: float | None) -> None:
        self._done.append((trial_id, y, value))
        if trial_id is not None:
            self._done_ids.add(trial_id)
        if len(self._done) >= self._lam:
            self._advance()

    def _value(self, trial_id: str | None, value: float | None) -> float:
        """The value an entry ranks by: the trial's latest (largest-budget) result; failures last."""
        if trial_id is not None:
            value = self.trials[trial_id].last()[1]
        return math.inf if value is None else float(value)

    def _advance(self) -> None:
        """Update the distribution with the lambda told candidates of this generation."""
        state, p = self._state, self._params
        for tid, y in self._members.items():  # untold candidates, as points (before the mean moves)
            if tid not in self._done_ids:
                self._stale[tid] = np.clip(state.point(y), 0.0, 1.0)
        f = np.array([self._value(tid, v) for tid, _, v in self._done])
        order = np.argsort(f, kind="stable")  # ties keep tell order
        ys = np.array([self._done[i][1] for i in order])
        ok = core.update(state, p, ys)
        if ok and core.record(self._hist, f[order], self._tol):
            state.sigma *= math.exp(0.2 + p.c_sigma / p.d_sigma)  # flat fitness (Hansen 2016, App. C)
        self._gen += 1
        self._members, self._done, self._done_ids = {}, [], set()
        reason = "numerical breakdown" if not ok else core.restart_reason(
            state, p, self._hist, f[order], self._continuous, self._tol)
        if reason is not None:
            self._restart(reason)
            return
        core.margin_scale(state, self._cells, self._alpha())

    # ---- runs and restarts -------------------------------------------------------------------------
    def _alpha(self) -> float:
        return 1.0 / (self.n * self._lam)  # the margin's default (Hamano et al. 2022, Sec. 5)

    def _initial_mean(self) -> np.ndarray:
        told = [r for r in self.trials.values() if r.results and r.last()[1] is not None]
        if told:  # warm start from the best known configuration
            return min(told, key=lambda r: r.last()[1]).vector[self._dims].copy()
        if self.x0 == "default":
            return self._base_vector[self._dims].copy()
        return self.rng.random(self.n)

    def _start_run(self, mean: np.ndarray) -> None:
        self._params = core.make_params(self.n, self._lam)
        self._state = core.new_state(mean, self.sigma0)
        self._hist = core.History()
        self._members, self._done, self._done_ids, self._stale = {}, [], set(), {}
        core.margin_scale(self._state, self._cells, self._alpha())

    def _restart(self, reason: str) -> None:
        """IPOP (Auger & Hansen 2005): a new run at a uniform random mean with a doubled population."""
        evals = sum(1 for r in self.trials.values() if r.results)
        self.restarts.append({"generation": self._gen, "evaluations": evals, "reason": reason,
                              "popsize": self._lam})
        if self.ipop:
            self._lam = min(2 * self._lam, _MAX_POPSIZE_FACTOR * self.lam0)
        self._start_run(self.rng.random(self.n))

    # ---- state -------------------------------------------------------------------------------------
    def _get_state(self) -> dict:
        return {
            "options": {"sigma0": self.sigma0, "lam0": self.lam0, "x0": self.x0, "ipop": self.ipop,
                        "max_resample": self.max_resample},
            "lam": self._lam,
            "generation": self._gen,
            "restarts": [dict(r) for r in self.restarts],
            "distribution": None if self._state is None else self._state.to_json(),
            "history": self._hist.to_json(),
            "members": [[tid, y.tolist()] for tid, y in self._members.items()],
            "done": [[tid, y.tolist(), v] for tid, y, v in self._done],
            "stale": [[tid, u.tolist()] for tid, u in self._stale.items()],
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._key_to_id = {}
        for tid, rec in self.trials.items():
            self._key_to_id.setdefault(_key(rec.vector), tid)
        self._proposal = None
        if not state:
            return
        opts = state["options"]
        self.sigma0, self.lam0, self.x0 = float(opts["sigma0"]), int(opts["lam0"]), opts["x0"]
        self.ipop, self.max_resample = bool(opts["ipop"]), int(opts["max_resample"])
        self._lam, self._gen = int(state["lam"]), int(state["generation"])
        self.restarts = [dict(r) for r in state["restarts"]]
        self._params = core.make_params(self.n, self._lam)
        dist = state["distribution"]
        self._state = None if dist is None else core.CMAState.from_json(dist)
        if self._state is not None and self._state.n != self.n:
            raise SearcherError("cmaes: the saved state belongs to a search space of another dimension")
        self._hist = core.History.from_json(state["history"])
        self._members = {tid: np.asarray(y, dtype=float) for tid, y in state["members"]}
        self._done = [(tid, np.asarray(y, dtype=float), v) for tid, y, v in state["done"]]
        self._done_ids = {tid for tid, _, _ in self._done if tid is not None}
        self._stale = {tid: np.asarray(u, dtype=float) for tid, u in state.get("stale", [])}


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _fixed(p: Param) -> bool:
    """A parameter with a single value (a constant categorical or a one-choice ordinal)."""
    return p.kind in ("cat", "ordinal") and p.n_choices <= 1


def _thresholds(p: Param) -> np.ndarray | None:
    """Sorted unit-scale thresholds between the values of a discrete parameter; ``None`` if continuous.

    Integers occupy equal cells of the (log) scale around each value (see ``space.Param``); quantized
    floats round to multiples of q; ordinals split [0, 1] into equal cells.
    """
    if p.kind == "ordinal":
        return np.arange(1, p.n_choices) / p.n_choices
    if p.kind == "float" and not p.q:
        return None
    step = float(p.q or 1)
    if (p.upper - p.lower) / step + 1 > _MAX_CELLS:
        return None
    values = np.arange(math.ceil(p.lower / step - 1e-9) * step, p.upper + step * 1e-9, step)
    if values.size < 2:
        return None
    lo, hi = (p.lower - 0.5, p.upper + 0.5) if p.kind == "int" else (p.lower, p.upper)
    scale = np.log if p.log else np.asarray
    mids = (values[:-1] + values[1:]) / 2
    return (scale(mids) - scale(lo)) / (scale(hi) - scale(lo))
