"""``tunestack.minimize``: the in-process ask/tell loop for cheap objectives."""
from __future__ import annotations

import json
import math
import os
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd

from .._registry import is_whole
from ..searchers import Searcher, create
from ..space import SearchSpace
from .coordinator import _plain
from .decorator import check_takes_a_config
from .session import _lift, _scalar, exit_error

__all__ = ["minimize", "MinimizeResult", "RUN_FORMAT", "check_searcher_object"]

RUN_FORMAT = "tunestack.minimize/1"


@dataclass
class MinimizeResult:
    """The outcome of :func:`minimize`.  ``history`` has one record per evaluation, in order."""

    best_config: dict | None
    best_value: float | None
    history: list[dict] = field(default_factory=list)
    searcher: Searcher | None = None
    interrupted: bool = False
    path: str | None = None  # the JSON file the run is saved to (``path=``), else None
    _space_key: Any = field(default=None, repr=False)  # the space as saved runs compare it
    _metric: str | None = field(default=None, repr=False)  # minimize's metric=, saved with the run

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.history)

    def values(self) -> list[float]:
        return [h["value"] for h in self.history]


def minimize(fn: Callable[[dict], Any], space: Any, searcher: str | Searcher = "random",
             n_trials: int = 100, seed: int | None = None, mode: str = "min",
             callback: Callable[[dict], None] | None = None, path: str | os.PathLike | None = None,
             searcher_kwargs: Mapping[str, Any] | None = None, metric: str | None = None,
             **options: Any) -> MinimizeResult:
    """Optimize ``fn(config) -> float`` over ``space`` with ``n_trials`` sequential evaluations.

    A call that raises (or calls ``sys.exit``), or returns nan/inf, is recorded as failed and told to
    the searcher as a failure; the loop goes on.  Ctrl-C stops the loop and returns what was evaluated
    so far.  Searcher options go in ``searcher_kwargs`` (a dict, as in ``fn.tune``) or as keyword
    arguments (``n_startup=5``).  The objective gets its own copy of each configuration.

    ``metric``: the objective may return a dict of results; ``metric`` names the one to optimize (a
    nested one by its path, ``"val/loss"`` for ``{"val": {"loss": ...}}``).  Without it a dict must hold
    one value.

    ``path``: a JSON file that holds the run (every evaluation and the searcher's JSON state), rewritten
    atomically after each evaluation.  Called again with the same ``path`` (after a Ctrl-C, a crash or
    a killed process), the run goes on where it stopped -- the same searcher state, so the same asks as
    an uninterrupted run -- until ``n_trials`` evaluations in all; only an evaluation in progress at a
    kill is lost.  The searcher, ``mode``, ``metric`` and space must be those of the saved run (else
    ``ValueError``).
    """
    if not (is_whole(n_trials) and n_trials >= 1):
        raise ValueError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
    n_trials = int(n_trials)
    if metric is not None and (not isinstance(metric, str) or not metric):
        raise ValueError(f"metric must be the name of a result (a non-empty string), got {metric!r}")
    check_takes_a_config(fn, "minimize")
    both = set(searcher_kwargs or {}) & set(options)
    if both:
        raise ValueError(f"searcher option(s) {sorted(both)} given twice: in searcher_kwargs and as keyword "
                         "arguments")
    if isinstance(searcher, Searcher):
        check_searcher_object(searcher, space, mode, {**(searcher_kwargs or {}), **options})
    s = create(searcher, space, mode=mode, seed=seed, **{**(searcher_kwargs or {}), **options})
    result = MinimizeResult(None, None, searcher=s, path=None if path is None else os.fspath(path),
                            _metric=metric)
    if result.path is not None:
        result._space_key = _space_key(s)
        # its folder made now: a missing one failed the save of the first evaluation, which was lost
        folder = os.path.dirname(os.path.abspath(result.path))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise ValueError(f"path={result.path!r}: its folder cannot be created ({e})") from None
    sign = 1.0 if mode == "min" else -1.0
    best = math.inf
    if result.path is not None and os.path.exists(result.path):
        _load_run(result, mode)
        for h in result.history:
            if h["status"] == "ok" and sign * h["value"] < best:
                best = sign * h["value"]
                result.best_config, result.best_value = h["config"], h["value"]
    try:
        for _ in range(n_trials - len(result.history)):
            sug = s.ask()
            t0 = time.perf_counter()
            record: dict[str, Any] = {"trial_id": sug.id, "config": sug.config}
            try:
                try:
                    value = _as_float(fn(copied(sug.config)), metric)
                except SystemExit as e:  # argparse in the function, say: one evaluation, not the program
                    raise exit_error(e.code) from None
                status = "ok" if math.isfinite(value) else "failed: value is not finite"
            except Exception as e:  # noqa: BLE001 - a failing evaluation never stops the search
                value, status = math.nan, f"failed: {type(e).__name__}: {e}"
                warnings.warn(f"trial {sug.id} raised {type(e).__name__}: {e}\n"
                              f"{''.join(traceback.format_exception_only(type(e), e)).strip()}",
                              RuntimeWarning, stacklevel=2)
            record.update(value=value, status=status, seconds=time.perf_counter() - t0)
            s.tell(sug.id, value)
            result.history.append(record)
            if result.path is not None:
                _save_run(result, mode)
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


