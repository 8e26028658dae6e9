"""``tunestack.minimize``: the in-process ask/tell loop for cheap objectives."""
from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd

from ..searchers import Searcher, create

__all__ = ["minimize", "MinimizeResult"]


@dataclass
class MinimizeResult:
    """The outcome of :func:`minimize`.  ``history`` has one record per evaluation, in order."""

    best_config: dict | None
    best_value: float | None
    history: list[dict] = field(default_factory=list)
    searcher: Searcher | None = None
    interrupted: bool = False

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.history)

    def values(self) -> list[float]:
        return [h["value"] for h in self.history]


def minimize(fn: Callable[[dict], Any], space: Any, searcher: str | Searcher = "random",
             n_trials: int = 100, seed: int | None = None, mode: str = "min",
             callback: Callable[[dict], None] | None = None, **searcher_kwargs: Any) -> MinimizeResult:
    """Optimize ``fn(config) -> float`` over ``space`` with ``n_trials`` sequential evaluations.

    A call that raises, or returns nan/inf, is recorded as failed and told to the searcher as a failure;
    the loop goes on.  Ctrl-C stops the loop and returns what was evaluated so far.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    s = create(searcher, space, mode=mode, seed=seed, **searcher_kwargs)
    result = MinimizeResult(None, None, searcher=s)
    sign = 1.0 if mode == "min" else -1.0
    best = math.inf
    try:
        for _ in range(n_trials):
            sug = s.ask()
            t0 = time.perf_counter()
            record: dict[str, Any] = {"trial_id": sug.id, "config": sug.config}
            try:
                value = _as_float(fn(sug.config))
                status = "ok" if math.isfinite(value) else "failed: value is not finite"
            except Exception as e:  # noqa: BLE001 - a failing evaluation never stops the search
                value, status = math.nan, f"failed: {type(e).__name__}: {e}"
                warnings.warn(f"trial {sug.id} raised {type(e).__name__}: {e}\n"
                              f"{''.join(traceback.format_exception_only(type(e), e)).strip()}",
                              RuntimeWarning, stacklevel=2)
            record.update(value=value, status=status, seconds=time.perf_counter() - t0)
            s.tell(sug.id, value)
            result.history.append(record)
            if status == "ok" and sign * value < best:
                best = sign * value
                result.best_config, result.best_value = sug.config, value
            if callback is not None:
                callback(record)
    except KeyboardInterrupt:
        result.interrupted = True
        warnings.warn(f"interrupted after {len(result.history)} evaluations; returning them",
                      RuntimeWarning, stacklevel=2)
    return result


def _as_float(value: Any) -> float:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise TypeError(f"the objective returned a dict with keys {list(value)}; return one number")
        value = next(iter(value.values()))
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"the objective must return a number, got {type(value).__name__}") from e
