"""``@tunable``: one decorator turns a training function into a tunable one.

```python
@ts.tunable(space={"lr": tune.loguniform(1e-4, 1e-1)}, metric="val_loss", mode="min")
def train(config):
    ...
    ts.report(val_loss=...)

result = train.tune(searcher="tpe", scheduler="asha", num_samples=64, max_budget=50)
train({"lr": 1e-3})        # still runs on its own
```
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ..space import SearchSpace
from .session import TrialSession, check_names, trial_session

__all__ = ["tunable", "Tunable"]


# the options of Tunable.tune and their defaults; @tunable(..., num_samples=64) sets the function's own
TUNE_OPTIONS: dict[str, Any] = {
    "searcher": None, "scheduler": None, "num_samples": 20, "max_concurrent": None, "resources": None,
    "address": None, "name": None, "storage_path": None, "seed": None, "min_budget": 1.0, "max_budget": None,
    "eta": 3.0, "tracking": True, "tracking_uri": None, "reuse_actors": True, "time_budget_s": None,
    "searcher_kwargs": None, "scheduler_kwargs": None, "resume": False, "verbose": 1}


def _check_options(options: dict, who: str) -> None:
    unknown = sorted(set(options) - set(TUNE_OPTIONS))
    if unknown:
        raise TypeError(f"{who} got unknown option(s) {unknown}; the options of tune(): {list(TUNE_OPTIONS)}")


class Tunable:
    """A training function with its search space, metric and mode; call it or ``.tune()`` it."""

    def __init__(self, fn: Callable[[dict], Any], space: Any, metric: str, mode: str = "min",
                 budget: str = "training_iteration", **defaults: Any):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        check_takes_a_config(fn, "@tunable")
        check_names(metric, budget)
        self.fn = fn
        self.space = SearchSpace.create(space)  # a bad space fails here, at decoration time
        self.metric, self.mode, self.budget = metric, mode, budget
        _check_options(defaults, "@tunable")
        self.defaults = defaults  # tune() options, e.g. num_samples=64 or scheduler="asha"
        self.last_reports: list[dict] = []
        functools.update_wrapper(self, fn)

    def __call__(self, config: dict | None = None, **kwargs: Any) -> Any:
        """Run the function on its own: ``ts.report`` records metrics in ``self.last_reports``."""
        if config is None:
            config = self.space.default()
        session = TrialSession(metric=self.metric, in_ray=False, budget=self.budget)
        with trial_session(session):
            out = self.fn(config, **kwargs)
        self.last_reports = session.history
        return out

    def tune(self, *args: Any, **options: Any) -> Any:
        """Tune on Ray; see the README for every option.  Returns a :class:`TuneResult`.

        Options (defaults in :data:`TUNE_OPTIONS`, then those given to ``@tunable``): ``searcher``
        (``None`` takes the scheduler preset's searcher, ``bohb``: TPE, else random search),
        ``scheduler``, ``num_samples``, ``max_concurrent``, ``resources``, ``address``, ``name``,
        ``storage_path``, ``seed``, ``min_budget``, ``max_budget``, ``eta``, ``tracking``,
        ``tracking_uri``, ``reuse_actors``, ``time_budget_s``, ``searcher_kwargs``,
        ``scheduler_kwargs``, ``resume``, ``verbose``.
        """
        from .runner import JobSpec, run_job

        if len(args) > len(TUNE_OPTIONS):
            raise TypeError(f"tune() takes at most {len(TUNE_OPTIONS)} positional options, got {len(args)}")
        positional = dict(zip(TUNE_OPTIONS, args))  # in the order of TUNE_OPTIONS: searcher, scheduler ...
        twice = sorted(set(positional) & set(options))
        if twice:
            raise TypeError(f"tune() got multiple values for {twice}")
        options = {**positional, **options}
        _check_options(options, "tune()")
        o = {**TUNE_OPTIONS, **self.defaults, **options}
        spec = JobSpec(
            metric=self.metric, mode=self.mode, searcher=o["searcher"], scheduler=o["scheduler"],
            num_samples=o["num_samples"], max_concurrent=o["max_concurrent"],
            resources=dict(o["resources"] or {"cpu": 1}), name=o["name"], storage_path=o["storage_path"],
            seed=o["seed"], min_budget=o["min_budget"], max_budget=o["max_budget"], eta=o["eta"],
            budget_attr=self.budget, searcher_kwargs=dict(o["searcher_kwargs"] or {}),
            scheduler_kwargs=dict(o["scheduler_kwargs"] or {}), tracking=o["tracking"],
            tracking_uri=o["tracking_uri"], reuse_actors=o["reuse_actors"], time_budget_s=o["time_budget_s"])
        return run_job(self.fn, self.space, spec, address=o["address"], resume=o["resume"],
                       verbose=o["verbose"])

    def resume(self, path: str, address: str | None = None, verbose: int = 1) -> Any:
        """Resume a job of this function whose driver was killed; ``path`` is its job directory."""
        from .runner import resume

        return resume(path, self, address=address, verbose=verbose)


def check_takes_a_config(fn: Callable, who: str) -> None:
    """Every trial calls ``fn(config)``: a function that cannot be called so would fail every trial, as
    would one whose call returns before running its body (a generator or an ``async def`` function)."""
    inner = fn
    while isinstance(inner, functools.partial):
        inner = inner.func
    name = getattr(inner, "__name__", repr(fn))
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"{who}: {name} is a generator function (it yields): each trial calls "
                        f"{name}(config), which returns a generator without running it; report each step "
                        f"with ts.report(...) instead of yield, or return the value")
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"{who}: {name} is an async def function: each trial calls {name}(config), which "
                        f"returns a coroutine without running it; make it a plain def (with "
                        f"asyncio.run(...) inside, if it awaits)")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable Python cannot describe: left to the trials
        return
    try:
        signature.bind({})
    except TypeError as e:
        first = next(iter(signature.parameters), "")
        method = (f"; for a method (def {name}(self, config)), wrap the bound one: "
                  f"ts.tunable(space=..., metric=...)(obj.{name})") if first in ("self", "cls") else ""
        raise TypeError(f"{who}: each trial calls {name}(config), which fails ({e}): the function must "
                        f"take the configuration as its one required argument, e.g. def {name}(config); "
                        f"give other arguments defaults, or bind them with functools.partial{method}") from None


def tunable(space: Any, metric: str, mode: str = "min", budget: str = "training_iteration",
            **defaults: Any) -> Callable[[Callable[[dict], Any]], Tunable]:
    """Decorate a training function ``fn(config)`` that calls ``ts.report(metric=...)``.

    ``budget`` names the result field that counts the budget (default: the number of reports).  Other
    keyword arguments are the function's own defaults for ``tune()`` (``num_samples=64``,
    ``scheduler="asha"``, ``max_budget=50`` ...); a ``tune()`` call's own options win.
    """
    def wrap(fn: Callable[[dict], Any]) -> Tunable:
        return Tunable(fn, space, metric, mode, budget, **defaults)

    return wrap
