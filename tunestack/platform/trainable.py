"""The trial side of a job: the user's function wrapped as a Ray Tune trainable (a trial session for
``ts.report``, a returned value taken as a report), and shipped through Ray's object store when it
captures large objects."""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from .session import MetricError, TrialSession, exit_error, trial_session

__all__ = ["ship", "make_trainable"]

log = logging.getLogger("tunestack")

SHIP_BYTES = 8 * 2**20


class _Shipped:
    """The user's function, pickled and put in Ray's object store; loaded once per worker process."""

    _loaded: dict[str, Callable] = {}

    def __init__(self, blob: bytes, name: str):
        import ray

        self.ref, self.name = ray.put(blob), name

    def load(self) -> Callable:
        import ray
        import ray.cloudpickle

        key = self.ref.hex()
        if key not in _Shipped._loaded:
            _Shipped._loaded.clear()  # one job's function per process at a time
            _Shipped._loaded[key] = ray.cloudpickle.loads(ray.get(self.ref))
        return _Shipped._loaded[key]


def ship(fn: Callable) -> Callable | _Shipped:
    """``fn`` itself when it pickles small, else a :class:`_Shipped` copy of it in the object store (Ray
    must be running).  A function that cannot be pickled is left to Ray, whose message names the
    variable at fault."""
    import ray.cloudpickle

    try:
        blob = ray.cloudpickle.dumps(fn)
    except Exception:
        return fn
    if len(blob) <= SHIP_BYTES:
        return fn
    shipped = _Shipped(blob, getattr(fn, "__name__", "trainable"))
    log.info("%s pickles to %.0f MiB (it captures large objects): it goes to the trials through Ray's "
             "object store", shipped.name, len(blob) / 2**20)
    return shipped


def make_trainable(fn: Callable[[dict], Any] | _Shipped, metric: str,
                   budget: str = "training_iteration") -> Callable[[dict], None]:
    """Wrap the user's function: a trial session for ``ts.report``, and a returned value as a report."""

    def trainable(config: dict) -> None:
        from .session import quiet_worker_logs, report

        quiet_worker_logs()
        user_fn = fn.load() if isinstance(fn, _Shipped) else fn
        with trial_session(TrialSession(metric=metric, budget=budget)) as session:
            try:
                out = user_fn(config)
            except SystemExit as e:  # the user's (Ray would fail the trial with no message at all)
                if session.ended_by_ray:
                    raise
                if e.code not in (None, 0) or session.reports == 0:
                    raise exit_error(e.code) from None
                out = None  # it ended after its reports
            if out is not None and session.reports == 0:
                if isinstance(out, Mapping):
                    report(**out)
                else:
                    report(**{metric: out})
            # a restored trial has reported before; one may call ray.tune.report itself (Ray Tune code)
            if session.reports == 0 and not _restored() and not _reported_to_ray():
                raise MetricError(f"the function returned without reporting {metric!r}: call "
                                  f"ts.report({metric}=...) or return the value")

    trainable.__name__ = fn.name if isinstance(fn, _Shipped) else getattr(fn, "__name__", "trainable")
    trainable.__qualname__ = trainable.__name__
    return trainable


def _reported_to_ray() -> bool:
    """Whether this trial's function reported to Ray Tune directly (``ray.tune.report``, as Ray Tune code
    does), which ``ts.report`` does not see; False where Ray's session does not say."""
    try:
        from ray.train._internal.session import get_session
        return int(getattr(get_session(), "iteration", 0) or 0) > 0
    except (ImportError, TypeError, ValueError):  # another Ray: the check that asks for ts.report stays
        return False


def _restored() -> bool:
    """Whether this trial started from a checkpoint (a pause or a restore), e.g. its last one, after
    which the function may return without reporting again."""
    from ray import tune

    return tune.get_checkpoint() is not None
