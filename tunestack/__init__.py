"""tunestack: hyperparameter and architecture tuning on Ray Tune, with every run in MLflow.

The pure parts (``SearchSpace``, searchers, schedulers, ``minimize``) import without Ray; the Ray and
MLflow parts (``tunable``, ``report``, ``load_checkpoint``, ``simulate``) load on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .platform.local import MinimizeResult, minimize
from .space import SearchSpace, SpaceError

__version__ = "0.1.0"

_LAZY = {
    "tunable": "tunestack.platform.decorator",
    "report": "tunestack.platform.session",
    "load_checkpoint": "tunestack.platform.session",
    "TuneResult": "tunestack.platform.results",
    "TuneError": "tunestack.platform.runner",
    "resume": "tunestack.platform.runner",
    "simulate": "tunestack.platform.simulator",
}

__all__ = ["SearchSpace", "SpaceError", "minimize", "MinimizeResult", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunestack' has no attribute {name!r}")
