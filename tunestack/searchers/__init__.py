"""Pure ask/tell searchers (numpy + scikit-learn only; no Ray, no MLflow).

``create(name, space, mode=, seed=, **kw)`` builds one by name.  Modules are imported when first used,
so each searcher lives in a module of its own.
"""
from __future__ import annotations

from typing import Any

from .._registry import Registry
from .base import FINAL, Searcher, SearcherError, Suggestion, TrialRecord

__all__ = ["create", "register", "available", "Searcher", "Suggestion", "TrialRecord", "SearcherError",
           "FINAL"]

_REGISTRY = Registry("searcher", {
    "random": "tunestack.searchers.random_search:RandomSearcher",
    "rfbo": "tunestack.searchers.rfbo:RFBOSearcher",
    "tpe": "tunestack.searchers.tpe:TPESearcher",
    "cmaes": "tunestack.searchers.cmaes:CMAESSearcher",
}, SearcherError)
register = _REGISTRY.register
available = _REGISTRY.available


def create(name: str | Searcher, space: Any = None, mode: str = "min", seed: int | None = None,
           **kwargs: Any) -> Searcher:
    """A searcher by name: ``create("tpe", space, mode="min", seed=0)``; kwargs pass through."""
    if isinstance(name, Searcher):
        return name
    cls = _REGISTRY.resolve(name)
    if space is None:
        raise SearcherError("create() needs a search space")
    _REGISTRY.check_options(name, cls, kwargs)
    return cls(space, mode=mode, seed=seed, **kwargs)
