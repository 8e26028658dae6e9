"""A job's spec and its directory: what a job saves there (its spec, space, journal) and what a resume
reads back, the checks that a resume goes on with the same job, and where a new job's directory goes."""
from __future__ import annotations

import json
import logging
import math
import numbers
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from .._registry import is_whole
from ..space import SearchSpace
from . import cluster
from .session import check_names

__all__ = ["JobSpec", "TuneError", "JOB_FILE", "JOURNAL_FILE", "TIME_UP_FILE", "SPACE_FILE", "job_dir_of",
           "load_spec", "make_job_dir", "move_earlier_job_aside", "check_same_space", "ray_state_whole",
           "state_files"]

JOB_FILE = "tunestack_job.json"
JOURNAL_FILE = "tunestack_journal.jsonl"
TIME_UP_FILE = "tunestack_time_budget_reached"  # written when time_budget_s ended the job
SPACE_FILE = "tunestack_space.json"  # the space the job was started with, checked on resume

log = logging.getLogger("tunestack")


class TuneError(RuntimeError):
    """A tuning job could not be set up or resumed; the message says why."""


@dataclass


class JobSpec:
    """Everything that defines a tuning job, JSON-serializable (saved in the job directory)."""

    metric: str
    mode: str = "min"
    searcher: str | None = None  # None: the scheduler preset's searcher (bohb: tpe), else random
    scheduler: str | None = None
    num_samples: int = 20
    max_concurrent: int | None = None
    resources: dict = field(default_factory=lambda: {"cpu": 1})
    name: str | None = None
    storage_path: str | None = None
    seed: int | None = None
    min_budget: float = 1.0
    max_budget: float | None = None
    eta: float = 3.0
    budget_attr: str = "training_iteration"
    searcher_kwargs: dict = field(default_factory=dict)
    scheduler_kwargs: dict = field(default_factory=dict)
    tracking: bool = True
    tracking_uri: str | None = None
    reuse_actors: bool = True
    time_budget_s: float | None = None
    job_id: str = ""

    def check(self) -> None:
        if self.mode not in ("min", "max"):
            raise TuneError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if not isinstance(self.metric, str) or not self.metric:
            raise TuneError("metric must be the name of a metric the function reports, e.g. 'val_loss'")
        try:
            check_names(self.metric, self.budget_attr)
        except ValueError as e:
            raise TuneError(str(e)) from None
        for what, value in (("searcher", self.searcher), ("scheduler", self.scheduler)):
            if value is not None and not isinstance(value, str):  # an object ran, but its job never resumed
                raise TuneError(f"{what} must be a name (e.g. 'tpe', 'asha'), got {type(value).__name__}: "
                                f"options go in {what}_kwargs (tunestack.minimize and simulate take objects)")
        for what, value in (("min_budget", self.min_budget), ("max_budget", self.max_budget), ("eta", self.eta)):
            if (value is not None or what != "max_budget") and (
                    isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise TuneError(f"{what} must be a number, got {value!r}")
        if not self.eta > 1:
            raise TuneError(f"eta must be > 1 (the schedulers keep 1/eta of a rung), got {self.eta!r}")
        if not (0 < self.min_budget < math.inf):
            raise TuneError(f"min_budget must be > 0, got {self.min_budget!r}")
        if self.max_budget is not None and not (self.min_budget <= self.max_budget < math.inf):
            raise TuneError(f"max_budget must be >= min_budget ({self.min_budget!r}) and finite, got "
                            f"{self.max_budget!r}")
        if not is_whole(self.num_samples):
            raise TuneError(f"num_samples must be a whole number, got {self.num_samples!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise TuneError(f"time_budget_s must be > 0 seconds (or None: no limit), got {self.time_budget_s!r}")
        if int(self.num_samples) < 1 and int(self.num_samples) != -1:
            raise TuneError(f"num_samples must be >= 1, or -1 for trials until time_budget_s or a Ctrl-C, "
                            f"got {self.num_samples}")
        if self.max_concurrent is not None and int(self.max_concurrent) < 1:
            raise TuneError(f"max_concurrent must be >= 1, got {self.max_concurrent}")
        bad = set(self.resources) - {"cpu", "gpu", "memory", "custom"}
        if bad:
            raise TuneError(f"unknown resource keys {sorted(bad)}; use 'cpu', 'gpu', 'memory' or 'custom'")
        try:
            cluster.trial_resources(self.resources)
        except (TypeError, ValueError) as e:
            raise TuneError(str(e)) from None


def job_dir_of(spec: JobSpec, fn: Callable) -> str:
    storage = os.path.abspath(os.path.expanduser(spec.storage_path or "~/ray_results"))
    spec.storage_path = storage
    if not spec.name:
        spec.name = f"{getattr(fn, '__name__', 'job')}-{time.strftime('%Y%m%d-%H%M%S')}"
    return os.path.join(storage, spec.name)


def ray_state_whole(job_dir: str) -> bool:
    """Whether the job directory holds, whole, the newest of each file Ray restores from: its experiment
    state (JSON; the trials), its search generator's (cloudpickle) and our searcher adapter's (JSON).
    Ray copies them in a background thread, so a kill can leave one missing or cut short (an empty
    experiment state made a resumed Ray start over, with none of its trials and a blank searcher)."""
    from ray import cloudpickle

    newest = {}
    for prefix, ext in (("experiment_state-", ".json"), ("search_gen_state-", ".json"), ("searcher-state-", ".pkl")):
        found = state_files(job_dir, prefix, ext)
        if not found:
            return False
        newest[prefix] = found[-1]  # Ray takes the newest
    try:
        with open(newest["experiment_state-"]) as f:
            if "trial_data" not in json.load(f):
                return False
        with open(newest["search_gen_state-"], "rb") as f:
            cloudpickle.load(f)
        with open(newest["searcher-state-"]) as f:
            json.load(f)
    except Exception:  # noqa: BLE001 -- whatever reading a truncated file raises
        return False
    return True


def state_files(job_dir: str, prefix: str, ext: str) -> list[str]:
    """Paths of Ray's state files ``<prefix><session time><ext>`` in the job directory, oldest first."""
    return [os.path.join(job_dir, n) for n in sorted(os.listdir(job_dir)) if n.startswith(prefix) and n.endswith(ext)]


def load_spec(job_dir: str, given: JobSpec | None) -> JobSpec:
    path = os.path.join(job_dir, JOB_FILE)
    if not os.path.exists(path):
        hint = ""
        default = os.path.join(os.path.expanduser("~/ray_results"), os.path.basename(job_dir))
        if not os.path.exists(job_dir) and os.path.exists(os.path.join(default, JOB_FILE)):
            hint = f"; a job of that name is saved at {default!r} (storage_path's default): resume that path"
        raise TuneError(f"{job_dir!r} is not a tunestack job directory (no {JOB_FILE}){hint}")
    with open(path) as f:
        saved = json.load(f)
    spec = JobSpec(**saved)
    if given is not None:
        spec.tracking_uri = given.tracking_uri or spec.tracking_uri
    return spec


def make_job_dir(job_dir: str) -> None:
    """Create the job's directory before Ray or MLflow start: a storage_path that cannot hold it failed
    later with a bare OSError, after Ray had started and MLflow had a FAILED run of a job that never ran."""
    try:
        os.makedirs(job_dir, exist_ok=True)
        if not os.access(job_dir, os.W_OK):
            raise PermissionError(f"{job_dir!r} is not writable")
    except OSError as e:
        raise TuneError(f"the job's directory {job_dir!r} cannot be created or written ({e}): pass a "
                        f"storage_path= where this user can write (default ~/ray_results)") from None


def move_earlier_job_aside(job_dir: str) -> None:
    """A new job under the name of an earlier one (a script run again) would share its directory: a
    resume would replay the earlier job's trials with its own.  The earlier job moves to
    ``<name>.<its start time>`` beside it, whole (it can still be resumed from there)."""
    if not os.path.isdir(job_dir) or not any(
            n == JOB_FILE or n.startswith("experiment_state-") for n in os.listdir(job_dir)):
        return
    started = min(os.path.getmtime(os.path.join(job_dir, n)) for n in os.listdir(job_dir))
    base = f"{job_dir}.{time.strftime('%Y%m%d-%H%M%S', time.localtime(started))}"
    moved, i = base, 1
    while os.path.exists(moved):
        i += 1
        moved = f"{base}-{i}"
    os.rename(job_dir, moved)
    log.warning("tunestack: %s held an earlier job of the same name; it was moved to %s (resume it from "
                "there), and this job starts afresh", job_dir, moved)


def space_shape(described: dict) -> tuple[dict, list]:
    """What a job's saved trials depend on: each parameter's kind and range or choices, the conditions."""
    keep = ("kind", "lower", "upper", "log", "q", "choices")
    params = {p["name"]: {k: p[k] for k in keep if k in p} for p in described.get("params", [])}
    return params, list(described.get("conditions", []))


def check_same_space(job_dir: str, space: SearchSpace) -> None:
    """A resume with another space would decode the saved trials into wrong configurations (or fail
    deep in the searcher): refuse it, naming the differences.  Jobs saved before this check: no file."""
    path = os.path.join(job_dir, SPACE_FILE)
    if not os.path.exists(path):
        return
    with open(path) as f:
        (saved, saved_cond), (now, now_cond) = space_shape(json.load(f)), space_shape(space.comparable())
    if saved == now and saved_cond == now_cond:
        return
    diff = []
    if set(saved) - set(now):
        diff.append(f"parameters only in the job: {sorted(set(saved) - set(now))}")
    if set(now) - set(saved):
        diff.append(f"parameters only in the space given now: {sorted(set(now) - set(saved))}")
    diff += [f"{n}: {saved[n]} in the job, {now[n]} now" for n in saved if n in now and saved[n] != now[n]]
    if saved_cond != now_cond:
        diff.append(f"conditions: {saved_cond} in the job, {now_cond} now")
    raise TuneError(f"the job at {job_dir!r} was started with another search space ({'; '.join(diff)}): "
                    f"resume it with the function and space it was started with")
