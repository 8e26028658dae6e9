"""The searcher contract: a pure, seeded ask/tell object with JSON state.

A searcher sees configurations (as vectors of :class:`~tunestack.space.SearchSpace`), budgets and
numbers, never a Ray trial, a file or a network.  Subclasses implement :meth:`Searcher._propose`
(the next vector, given ``self.trials``) and, when they keep state beyond the trial history,
``_get_state`` / ``_set_state``.  Cores minimize: the direction is flipped once, in :meth:`tell`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from .._registry import resolve_seed
from ..space import SearchSpace, SpaceError

__all__ = ["Searcher", "Suggestion", "TrialRecord", "SearcherError", "FINAL"]

FINAL = None  # the budget key of a final result told without a budget
STATE_FORMAT = 1


class SearcherError(ValueError):
    """A searcher was used in a way its contract does not allow."""


@dataclass(frozen=True)
class Suggestion:
    """A configuration to evaluate.  ``config`` is the user's form (nested dicts, constants)."""

    id: str
    config: dict
    vector: tuple = field(repr=False, default=())


@dataclass
class TrialRecord:
    """What a searcher knows of one configuration: its vector and its values by budget.

    ``results`` maps a budget (``None`` for a final result told without budget) to the value in
    minimization direction, or to ``None`` for a failure.
    """

    id: str
    vector: np.ndarray
    results: dict = field(default_factory=dict)
    predicted: bool = False  # the final value is a prediction (e.g. learning-curve extrapolation)
    asked: bool = True  # False for observations added with add_observation

    @property
    def pending(self) -> bool:
        return self.asked and not self.results

    @property
    def failed(self) -> bool:
        return bool(self.results) and all(v is None for v in self.results.values())

    def value_at(self, budget: float | None) -> float | None:
        return self.results.get(budget)

    def last(self) -> tuple[float | None, float | None]:
        """(budget, value) of the largest budget this trial reached; ``None`` budget means final."""
        if FINAL in self.results:
            return FINAL, self.results[FINAL]
        b = max(self.results)
        return b, self.results[b]


def budget_order(budget: float | None) -> float:
    """A budget key's place in the order of budgets: a final result (``FINAL``) comes last."""
    return math.inf if budget is FINAL else budget


def _to_value(value: Any) -> float | None:
    """A told value as a finite float, or ``None`` for a failure (nan, inf, None, an exception)."""
    if value is None or isinstance(value, BaseException):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _budget_key(budget: Any) -> float | None:
    if budget is None:
        return FINAL
    try:
        b = float(budget)
    except (TypeError, ValueError) as e:
        raise SearcherError(f"budget must be a number, got {budget!r}") from e
    if not math.isfinite(b) or b <= 0:
        raise SearcherError(f"budget must be a positive finite number, got {budget!r}")
    return b