def copied(config: Any) -> Any:
    """The configuration's dicts and lists copied (their other objects shared, a large constant not
    copied): an objective that pops or sets keys of its config (``lr = config.pop("lr")``) left the
    history and ``best_config`` without them."""
    if isinstance(config, dict):
        return {k: copied(v) for k, v in config.items()}
    if isinstance(config, list):
        return [copied(v) for v in config]
    return config


def check_searcher_object(s: Searcher, space: Any, mode: str, options: dict) -> None:
    """A searcher object runs as it was made: refuse one that would search another space or direction
    than the call names (every evaluation failed on a missing key, or the best was the worst)."""
    if options:
        raise ValueError(f"searcher options {sorted(options)} need a searcher name, not a searcher object")
    if s.mode != mode:
        raise ValueError(f"the searcher object has mode={s.mode!r}, the call mode={mode!r}")
    if SearchSpace.create(space).comparable() != s.space.comparable():
        raise ValueError(f"the searcher object searches another space ({sorted(s.space.names)}) than "
                         "the one given; create it with that space")


def _save_run(result: MinimizeResult, mode: str) -> None:
    """Write the run to ``result.path`` atomically (a kill mid-write leaves the previous file)."""
    s = result.searcher
    assert s is not None and result.path is not None
    run = {"format": RUN_FORMAT, "searcher": s.name, "mode": mode, "metric": result._metric,
           "space": result._space_key,
           "history": [{**h, "value": h["value"] if math.isfinite(h["value"]) else None}
                       for h in result.history],
           "searcher_state": s.state_dict()}
    tmp = f"{result.path}.tmp"
    with open(tmp, "w") as f:
        json.dump(run, f, default=_plain)
    os.replace(tmp, result.path)


def _load_run(result: MinimizeResult, mode: str) -> None:
    s = result.searcher
    assert s is not None and result.path is not None
    try:
        with open(result.path) as f:
            run = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"path={result.path!r} exists but is not a saved tunestack.minimize run ({e}); "
                         "pass another path or remove the file") from e
    if not isinstance(run, dict) or run.get("format") != RUN_FORMAT:
        raise ValueError(f"path={result.path!r} is not a saved tunestack.minimize run (format "
                         f"{run.get('format') if isinstance(run, dict) else None!r})")
    given = {"searcher": s.name, "mode": mode, "metric": result._metric, "space": result._space_key}
    differ = [k for k in given if run.get(k) != given[k]]
    if differ:
        saved = ", ".join(f"{k}={run.get(k)!r}" for k in differ if k != "space")
        what = " and ".join(differ)
        raise ValueError(f"path={result.path!r} holds a run with another {what}"
                         f"{f' ({saved})' if saved else ''}; resume it with the same searcher, mode, metric and "
                         "space, or pass another path")
    s.load_state_dict(run["searcher_state"])
    result.history = [{**h, "value": math.nan if h["value"] is None else float(h["value"]),
                       "config": _config_of(s, h)} for h in run["history"]]


def _config_of(s: Searcher, record: Mapping[str, Any]) -> dict:
    """A saved evaluation's config as the space decodes it (its objects and types, not their JSON text)."""
    rec = s.trials.get(str(record.get("trial_id")))
    return s.space.decode(rec.vector) if rec is not None else record["config"]


def _space_key(s: Searcher) -> Any:
    """The space's description as it reads back from JSON (to compare a saved run's space with this one),
    without the memory addresses of objects' reprs (a function as a constant), which differ by process."""
    return s.space.comparable()


def _as_float(value: Any, metric: str | None = None) -> float:
    """The objective's value: a number, or ``metric`` of the dict it returned (one value without it)."""
    what = "the objective must return"
    if isinstance(value, Mapping):
        if metric is not None:
            results = dict(value)
            _lift(results, metric)
            if metric not in results:
                raise ValueError(f"the objective returned a dict without {metric!r} (metric=); its keys: "
                                 f"{list(value)}")
            value, what = results[metric], f"the objective's {metric!r} must be"
        elif len(value) != 1:
            raise TypeError(f"the objective returned a dict with keys {list(value)}; return one number, "
                            "or name the one to optimize with metric=")
        else:
            value = next(iter(value.values()))
    try:
        if isinstance(value, (str, bytes)):  # float("0.5") would take a formatted string as a value
            raise TypeError
        return float(_scalar(value))  # through item(): no warning of a tensor that needs grad
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} a number, got {type(value).__name__}") from e
