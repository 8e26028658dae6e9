"""The tuning runner: one call from ``fn.tune(...)`` to a finished Ray Tune job tracked in MLflow."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import threading
import time
import uuid
from typing import Any, Callable, Iterator

from ..schedulers import Scheduler
from ..schedulers import create as create_scheduler
from ..searchers import Searcher
from ..searchers import create as create_searcher
from ..space import SearchSpace
from . import cluster
from .coordinator import Coordinator
from .jobdir import (JOB_FILE, JOURNAL_FILE, SPACE_FILE, TIME_UP_FILE, JobSpec, TuneError,
                     check_same_space, job_dir_of, load_spec, make_job_dir, move_earlier_job_aside,
                     ray_state_whole, state_files)
from .results import TuneResult, collect, finish_tracking, print_summary
from .trainable import make_trainable, ship

__all__ = ["TuneResult", "run_job", "resume", "JobSpec", "TuneError"]

log = logging.getLogger("tunestack")


# ---- building the pieces --------------------------------------------------------------------------
def _resolve_algorithms(spec: JobSpec, space: SearchSpace) -> tuple[Searcher, Scheduler | None]:
    sched_name, searcher_name, searcher_kwargs = spec.scheduler, spec.searcher, dict(spec.searcher_kwargs)
    try:
        from ..schedulers.presets import resolve as resolve_preset
    except ImportError:  # presets not available: plain names only
        resolve_preset = None
    if sched_name not in (None, "fifo") and resolve_preset is not None:
        sched_name, preset_searcher, preset_kwargs = resolve_preset(sched_name, spec.searcher)
        if preset_searcher is not None:
            searcher_name = preset_searcher
            searcher_kwargs = {**preset_kwargs, **searcher_kwargs}
    searcher = create_searcher(searcher_name or "random", space, mode=spec.mode, seed=spec.seed,
                               **searcher_kwargs)
    if sched_name in (None, "fifo") and spec.max_budget is None:
        return searcher, None  # Ray's results as they come; a trial ends when its function returns
    if spec.max_budget is None:
        raise TuneError(f"scheduler {spec.scheduler!r} needs max_budget= (the budget at which a trial is "
                        f"complete, e.g. the number of epochs, counted in reports of {spec.budget_attr!r})")
    # fifo with max_budget: its core completes a trial at max_budget, as the other schedulers do
    scheduler = create_scheduler(sched_name or "fifo", min_budget=spec.min_budget, max_budget=spec.max_budget,
                                 eta=spec.eta, mode=spec.mode, seed=spec.seed, **spec.scheduler_kwargs)
    return searcher, scheduler


# A function pickled larger than this (it captures a data set, say) travels through Ray's object store,
# once per worker process, instead of inside the trial actor's definition (Ray refuses a definition over
# 95 MiB and warns over 25 MiB).
# ---- the job --------------------------------------------------------------------------------------
def run_job(fn: Callable[[dict], Any], space: Any, spec: JobSpec, address: str | None = None,
            resume: bool = False, verbose: int = 1) -> TuneResult:
    """Run (or resume) a tuning job of ``fn`` over ``space`` as described by ``spec``."""
    from ray import tune

    from .ray_adapters import KeepCheckpointAtMaxBudget, RayScheduler, RaySearcher, TimeBudget
    from .tracking import TrackingCallback, TrackingClient, live, register_live

    spec.check()
    cluster.refuse_ray_client(address)
    space = SearchSpace.create(space)
    job_dir = job_dir_of(spec, fn)
    restoring = resume and tune.Tuner.can_restore(job_dir)
    if resume and not restoring and not os.path.exists(os.path.join(job_dir, JOB_FILE)):
        raise TuneError(f"nothing to resume at {job_dir!r}: no Ray Tune experiment was saved there")
    # Ray restores only from a whole set of its files; a driver killed while Ray copied them (in a
    # background thread) can leave one missing or cut short, and Ray would then restore its trials but
    # neither our state nor any new trial, or start over with a blank searcher.  The job goes on as a
    # new Ray run instead, from our own state and journal (restart).
    restart = resume and not (restoring and ray_state_whole(job_dir))
    if resume:
        spec = load_spec(job_dir, spec)
        check_same_space(job_dir, space)
    searcher, scheduler = _resolve_algorithms(spec, space)  # bad options refused before the earlier job moves
    if not resume:
        move_earlier_job_aside(job_dir)
        make_job_dir(job_dir)
        spec.job_id = spec.job_id or uuid.uuid4().hex

    tracker = None
    if spec.tracking:  # start the MLflow writer first: its start-up overlaps Ray's
        tracker = TrackingClient(experiment=spec.name, job_dir=job_dir, tracking_uri=spec.tracking_uri,
                                 params=_job_params(spec, space, searcher, scheduler), run_name=spec.name,
                                 tags={"tunestack.searcher": searcher.name,
                                       "tunestack.scheduler": getattr(scheduler, "name", "fifo")},
                                 resume=resume)
    # a job that cannot start, or that Ray ends with an error, leaves no RUNNING run in MLflow (a resumed
    # one stays KILLED: resumable)
    with _tracking_closed_on_error(tracker, "KILLED" if resume else "FAILED"):
        started_here = cluster.ensure_ray(address)
        resources = cluster.trial_resources(spec.resources)  # checked by spec.check()
        too_big = cluster.unplaceable(resources)
        if too_big and started_here:  # a local Ray has what it has: the trials would wait forever
            raise TuneError(f"{too_big}: lower resources=, or run on a cluster with such a node")
        if too_big:
            log.warning("tunestack: %s; the trials wait until such a node joins (an autoscaler may add it)",
                        too_big)
        max_concurrent = spec.max_concurrent or cluster.default_concurrency(resources)
        # when resources bound the concurrency, trials created ahead wait for a free slot and start at
        # once; a max_concurrent set by the user below that bound must not be exceeded, so nothing is
        # created ahead
        coord = Coordinator(searcher, scheduler, spec.metric, spec.mode, spec.num_samples, max_concurrent,
                            spec.budget_attr, lookahead=0 if spec.max_concurrent else None)
        coord.journal_path = os.path.join(job_dir, JOURNAL_FILE)
        register_live(spec.job_id, tracking=tracker, coordinator=coord, time_budget_reached=False)
        replaced = _restart_from_own_state(coord, job_dir) if restart else []
        if not resume:
            with open(os.path.join(job_dir, JOB_FILE), "w") as f:
                json.dump(spec.__dict__, f, indent=1, default=str)
            with open(os.path.join(job_dir, SPACE_FILE), "w") as f:
                json.dump(space.comparable(), f, indent=1)

        trainable = tune.with_resources(make_trainable(ship(fn), spec.metric, spec.budget_attr), resources)
        if resume and not restart:
            with cluster.quiet_ray():  # Ray warns of each trial with no result yet (FileNotFoundError)
                tuner = tune.Tuner.restore(job_dir, trainable=trainable, resume_unfinished=True,
                                           resume_errored=False)
        else:
            search_alg = RaySearcher(coord, spec.job_id)
            # Ray is told no count (-1: unbounded); the coordinator ends the search (FINISHED) once it
            # has num_samples trials of its own.  Ray's own count would include a trial that a resume
            # stops because our state never heard of it (see Coordinator.reconcile): the job would lose one.
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=RayScheduler(coord),
                                            num_samples=-1, reuse_actors=spec.reuse_actors),
                run_config=tune.RunConfig(
                    # where the job is now (a resumed job's directory may have been moved or renamed)
                    name=os.path.basename(job_dir), storage_path=os.path.dirname(job_dir), verbose=0,
                    stop=None if spec.time_budget_s is None else TimeBudget(spec.time_budget_s, spec.job_id),
                    callbacks=[KeepCheckpointAtMaxBudget(spec.job_id), TrackingCallback(spec.job_id, spec.metric)],
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                    failure_config=tune.FailureConfig(max_failures=0, fail_fast=False)),
            )
        interrupted = False
        start = time.time()
        with cluster.quiet_ray(), cluster.pending_trials(max_concurrent + coord.lookahead), \
                _sigterm_as_ctrl_c() as terminated:
            try:
                grid = tuner.fit()
            except KeyboardInterrupt:
                interrupted, grid = True, None
    coord = _live_coordinator(spec.job_id, coord)
    if resume and tracker is not None:
        _retrack_ended(tracker, coord, replaced)
    # Ray's own SIGINT handler ends the run without raising: trials left unfinished mean it was cut
    # short, by the user or by time_budget_s (the whole job's running time, this run's and earlier ones')
    unfinished = [t for t in coord.trials.values() if t.status != "done"]
    time_up = os.path.join(job_dir, TIME_UP_FILE)
    if live(spec.job_id, "time_budget_reached") and not os.path.exists(time_up):
        # a resume restores Ray's search as finished and never asks the time budget again: remember it
        with open(time_up, "w") as f:
            f.write(f"time_budget_s={spec.time_budget_s:g}\n")
    if unfinished and os.path.exists(time_up):
        for t in unfinished:
            first = "" if t.history or t.last_value is not None else " before its first result"
            t.outcome = t.outcome or f"stopped: time_budget_s={spec.time_budget_s:g} reached{first}"
    else:
        interrupted = interrupted or bool(unfinished)
    result = collect(coord, grid, spec, space, job_dir, interrupted)
    finish_tracking(tracker, result, spec, space, job_dir, coord)
    if verbose:
        print_summary(result, time.time() - start)
    if terminated:  # the job is saved and closed: now the process ends, as the SIGTERM asked
        os.kill(os.getpid(), signal.SIGTERM)
    return result


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[list]:
    """A SIGTERM to the driver (``kill``, a batch scheduler's preemption, a pod's shutdown) ends the job
    as a Ctrl-C does: Ray stops the trials and saves the experiment, MLflow marks the job KILLED, the
    summary says how to resume; the caller then sends the SIGTERM again, to whatever handles it after
    the job (by default, the end of the process).  Without this the driver died at once, its parent
    run marked FAILED.  Yields a list that holds the signal once one came."""
    came: list = []
    if threading.current_thread() is not threading.main_thread():
        yield came
        return

    def handler(signum: int, frame: Any) -> None:
        if not came:
            log.warning("tunestack: SIGTERM received: the job stops as after a Ctrl-C, and stays resumable")
        came.append(signum)
        os.kill(os.getpid(), signal.SIGINT)  # Ray's own SIGINT handler stops the run gracefully

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _tracking_closed_on_error(tracker: Any, status: str) -> Iterator[None]:
    from .tracking import error_line

    try:
        yield
    except BaseException as e:
        if tracker is not None:
            tracker.close(status=status,
                          reason=f"the job ended on an error: {type(e).__name__}: {error_line(str(e))}")
        raise


def _retrack_ended(tracker: Any, coord: Coordinator, replaced: list | None = None) -> None:
    """After a resume: trials that ended just before the driver was killed may not have reached MLflow
    (or, ended after the last snapshot, have no run there yet): send their params and end again (the
    writer keeps a run's params as first logged).  ``replaced``: (Ray id, params, budget) of the killed
    run's unfinished trials that a restart left behind; their runs end as replaced, as do runs of trials
    that the job no longer knows."""
    from .tracking import REPLACED, flat_params

    for rid, t in coord.trials.items():
        if t.status != "done":
            continue
        rec = coord.searcher.trials.get(t.sid)
        if rec is not None:
            tracker.send("trial_start", trial=rid, name=rid,
                         params=flat_params(coord.searcher.space.decode(rec.vector)), tags={})
        tracker.end_trial(rid, t.outcome, t.budget, predicted=t.predicted)
    for rid, params, budget in replaced or []:
        tracker.send("trial_start", trial=rid, name=rid, params=params, tags={})
        tracker.end_trial(rid, REPLACED, budget)
    # runs the killed driver started for trials that neither Ray's saved state nor ours holds (started
    # after the last snapshot, or dropped by Coordinator.reconcile): their suggestions were made again
    tracker.end_other_trials(list(coord.trials), REPLACED)


def _restart_from_own_state(coord: Coordinator, job_dir: str) -> list[tuple[str, dict, float | None]]:
    """Load the newest state our searcher adapter saved (if any) and the journal into ``coord``, for a
    new Ray run of a job whose Ray state cannot be restored.  Trials that had ended keep their results
    (the journal has every one); trials that had not are handed out again from scratch.  Returns
    (Ray id, params, budget) of the killed run's unfinished trials, to close their MLflow runs."""
    from .tracking import flat_params

    for path in reversed(state_files(job_dir, "searcher-state-", ".pkl")):  # newest first
        try:
            with open(path) as f:
                coord.load_state_dict(json.load(f))
            break
        except (OSError, ValueError):  # cut short by the kill: an older one, or none
            continue
    coord.replay_journal()
    left = {}
    for rid, t in coord.trials.items():
        rec = coord.searcher.trials.get(t.sid)
        if t.status != "done" and rec is not None:
            left[rid] = (flat_params(coord.searcher.space.decode(rec.vector)), t.budget)
    coord.reconcile({})  # the new Ray run holds none of the old trials: ours are handed out again
    coord.needs_reconcile = False
    # trials the killed run started after the state we have was saved: only their directories tell
    for name in sorted(os.listdir(job_dir)):
        m = re.search(r"_([0-9a-f]{8})_\d+_", name)
        params_file = os.path.join(job_dir, name, "params.json")
        if m and m.group(1) not in coord.trials and m.group(1) not in left and os.path.exists(params_file):
            try:
                with open(params_file) as f:
                    left[m.group(1)] = (flat_params(json.load(f)), None)
            except (OSError, ValueError):
                continue
    log.warning("tunestack: Ray's saved state of this job is incomplete (the driver was killed while Ray "
                "was writing it); the job goes on as a new Ray run from tunestack's own state and journal: "
                "%d ended trial(s) kept, %d unfinished trial(s) replaced by new ones",
                len(coord.trials), len(left))
    return [(rid, params, budget) for rid, (params, budget) in left.items()]


def resume(path: str, fn: Callable[[dict], Any], space: Any = None, address: str | None = None,
           verbose: int = 1) -> TuneResult:
    """Resume the job saved at ``path`` (a job directory) after its driver was killed."""
    path = os.path.abspath(os.path.expanduser(path))
    spec = load_spec(path, None)
    spec.storage_path, spec.name = os.path.dirname(path), os.path.basename(path)
    if space is None:
        space = getattr(fn, "space", None)
        if space is None:
            raise TuneError("resume() needs the search space (pass space= or a @tunable function)")
    # the saved job's metric, mode and budget are the ones it goes on with: another function's would fail
    # each trial (its reports lack the metric) or rank its values the wrong way round
    differ = [f"{k}={getattr(fn, attr)!r} (the job's: {getattr(spec, key)!r})"
              for k, attr, key in (("metric", "metric", "metric"), ("mode", "mode", "mode"),
                                   ("budget", "budget", "budget_attr"))
              if isinstance(getattr(fn, attr, None), str) and getattr(fn, attr) != getattr(spec, key)]
    if differ:
        raise TuneError(f"the job at {path!r} was run by another function: this one has {', '.join(differ)}; "
                        "resume it with the function it ran")
    fn = getattr(fn, "fn", fn)
    return run_job(fn, space, spec, address=address, resume=True, verbose=verbose)


def _live_coordinator(job_id: str, fallback: Coordinator) -> Coordinator:
    from .tracking import live

    return live(job_id, "coordinator") or fallback


def _job_params(spec: JobSpec, space: SearchSpace, searcher: Searcher, scheduler: Scheduler | None) -> dict:
    p = {k: v for k, v in spec.__dict__.items() if k not in ("searcher_kwargs", "scheduler_kwargs", "job_id")}
    p.update(searcher=searcher.name, scheduler=getattr(scheduler, "name", "fifo"), preset=spec.scheduler)
    p["space"] = json.dumps(space.describe(), default=str)[:6000]
    p.update({f"searcher.{k}": v for k, v in spec.searcher_kwargs.items()})
    p.update({f"scheduler.{k}": v for k, v in spec.scheduler_kwargs.items()})
    return {k: v for k, v in p.items() if v is not None}