class Searcher:
    """Base class of every searcher.  See the module docstring for the contract."""

    name: ClassVar[str] = "base"
    supports_categorical: ClassVar[bool] = True
    supports_conditional: ClassVar[bool] = True
    #: replace a proposal identical to an earlier trial's vector by a random one
    dedupe: ClassVar[bool] = True

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None):
        if mode not in ("min", "max"):
            raise SearcherError(f"mode must be 'min' or 'max', got {mode!r}")
        self.space = SearchSpace.create(space)
        if self.space.dim == 0:
            raise SpaceError("the search space has no parameter to search (only constants)")
        self.mode = mode
        self.seed = resolve_seed(seed, SearcherError)
        self.rng = np.random.default_rng(self.seed)
        self.trials: dict[str, TrialRecord] = {}
        self._counter = 0
        self._seen: set[tuple] = set()
        self._check_space()

    # ---- the contract ------------------------------------------------------------------------------
    def ask(self) -> Suggestion:
        vec = self.space.normalize(np.asarray(self._propose(), dtype=float))
        if self.space.is_forbidden(self.space.decode_flat(vec)) or (self.dedupe and _key(vec) in self._seen):
            for _ in range(16):
                vec = self.space.sample_vectors(self.rng, 1)[0]
                if _key(vec) not in self._seen:
                    break
        tid = str(self._counter)
        self._counter += 1
        self.trials[tid] = TrialRecord(tid, vec)
        self._seen.add(_key(vec))
        self._on_ask(tid)
        return Suggestion(tid, self.space.decode(vec), tuple(vec.tolist()))

    def tell(self, trial_id: str, value: Any, budget: float | None = None, predicted: bool = False) -> None:
        """Record the value of a suggestion (at ``budget``; ``None`` means final).

        ``nan``, ``inf``, ``None`` or an exception instance mark a failure and never raise.
        """
        rec = self.trials.get(str(trial_id))
        if rec is None:
            raise SearcherError(f"unknown suggestion id {trial_id!r}: tell only ids returned by ask()")
        v = _to_value(value)
        if v is not None and self.mode == "max":
            v = -v
        rec.results[_budget_key(budget)] = v
        rec.predicted = predicted
        self._on_tell(rec.id)

    def add_observation(self, config: Mapping[str, Any], value: Any, budget: float | None = None) -> str:
        """Tell a configuration the searcher did not suggest (warm starts, user-provided results)."""
        vec, _ = self.space.encode(config)
        tid = f"obs{self._counter}"
        self._counter += 1
        self.trials[tid] = TrialRecord(tid, vec, asked=False)
        self._seen.add(_key(vec))
        self.tell(tid, value, budget)
        return tid

    def state_dict(self) -> dict:
        """JSON-serializable state; :meth:`load_state_dict` resumes exactly."""
        return {
            "format": STATE_FORMAT,
            "searcher": self.name,
            "mode": self.mode,
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "counter": self._counter,
            "trials": [
                {
                    "id": r.id,
                    "vector": [None if math.isnan(x) else float(x) for x in r.vector],
                    "results": [[b, v] for b, v in r.results.items()],
                    "predicted": r.predicted,
                    "asked": r.asked,
                }
                for r in self.trials.values()
            ],
            "extra": self._get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("searcher") != self.name:
            raise SearcherError(f"state of searcher {state.get('searcher')!r} cannot be loaded into {self.name!r}")
        if state.get("format") != STATE_FORMAT:
            raise SearcherError(f"unsupported searcher state format {state.get('format')!r}")
        self.mode = state["mode"]
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]
        self._counter = int(state["counter"])
        self.trials = {}
        self._seen = set()
        for t in state["trials"]:
            vec = np.array([np.nan if x is None else x for x in t["vector"]], dtype=float)
            if vec.shape != (self.space.dim,):
                raise SearcherError("the saved state belongs to a search space of another dimension")
            rec = TrialRecord(t["id"], vec, {b: v for b, v in t["results"]}, t["predicted"], t["asked"])
            self.trials[rec.id] = rec
            self._seen.add(_key(vec))
        self._set_state(state.get("extra") or {})

    # ---- helpers for subclasses ------------------------------------------------------------------
    @property
    def pending(self) -> list[TrialRecord]:
        return [r for r in self.trials.values() if r.pending]

    def budgets(self) -> dict[float | None, int]:
        """How many finite observations each budget has (``None`` = final results)."""
        counts: dict[float | None, int] = {}
        for r in self.trials.values():
            for b, v in r.results.items():
                if v is not None:
                    counts[b] = counts.get(b, 0) + 1
        return counts

    def model_budget(self, min_points: int) -> float | None | bool:
        """The largest budget with at least ``min_points`` finite observations (final counts as the
        largest); ``False`` when no budget has enough.  Used by budget-aware searchers (BOHB)."""
        counts = self.budgets()
        ordered = sorted(counts, key=budget_order, reverse=True)
        for b in ordered:
            if counts[b] >= min_points:
                return b
        return False

    def data(self, budget: float | None | bool = FINAL, impute_failures: bool = True,
             ) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the trials observed at ``budget`` (``True``: each trial's largest budget).

        Failures get the worst finite value observed at that budget when ``impute_failures``, else are
        left out.  ``X`` holds ``nan`` in inactive dimensions.
        """
        xs, ys, failed = [], [], []
        for r in self.trials.values():
            if not r.results:
                continue
            if budget is True:
                _, v = r.last()
            elif budget in r.results:
                v = r.results[budget]
            else:
                continue
            if v is None:
                failed.append(r.vector)
            else:
                xs.append(r.vector)
                ys.append(v)
        if impute_failures and failed and ys:
            worst = max(ys)
            xs.extend(failed)
            ys.extend([worst] * len(failed))
        X = np.array(xs, dtype=float).reshape(-1, self.space.dim)
        return X, np.array(ys, dtype=float)

    def best(self) -> tuple[str, float] | None:
        """(id, value in the user's direction) of the best final or largest-budget result."""
        best = None
        for r in self.trials.values():
            if not r.results:
                continue
            _, v = r.last()
            if v is not None and (best is None or v < best[1]):
                best = (r.id, v)
        if best is None:
            return None
        return best[0], (best[1] if self.mode == "min" else -best[1])

    # ---- hooks ------------------------------------------------------------------------------------
    def _check_space(self) -> None:
        if not self.supports_categorical and self.space.is_categorical.any():
            names = [p.name for p in self.space.params if p.kind == "cat"]
            raise SpaceError(f"searcher {self.name!r} does not support categorical parameters {names}; "
                             "use 'tpe', 'rfbo' or 'random'")
        if not self.supports_conditional and self.space.is_conditional:
            raise SpaceError(f"searcher {self.name!r} does not support conditional spaces; use 'tpe', "
                             "'rfbo' or 'random'")

    def _propose(self) -> np.ndarray:
        raise NotImplementedError

    def _on_ask(self, trial_id: str) -> None:
        """Called after a suggestion is recorded."""

    def _on_tell(self, trial_id: str) -> None:
        """Called after a value is recorded."""

    def _get_state(self) -> dict:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_get_state`` saved."""


def _key(vec: np.ndarray) -> tuple:
    return tuple(np.round(np.nan_to_num(vec, nan=-1.0), 12).tolist())
