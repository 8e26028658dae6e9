"""Pure multi-fidelity scheduler cores (no Ray, no MLflow).

``create(name, min_budget=, max_budget=, eta=, mode=, seed=, **kw)`` builds one by name.  Presets that
pair a scheduler with a searcher (BOHB = Hyperband + budget-aware TPE) live in :mod:`.presets`.
"""
from __future__ import annotations

from typing import Any

from .._registry import Registry
from .base import Action, Decision, Scheduler, SchedulerError, TrialState, rung_budgets

__all__ = ["create", "register", "available", "Action", "Decision", "Scheduler", "SchedulerError",
           "TrialState", "rung_budgets"]

_REGISTRY = Registry("scheduler", {
    "fifo": "tunestack.schedulers.fifo:FIFOScheduler",
    "sh": "tunestack.schedulers.successive_halving:SuccessiveHalving",
    "asha": "tunestack.schedulers.asha:ASHA",
    "hyperband": "tunestack.schedulers.hyperband:Hyperband",
    "async_hyperband": "tunestack.schedulers.asha:AsyncHyperband",
    "lce": "tunestack.schedulers.lce:LCEScheduler",
}, SchedulerError)
register = _REGISTRY.register
available = _REGISTRY.available


def create(name: str | Scheduler | None, **kwargs: Any) -> Scheduler:
    """A scheduler core by name (``None`` means ``"fifo"``); kwargs pass through."""
    if isinstance(name, Scheduler):
        return name
    try:
        cls = _REGISTRY.resolve(name or "fifo")
    except SchedulerError as e:
        from .presets import PRESETS
        if name in PRESETS:
            raise SchedulerError(f"{name!r} is a preset (a scheduler with its searcher), not a scheduler core: "
                                 f"pass it as scheduler= to tune() or simulate(), or build the pair with "
                                 f"tunestack.schedulers.presets.{name}(space, min_budget, max_budget)") from None
        raise SchedulerError(f"{e}; presets (a scheduler with its searcher): {sorted(PRESETS)}") from None
    _REGISTRY.check_options(name or "fifo", cls, kwargs)
    return cls(**kwargs)
