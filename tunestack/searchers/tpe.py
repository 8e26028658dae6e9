"""TPE: the tree-structured Parzen estimator searcher (``"tpe"``).

Bergstra, Bardenet, Bengio & Kegl, "Algorithms for hyper-parameter optimization", NeurIPS 2011, with
the components later work found to matter (Falkner et al., BOHB, ICML 2018; Watanabe, "Tree-structured
Parzen estimator: understanding its algorithm components", arXiv:2304.11127, 2023):

1. the observations at the model budget are split by value: the best ``n_good(n)`` form the good set,
   the rest (and failures, told as the worst value) the bad set (Bergstra et al. 2011, eq. 2);
2. ``l(x)`` is a Parzen estimator over the good set, ``g(x)`` over the bad set
   (:mod:`~tunestack.searchers.parzen`: multivariate product kernels by default, a prior component,
   Scott bandwidths, Aitchison-Aitken categorical smoothing, inactive dimensions not imputed);
3. candidates are drawn from ``l`` and the one maximizing ``l(x) / g(x)`` is proposed, which maximizes
   expected improvement under the TPE model (Bergstra et al. 2011, eq. 3-4).

Tree-structured spaces are walked group by group (:mod:`~tunestack.searchers.tpe_dims`): the root
group first, then each group whose conditions its chosen parents satisfy, each with a model of its own
fit on the observations where it is active, split among themselves (as Optuna's ``group=True``).  A
space without conditions is one group.  Pending asks are constant liars in ``g`` (narrow kernels: half
the bad set's typical bandwidth), and an ask with ``k`` pending asks draws ``k + 1`` times as many
candidates (:mod:`~tunestack.searchers.tpe_model`); while too few results are in for a model only
because asks are still pending (a parallel start), the model is fit on the results there are instead of
asking at random.  With tells at several budgets, the model uses the largest budget with enough
observations (BOHB, Falkner et al. 2018, sec. 3.2).  The first ``n_startup`` asks come from a scrambled
Sobol design.  The model is refit from the trial history, so the base class's
JSON state is all the state there is; fits are cached between asks until the next tell.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .base import FINAL, Searcher, SearcherError
from .initial_design import sobol_design
from .tpe_dims import Dims
from .tpe_model import TPEConfig, TPEModel
from .trial_table import TrialTable

__all__ = ["TPESearcher"]

_RETRIES = 4  # walks of a conditional space before giving up on an unseen, allowed vector


class TPESearcher(Searcher):
    """Tree-structured Parzen estimator; see the module docstring.

    Options: ``multivariate`` (joint product kernels; ``False``: one mixture per dimension),
    ``n_startup`` (Sobol points before the model), ``n_candidates`` (draws from ``l`` per ask),
    ``gamma`` and ``max_good`` (good-set size ``min(ceil(gamma n), max_good)``), ``prior_weight``
    (weight of the prior component, in observations), ``bandwidth`` (``"neighbour"`` or ``"scott"``),
    ``bandwidth_factor`` (scales it), ``min_bandwidth`` / ``max_bandwidth`` (clip numeric
    bandwidths, unit scale), ``magic_clip`` (bandwidth floor ``magic_clip / (n + 1)``),
    ``cat_smoothing`` (strength of Aitchison-Aitken smoothing), ``min_points`` (finite observations a
    budget needs to be modelled; default ``min(dim + 1, n_startup)``), ``constant_liar`` and
    ``liar_bandwidth`` (a pending ask's kernel in ``g``, as a multiple of the bad set's typical
    bandwidth; default 0.5), ``grow_candidates`` (an ask with ``k`` pending asks draws ``(k + 1) x
    n_candidates``; default ``True``, for batches; ``False`` for asynchronous workers),
    ``random_fraction`` (the share of asks after the startup design drawn from the prior, evenly
    interleaved; default 0, BOHB's rho), ``sample_bandwidth_factor`` (candidates are drawn from ``l``
    with its bandwidths times this factor and scored unwidened, BOHB's b_w; default 1), ``min_good``
    (the good set's least size; ``None``: ``min_points``, BOHB's d + 1; default 1), ``good_weights``
    (``"uniform"``, the default: every good kernel alike, so ``l / g`` ranks by the probability of
    improvement; ``"improvement"``: each weighs its improvement on the split point, so it ranks by
    expected improvement, see :func:`~tunestack.searchers.tpe_model.improvement_weights`).

    The defaults were chosen on the continuous suite of ``benchmarks/searchers/problems.py`` and a
    synthetic conditional problem (``benchmarks/tpe/``); ``gamma = 0.15`` (linear split, capped at 25
    good points) keeps a good set of several points early on, where the sqrt split of hyperopt keeps
    only one or two, and grows it with the data as Watanabe (2023, sec. 3.1) recommends.
    """

    name = "tpe"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *,
                 multivariate: bool = True, n_startup: int = 10, n_candidates: int = 24,
                 gamma: float = 0.15, max_good: int = 25, prior_weight: float = 1.0,
                 bandwidth: str = "neighbour", bandwidth_factor: float = 1.0, min_bandwidth: float = 1e-3,
                 max_bandwidth: float = 0.5, magic_clip: float = 1.0, cat_smoothing: float = 1.0,
                 min_points: int | None = None, constant_liar: bool = True, liar_bandwidth: float = 0.5,
                 grow_candidates: bool = True, random_fraction: float = 0.0,
                 sample_bandwidth_factor: float = 1.0, min_good: int | None = 1,
                 good_weights: str = "uniform"):
        super().__init__(space, mode=mode, seed=seed)
        _check_options(n_startup=n_startup, n_candidates=n_candidates, gamma=gamma, max_good=max_good,
                       prior_weight=prior_weight, bandwidth_factor=bandwidth_factor,
                       min_bandwidth=min_bandwidth, max_bandwidth=max_bandwidth, magic_clip=magic_clip,
                       cat_smoothing=cat_smoothing, min_points=min_points, bandwidth=bandwidth,
                       liar_bandwidth=liar_bandwidth, random_fraction=random_fraction,
                       sample_bandwidth_factor=sample_bandwidth_factor, min_good=min_good,
                       good_weights=good_weights)
        d = self.space.dim
        self.n_startup = int(n_startup)
        self.n_candidates = int(n_candidates)
        self.min_points = int(min_points) if min_points is not None else max(2, min(d + 1, self.n_startup))
        self.config = TPEConfig(bool(multivariate), float(gamma), int(max_good), float(prior_weight),
                                float(bandwidth_factor), float(min_bandwidth), float(max_bandwidth),
                                float(magic_clip), float(cat_smoothing), bandwidth, float(liar_bandwidth),
                                bool(grow_candidates), float(sample_bandwidth_factor),
                                self.min_points if min_good is None else int(min_good), good_weights)
        self.constant_liar = bool(constant_liar)
        self.random_fraction = float(random_fraction)
        self.dims = Dims(self.space)
        self._design: np.ndarray | None = None
        self._table = TrialTable(d)  # the trial history as arrays, kept up to date by the hooks
        self._version = 0  # bumped by every tell: the fit is cached per version
        self._cache: tuple[int, list[TPEModel] | None] | None = None

    # ---- the ask ------------------------------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        if len(self.trials) < self.n_startup:
            return self._startup_point()
        if self._random_turn():
            return self.space.sample_vectors(self.rng, 1)[0]
        models = self._fit()
        if models is None:
            models = self._fit_while_pending()
        if models is None:
            return self.space.sample_vectors(self.rng, 1)[0]
        pending = self._table.pending() if self.constant_liar else np.empty((0, self.space.dim))
        if not self.space.is_conditional:
            vec = models[0].propose(self.rng, self.n_candidates, pending, self.dims.snap, self._allowed)
            return vec if vec is not None else self.space.sample_vectors(self.rng, 1)[0]
        for _ in range(_RETRIES):
            vec = self.space.normalize(self._walk(models, pending))
            if self._allowed(vec[None])[0]:
                break
        return vec

    def _random_turn(self) -> bool:
        """Whether this ask is one of the ``random_fraction`` drawn from the prior instead of the model
        (BOHB's random fraction, Falkner et al. 2018, sec. 3.2).  Interleaved evenly by the ask count
        after the startup design (ask ``i`` is random when ``floor((i + 1) f) > floor(i f)``), so the
        choice is a function of the trial history and needs no state of its own."""
        f = self.random_fraction
        if f <= 0.0:
            return False
        i = len(self.trials) - self.n_startup
        return int((i + 1) * f + 1e-9) > int(i * f + 1e-9)

    def _walk(self, models: list[TPEModel], pending: np.ndarray) -> np.ndarray:
        """Choose the groups of a conditional space in tree order, each by its own model."""
        x = np.full(self.space.dim, np.nan)
        decided = np.zeros(self.space.dim, dtype=bool)
        todo = list(range(len(models)))
        while todo:
            ready = [gi for gi in todo if decided[self.dims.group_parents[gi]].all()]
            if not ready:
                break
            for gi in ready:
                todo.remove(gi)
                cols = self.dims.groups[gi]
                decided[cols] = True
                if not self._active_given(x, decided, cols[0]):
                    continue
                rows = ~np.isnan(pending[:, cols[0]])
                val = models[gi].propose(self.rng, self.n_candidates, pending[rows][:, cols],
                                         lambda c, cols=cols: self.dims.snap(c, cols))
                x[cols] = val if val is not None else self.dims.snap(models[gi].l.sample(self.rng, 1), cols)[0]
        return x

    def _active_given(self, x: np.ndarray, decided: np.ndarray, j: int) -> bool:
        """Whether dimension ``j`` is active given the values decided so far (its parents are)."""
        probe = np.where(decided, x, np.where(self.dims.n_choices > 0, 0.0, 0.5))
        return not np.isnan(self.space.normalize(probe)[j])

    def _allowed(self, cand: np.ndarray) -> np.ndarray:
        """Candidates that are neither an earlier trial's vector nor forbidden."""
        keys = np.round(np.nan_to_num(cand, nan=-1.0), 12).tolist()  # the rounding of base._key
        ok = np.array([tuple(k) not in self._seen for k in keys])
        if self.space.has_forbidden:
            ok &= np.array([not self.space.is_forbidden(self.space.decode_flat(c)) for c in cand])
        return ok

    def _startup_point(self) -> np.ndarray:
        if self._design is None:
            self._design = sobol_design(self.space, self.n_startup, self.seed)
        k = sum(1 for r in self.trials.values() if r.asked)
        if k < len(self._design):
            return self._design[k]
        return self.space.sample_vectors(self.rng, 1)[0]

    # ---- the model ----------------------------------------------------------------------------------
    def _fit(self) -> list[TPEModel] | None:
        """One model per group at the model budget, cached until the next tell; ``None`` when no
        budget has ``min_points`` finite observations."""
        if self._cache is None or self._cache[0] != self._version:
            budget = self._table.model_budget(self.min_points)
            self._cache = (self._version, None if budget is False else self._fit_budget(budget))
        return self._cache[1]

    def _fit_while_pending(self) -> list[TPEModel] | None:
        """With asks pending, final results only and fewer than ``min_points`` of them, a model of the
        results there are (at least 2): parallel workers would otherwise turn the asks after the
        startup design into random search until a whole batch is told, where sequential asks would
        already have had the model.  Never used without pending asks, nor with budget tells (the
        budget-aware path keeps its own rule)."""
        if not len(self._table.pending()) or set(self.budgets()) != {FINAL}:
            return None
        return self._fit_budget(FINAL) if self._table.model_budget(2) is FINAL else None

    def _fit_budget(self, budget: float | None) -> list[TPEModel]:
        X, y = self._table.data(budget)  # as self.data(budget): failures get the worst value, so bad
        d = self.dims
        models = []
        for cols in d.groups:
            rows = ~np.isnan(X[:, cols[0]])  # the observations where the group is active
            prior = (d.prior_mu[cols], d.prior_sigma[cols]) if d.has_prior else None
            models.append(TPEModel(X[rows][:, cols], y[rows], d.n_choices[cols],
                                   lambda mu, cols=cols: d.cell_width(mu, cols), self.config, prior))
        return models

    # ---- hooks --------------------------------------------------------------------------------------
    def _on_ask(self, trial_id: str) -> None:
        self._table.update(self.trials[trial_id])

    def _on_tell(self, trial_id: str) -> None:
        self._table.update(self.trials[trial_id])
        self._version += 1

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._table = TrialTable.from_records(self.space.dim, self.trials.values())
        self._version += 1
        self._cache = None


def _check_options(**opts: Any) -> None:
    for name, low in {"n_startup": 1, "n_candidates": 1, "max_good": 1, "min_points": 2, "min_good": 1}.items():
        v = opts[name]
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low):
            raise SearcherError(f"tpe: {name} must be an integer >= {low}, got {v!r}")
    if not 0.0 < opts["gamma"] < 1.0:
        raise SearcherError(f"tpe: gamma must lie in (0, 1), got {opts['gamma']!r}")
    for name in ("prior_weight", "cat_smoothing", "magic_clip"):
        if not opts[name] >= 0.0:
            raise SearcherError(f"tpe: {name} must be >= 0, got {opts[name]!r}")
    for name in ("bandwidth_factor", "min_bandwidth", "max_bandwidth", "liar_bandwidth"):
        if not opts[name] > 0.0:
            raise SearcherError(f"tpe: {name} must be > 0, got {opts[name]!r}")
    if not opts["sample_bandwidth_factor"] >= 1.0:
        raise SearcherError("tpe: sample_bandwidth_factor must be >= 1 (it widens the candidate draws), "
                            f"got {opts['sample_bandwidth_factor']!r}")
    if not 0.0 <= opts["random_fraction"] < 1.0:
        raise SearcherError(f"tpe: random_fraction must lie in [0, 1), got {opts['random_fraction']!r}")
    if opts["good_weights"] not in ("uniform", "improvement"):
        raise SearcherError(f"tpe: good_weights must be 'uniform' or 'improvement', got {opts['good_weights']!r}")
    if opts["bandwidth"] not in ("neighbour", "scott"):
        raise SearcherError(f"tpe: bandwidth must be 'neighbour' or 'scott', got {opts['bandwidth']!r}")
    if opts["min_bandwidth"] > opts["max_bandwidth"]:
        raise SearcherError(f"tpe: min_bandwidth {opts['min_bandwidth']} exceeds max_bandwidth "
                            f"{opts['max_bandwidth']}")
