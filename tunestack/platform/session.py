"""``ts.report`` and ``ts.load_checkpoint``: what a training function calls, in a trial or on its own.

Inside a tuning trial the calls go to Ray Tune (metrics, and a checkpoint directory written here).
Called plainly (``train(config)`` outside a tuning job) ``report`` records the metrics in memory and
``load_checkpoint`` returns ``None``, so the same function runs both ways.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pickle
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

__all__ = ["report", "load_checkpoint", "MetricError", "TrialSession", "trial_session", "current_session"]

CKPT_META = "tunestack_checkpoint.json"
# result fields Ray fills in itself: a budget counted in one of them need not be reported
RAY_FILLS = frozenset({"training_iteration", "time_total_s", "time_this_iter_s", "iterations_since_restore",
                       "time_since_restore"})
# result fields Ray Tune fills in or acts on itself (ray.tune.result): a report of one would override it
# ("training_iteration": the budget Ray counts) or change what Ray does ("done": ends the trial)
RAY_OWNS = RAY_FILLS | frozenset({
    "done", "should_checkpoint", "trial_id", "experiment_id", "experiment_tag", "trainable_name", "config",
    "date", "timestamp", "pid", "hostname", "node_ip", "timesteps_since_restore", "checkpoint_dir_name"})


def ray_owned(names: Any) -> list[str]:
    """The names among ``names`` that Ray Tune owns in a result (``RAY_OWNS``, or a name starting ``__``)."""
    return sorted(n for n in names if isinstance(n, str) and (n in RAY_OWNS or n.startswith("__")))


def check_names(metric: Any, budget: Any) -> None:
    """Refuse a metric or budget that names a result field Ray Tune fills in itself (``ValueError``)."""
    if ray_owned([metric]):
        raise ValueError(f"metric={metric!r} names a result field Ray Tune fills in itself, which a report "
                         "cannot set; report your metric under another name")
    if ray_owned([budget]) and budget not in RAY_FILLS:
        raise ValueError(f"budget={budget!r} names a result field Ray Tune fills in itself; count the budget in "
                         f"one of {sorted(RAY_FILLS)} or in a field your reports carry (e.g. 'epoch')")


class MetricError(ValueError):
    """A trial reported metrics that do not include the metric being tuned."""


@dataclass
class TrialSession:
    """What ``report`` needs to know about the running trial."""

    metric: str
    in_ray: bool = True
    reports: int = 0
    budget: str = "training_iteration"  # the result field that counts the budget (Ray counts reports)
    ended_by_ray: bool = False  # Ray's report raised SystemExit: its way to end the trial's thread
    history: list[dict] = field(default_factory=list)  # plain calls only


_local = threading.local()
# the session last opened in this process, for threads the function starts (a data loader's, a training
# loop run in a thread): a trial process runs one trial at a time
_process: dict[str, TrialSession | None] = {"session": None}


def quiet_worker_logs() -> None:
    """Keep Ray's per-checkpoint INFO lines ("Checkpoint successfully created ...") off the console;
    the user's own prints and warnings still show.  Runs in each trial process."""
    for name in ("ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not getattr(sys.unraisablehook, "_tunestack", False):
        sys.unraisablehook = _quiet_exit_hook(sys.unraisablehook)


def _quiet_exit_hook(previous: Callable[[Any], None]) -> Callable[[Any], None]:
    """When Ray ends a trial's process (SIGTERM), its handler raises SystemExit wherever the process is,
    and inside a weakref callback Python prints it as "Exception ignored in ..." with a traceback on
    the driver's console; the process exits anyway.  Other unraisable exceptions still print."""
    def hook(unraisable: Any) -> None:
        if not issubclass(unraisable.exc_type, SystemExit):
            previous(unraisable)

    hook._tunestack = True  # type: ignore[attr-defined]
    return hook


def current_session() -> TrialSession | None:
    return getattr(_local, "session", None) or _process["session"]


@contextlib.contextmanager
def trial_session(session: TrialSession) -> Iterator[TrialSession]:
    previous, previous_process = getattr(_local, "session", None), _process["session"]
    _local.session = _process["session"] = session
    try:
        yield session
    finally:
        _local.session, _process["session"] = previous, previous_process


def report(checkpoint: Any = None, **metrics: Any) -> None:
    """Report metrics (``val_loss=0.3``) and optionally a checkpoint for this step.

    ``checkpoint`` is a dict of objects (saved with ``torch.save`` when torch is installed, else
    pickle) or the path of a directory you wrote yourself; :func:`load_checkpoint` gives it back when a
    paused or restored trial resumes.
    """
    if not metrics:
        raise MetricError("report() needs at least one metric, e.g. report(val_loss=0.25)")
    session = current_session()
    if session is None:  # called outside any tunestack job: record and return
        _local.plain_history = getattr(_local, "plain_history", [])
        _local.plain_history.append(dict(metrics))
        return
    owned = ray_owned(metrics)
    if owned:
        raise MetricError(
            f"report() got {owned}: Ray Tune fills in these result fields itself, or acts on them ('done' "
            f"ends the trial, 'training_iteration' is the step Ray counts); report them under other names, "
            f"e.g. report(epoch=...) with budget='epoch' in @tunable for a step of your own")
    for name in (session.metric, session.budget):
        _lift(metrics, name)
    if session.metric not in metrics:
        raise MetricError(
            f"report() got metrics {sorted(metrics)} but the job tunes {session.metric!r}; report it, "
            f"e.g. report({_argument(session.metric, '...')}), or fix metric= in @tunable"
        )
    if session.budget not in RAY_FILLS:
        b = metrics.get(session.budget)
        if b is None or isinstance(b, bool) or not _is_number(b):
            got = "no" if b is None else f"{b!r} as its"
            raise MetricError(f"the job counts its budget in {session.budget!r} (budget= in @tunable), but "
                              f"this report has {got} {session.budget!r}: report it as a number, e.g. "
                              f"report({_argument(session.metric, '...')}, {_argument(session.budget, 'epoch')}), "
                              f"or leave budget= out to count reports")
    value = metrics[session.metric]
    if not _is_number(value):
        raise MetricError(f"metric {session.metric!r} must be a number, got {value!r}")
    session.reports += 1
    if not session.in_ray:
        session.history.append(dict(metrics))
        return
    try:
        _ray_report(metrics, checkpoint)
    except SystemExit:  # Ray ends a trial's training thread so (a stop, a pause) from inside its report
        session.ended_by_ray = True
        raise


def _lift(metrics: dict, name: str) -> None:
    """A field named by its path through nested dicts (``"val/loss"`` for ``report(val={"loss": ...})``,
    as Ray Tune names nested results) is also reported flat under that name, where the job reads it."""
    if name in metrics or "/" not in name:
        return
    node: Any = metrics
    for part in name.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return
        node = node[part]
    metrics[name] = node


def _argument(name: str, value: str) -> str:
    """How a report passes field ``name``: ``loss=...``, ``val={"loss": ...}`` or ``**{"val loss": ...}``."""
    if name.isidentifier():
        return f"{name}={value}"
    head, *path = name.split("/")
    if head.isidentifier() and path and all(path):
        for key in reversed(path):
            value = "{" + json.dumps(key) + ": " + value + "}"
        return f"{head}={value}"
    return "**{" + json.dumps(name) + ": " + value + "}"


def exit_error(code: Any) -> RuntimeError:
    """The error a trial fails with when the user's function calls ``sys.exit(code)``: a SystemExit would
    end the tuning loop (in-process) or fail the trial with no message at all (Ray)."""
    hint = " (argparse exits so on arguments it does not know)" if code == 2 else ""
    return RuntimeError(f"the function called sys.exit({code!r}){hint}")


def _is_number(v: Any) -> bool:
    """A number, a numpy or torch scalar; not a string (float("0.5") would pass a formatted one on)."""
    if isinstance(v, (str, bytes)):
        return False
    try:
        float(_scalar(v))  # through item(): no warning of a tensor that needs grad
        return True
    except (TypeError, ValueError, RuntimeError):
        return False


def _ray_report(metrics: dict, checkpoint: Any) -> None:
    from ray import tune

    clean = {k: _scalar(v) for k, v in metrics.items()}
    if checkpoint is None:
        tune.report(clean)
        return
    if isinstance(checkpoint, (str, os.PathLike)):
        tune.report(clean, checkpoint=tune.Checkpoint.from_directory(os.fspath(checkpoint)))
        return
    tmp = tempfile.mkdtemp(prefix="tunestack-ckpt-")
    try:
        _save_object(checkpoint, tmp)
        tune.report(clean, checkpoint=tune.Checkpoint.from_directory(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_checkpoint(path: str | os.PathLike | None = None) -> Any:
    """The checkpoint this trial last reported (after a pause or a restore), or ``None``.

    ``path``: a checkpoint directory of a finished job (``result.best_checkpoint``): what the trial
    reported there, e.g. ``ts.load_checkpoint(result.best_checkpoint)["model"]``.
    """
    if path is not None:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no checkpoint directory at {path!r}")
        return _load_from(path)
    session = current_session()
    if session is None or not session.in_ray:
        return None
    from ray import tune

    ckpt = tune.get_checkpoint()
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:
        return _load_from(d)


def _load_from(d: str) -> Any:
    meta_path = os.path.join(d, CKPT_META)
    if not os.path.exists(meta_path):
        return d  # a directory the user wrote; hand back its path while it is still there
    with open(meta_path) as f:
        meta = json.load(f)
    return _LOADERS[meta["format"]](os.path.join(d, meta["file"]))


def _scalar(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        try:
            return v.item()
        except (ValueError, RuntimeError):
            return v
    if isinstance(v, float) and math.isnan(v):
        return float("nan")
    return v


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _save_object(obj: Any, directory: str) -> None:
    torch = _torch()
    fmt, name = ("torch", "checkpoint.pt") if torch is not None else ("pickle", "checkpoint.pkl")
    try:
        if torch is not None:
            torch.save(obj, os.path.join(directory, name))
        else:
            with open(os.path.join(directory, name), "wb") as f:
                pickle.dump(obj, f)
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the pickler raises, said of the checkpoint
        where = ""
        if isinstance(obj, dict):
            bad = [k for k, v in obj.items() if not _picklable(v)]
            where = f" (its entry {bad[0]!r})" if bad else ""
        raise TypeError(f"ts.report: the checkpoint cannot be saved{where}: {type(e).__name__}: {e}; a "
                        "checkpoint dict holds what pickle / torch.save can store (state_dicts, tensors, "
                        "arrays, numbers), or pass the path of a directory you wrote") from None
    with open(os.path.join(directory, CKPT_META), "w") as f:
        json.dump({"format": fmt, "file": name}, f)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
        return True
    except Exception:  # noqa: BLE001
        return False


def _load_torch(path: str) -> Any:
    torch = _torch()
    if torch is None:
        raise RuntimeError("this checkpoint was written with torch, which is not installed here")
    return torch.load(path, map_location="cpu", weights_only=False)


def _load_pickle(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


_LOADERS: dict[str, Callable[[str], Any]] = {"torch": _load_torch, "pickle": _load_pickle}
