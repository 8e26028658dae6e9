"""Ray Tune adapters: a ``Searcher`` and a ``TrialScheduler`` over one :class:`Coordinator`.

Ray calls these; they translate to the pure cores.  ``save``/``restore`` write the coordinator's JSON
state (searcher core, scheduler core, trial map), which is what ``Tuner.restore`` brings back.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.result import SHOULD_CHECKPOINT
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher
from ray.tune.stopper import TimeoutStopper

from .coordinator import FINISHED, Coordinator
from .tracking import live, register_live

__all__ = ["RaySearcher", "RayScheduler", "KeepCheckpointAtMaxBudget"]

log = logging.getLogger("tunestack")
SNAPSHOT_EVERY_S = 5.0  # the shortest interval between experiment snapshots forced after trial ends


class RaySearcher(Searcher):
    """Ray's Searcher interface over a tunestack coordinator.

    The metric is kept to ourselves (``metric`` is ``None`` for Ray), so that a missing metric becomes a
    clear per-trial error raised by ``ts.report`` instead of Ray aborting the whole experiment.
    """

    def __init__(self, coordinator: Coordinator, job_id: str):
        super().__init__(metric=None, mode=None)
        self.coordinator, self.job_id = coordinator, job_id

    def __setstate__(self, state: dict) -> None:
        # Tuner.restore unpickles this adapter: the live driver objects find its coordinator by job id
        self.__dict__.update(state)
        driver = live(self.job_id, "coordinator")  # the runner's, with this run's job directory
        if driver is not None:  # the pickled path is where the job was first run (it may have moved)
            self.coordinator.journal_path = driver.journal_path
        register_live(self.job_id, coordinator=self.coordinator)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        out = self.coordinator.suggest(trial_id)
        return Searcher.FINISHED if out == FINISHED else out

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Results reach the coordinator through the scheduler adapter (or at completion)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.coordinator.on_complete(trial_id, result, error)

    def save(self, checkpoint_path: str) -> None:
        tmp = checkpoint_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.coordinator.state_dict(), f, allow_nan=False)
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path) as f:
            self.coordinator.load_state_dict(json.load(f))
        applied = self.coordinator.replay_journal()
        if applied:
            log.info("tunestack: %d trial(s) ended after the last snapshot; taken from the journal", applied)


def _snapshot(tune_controller: Any) -> None:
    """Save the experiment now (Ray does so only every ~10 s), so that a trial that just ended is in
    the snapshot that ``Tuner.restore`` starts from.  Ray hands schedulers a wrapper of its controller;
    if a Ray version hides the controller, the journal (see Coordinator) still covers these trials."""
    controller = getattr(tune_controller, "_tune_controller", None)
    save = getattr(controller, "checkpoint", None)
    if save is not None:
        save(force=True)


def _logged_checkpoints(trial_dir: str) -> dict[str, dict]:
    """Checkpoint directory name -> the result Ray logged with it, for those still on disk, oldest first."""
    logged: dict[str, dict] = {}
    try:
        with open(os.path.join(trial_dir, "result.json")) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line cut short by the kill
                if r.get("checkpoint_dir_name"):
                    logged[r["checkpoint_dir_name"]] = r
    except OSError:
        pass
    return {n: logged[n] for n in sorted(logged) if os.path.isdir(os.path.join(trial_dir, n))}


def _restart_from(trial: Trial, trial_dir: str, usable: dict[str, dict]) -> str | None:
    """Make the trial resume from the newest of ``usable`` (with the iteration count Ray needs, which the
    logged result holds), or from scratch if there is none; returns what was done, for the log."""
    res = trial.latest_checkpoint_result
    if usable:
        name, ckpt = list(usable)[-1], res.checkpoint
        res.checkpoint = type(ckpt)(path=os.path.join(trial_dir, name), filesystem=ckpt.filesystem)
        res.metrics = usable[name]
        return f"resumes from {name}"
    manager = trial.run_metadata.checkpoint_manager
    if not hasattr(manager, "_latest_checkpoint_result"):
        return None  # a Ray version laid out differently: Ray reports the trial as failed
    manager._latest_checkpoint_result = None
    return "starts again from scratch"


def _local_checkpoint(trial: Trial) -> Any:
    """The checkpoint a restored trial would resume from, if it is on a local or shared file system."""
    res = trial.latest_checkpoint_result
    ckpt = getattr(res, "checkpoint", None)
    fs = getattr(ckpt, "filesystem", None)
    return None if ckpt is None or getattr(fs, "type_name", "local") != "local" else ckpt


def _repair_checkpoint(trial: Trial) -> str | None:
    """Make a restored trial's checkpoint one that exists; returns what was done, for the log.

    Ray keeps ``num_to_keep`` checkpoints per trial and deletes older ones as new ones arrive, but it
    saves the experiment only every few seconds: after a driver kill, the snapshot may name a checkpoint
    that a newer one has replaced, and Ray would fail the trial ("does not exist on storage anymore").
    The trial then resumes from its newest checkpoint whose result Ray logged (``result.json`` names it,
    with the iteration count Ray needs), or, if there is none, starts again from scratch.
    """
    ckpt = _local_checkpoint(trial)
    if ckpt is None or os.path.exists(ckpt.path):
        return None
    trial_dir = os.path.dirname(ckpt.path)
    return _restart_from(trial, trial_dir, _logged_checkpoints(trial_dir))


def _rewind_checkpoint(trial: Trial, budget_attr: str, known: float) -> str | None:
    """Make a restored trial resume from a checkpoint at a budget of at most ``known`` (the last budget
    whose report the job's saved state holds); returns what was done, or ``None`` if nothing had to be.

    Ray writes each snapshot to a staging directory and copies it to the job directory in a background
    thread, and it writes the next one while a copy runs: the job directory can hold Ray's trial list
    from one snapshot and our state from an older one.  A trial resumed from a checkpoint past ``known``
    would skip reports (a rung's among them) that the scheduler never saw, and its next report would be
    decided past its rung.  Ray keeps one checkpoint per trial, so such a trial usually starts again
    from scratch: the scheduler then sees every report, the ones it had decided passing through.
    """
    ckpt = _local_checkpoint(trial)
    at = (trial.latest_checkpoint_result.metrics or {}).get(budget_attr) if ckpt is not None else None
    try:
        if at is None or float(at) <= known:
            return None
    except (TypeError, ValueError):
        return None
    trial_dir = os.path.dirname(ckpt.path)
    usable = {n: r for n, r in _logged_checkpoints(trial_dir).items()
              if isinstance(r.get(budget_attr), (int, float)) and r[budget_attr] <= known}
    done = _restart_from(trial, trial_dir, usable)
    return done and f"its checkpoint is at {budget_attr} {float(at):g}, past what the job's saved state " \
                    f"knows ({known:g}); it {done}"


class RayScheduler(TrialScheduler):
    """Ray's TrialScheduler interface over a tunestack coordinator with a scheduler core."""

    _DECISIONS = {"continue": TrialScheduler.CONTINUE, "pause": TrialScheduler.PAUSE,
                  "stop": TrialScheduler.STOP}

    def __init__(self, coordinator: Coordinator):
        super().__init__()
        self.coordinator = coordinator
        self._checked: set[str] = set()  # trials whose checkpoint this driver has checked exists
        self._last_snapshot = -math.inf
        self._warned_no_checkpoint = False

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_checked"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._checked, self._last_snapshot = set(), -math.inf
        self._warned_no_checkpoint = self.__dict__.get("_warned_no_checkpoint", False)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Trials are registered with the core when the searcher adapter creates them."""

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        """Handled in the searcher adapter's on_trial_complete(error=True)."""

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        decision = self.coordinator.on_result(trial.trial_id, result)
        if decision == "pause" and not result.get("checkpoint_dir_name") and not self._warned_no_checkpoint:
            self._warned_no_checkpoint = True
            log.warning("tunestack: trial %s is paused by the %r scheduler, but its function reported no "
                        "checkpoint with this result: if it is promoted it starts again from the beginning "
                        "and retrains what it had trained. Pass checkpoint= to ts.report and read "
                        "ts.load_checkpoint() at the start (README, The decorator), or use a stopping "
                        "scheduler (scheduler_kwargs={'promotion': False} for asha).", trial.trial_id,
                        getattr(self.coordinator.scheduler, "name", "?"))
        return self._DECISIONS[decision]

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        """Handled in the searcher adapter's on_trial_complete."""

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Handled in the searcher adapter's on_trial_complete."""

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        now = time.monotonic()
        if self.coordinator.unsaved_ends and now - self._last_snapshot >= SNAPSHOT_EVERY_S:
            # at most every few seconds: a snapshot writes every trial's state, and one per ended trial
            # doubled the per-trial overhead of short trials; the journal covers ends in between
            _snapshot(tune_controller)
            self.coordinator.unsaved_ends = 0
            self._last_snapshot = now
        trials = {t.trial_id: t for t in tune_controller.get_trials()}
        for tid, t in trials.items():
            if t.status in ("PENDING", "PAUSED") and tid not in self._checked:
                self._checked.add(tid)
                done = _repair_checkpoint(t)
                if done:
                    log.warning("tunestack: trial %s: the checkpoint the last snapshot named is gone (the "
                                "driver was killed after a newer one replaced it); it %s", tid, done)
                known = self.coordinator.known_budget(tid)
                done = None if known is None else _rewind_checkpoint(t, self.coordinator.budget_attr, known)
                if done:
                    log.warning("tunestack: trial %s: %s", tid, done)
        status = {tid: t.status for tid, t in trials.items()}
        for tid in self.coordinator.held_paused(status):
            tune_controller._set_trial_status(trials[tid], Trial.PAUSED)  # see held_paused
            status[tid] = Trial.PAUSED
        run, stop = self.coordinator.choose(status)
        for tid in stop:
            tune_controller.stop_trial(trials[tid])
        return trials[run] if run is not None else None

    def debug_string(self) -> str:
        s = self.coordinator.scheduler
        return f"Using tunestack scheduler {getattr(s, 'name', 'fifo')!r}."


class TimeBudget(TimeoutStopper):
    """Ray's time budget (running time of the whole job, a resume counting only the time it runs), which
    also tells the driver that it was the budget, not a Ctrl-C, that ended the job."""

    def __init__(self, seconds: float, job_id: str):
        super().__init__(seconds)
        self.job_id = job_id

    def stop_all(self) -> bool:
        if super().stop_all():
            register_live(self.job_id, time_budget_reached=True)
            return True
        return False


class KeepCheckpointAtMaxBudget(Callback):
    """A report past max_budget stops a trial that trains on, but it is not the trial's: its value stays
    the one at max_budget.  Ray would still register the checkpoint sent with it, and keeps one per trial,
    so the best trial's checkpoint would be of a model trained past the value it reports.  Callbacks see
    the result before Ray reads its checkpoint flag (and may change it), so the flag is cleared here, and
    the checkpoint's directory, which the trial already wrote and nothing will use, is removed (on a
    local or shared file system; a cloud URI is left alone)."""

    def __init__(self, job_id: str):
        self.job_id = job_id

    def on_trial_result(self, iteration: int, trials: list, trial: Trial, result: dict, **info: Any) -> None:
        coord = live(self.job_id, "coordinator")
        if coord is not None and coord.past_its_end(trial.trial_id, result):
            result[SHOULD_CHECKPOINT] = False
            name = result.get("checkpoint_dir_name")
            unused = os.path.join(trial.path, name) if name and trial.path else None
            if unused and os.path.basename(unused).startswith("checkpoint_") and os.path.isdir(unused):
                shutil.rmtree(unused, ignore_errors=True)
