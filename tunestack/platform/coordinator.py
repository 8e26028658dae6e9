"""The bridge between Ray Tune's callbacks and tunestack's pure cores.

One ``Coordinator`` holds the searcher core, the scheduler core (or none), the map from Ray trial ids
to suggestion ids and what each trial is doing.  The Ray ``Searcher`` and ``TrialScheduler`` adapters
are thin shells over it, so both see one consistent state, and that state is saved as one JSON
document (``state_dict``) whenever Ray checkpoints the experiment.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..schedulers import Scheduler
from ..searchers import Searcher

__all__ = ["Coordinator", "TrialInfo", "FINISHED", "read_journal"]

FINISHED = "FINISHED"  # the value Ray's Searcher.suggest returns when no trial will follow
RUNNING, PAUSED, DONE = "running", "paused", "done"
STATE_FORMAT = 1


@dataclass
class TrialInfo:
    """What the coordinator knows of one Ray trial."""

    sid: str  # the searcher's suggestion id
    status: str = RUNNING
    last_value: float | None = None
    budget: float = 0.0
    outcome: str = ""  # completed | stopped early | failed | ...
    told: bool = False  # the searcher has a result of this trial
    history: list = field(default_factory=list)  # (budget, value) at each milestone
    predicted: float | None = None  # the scheduler's prediction of its final value, told when it stopped it

    def to_json(self) -> dict:
        return {"sid": self.sid, "status": self.status, "last_value": self.last_value,
                "budget": self.budget, "outcome": self.outcome, "told": self.told,
                "history": self.history, "predicted": self.predicted}


class Coordinator:
    """Drives a searcher core and an optional scheduler core from Ray's events."""

    def __init__(self, searcher: Searcher, scheduler: Scheduler | None, metric: str, mode: str,
                 num_samples: int, max_concurrent: int, budget_attr: str = "training_iteration",
                 lookahead: int | None = None):
        self.searcher, self.scheduler = searcher, scheduler
        self.metric, self.mode = metric, mode
        self.num_samples, self.max_concurrent = int(num_samples), max(1, int(max_concurrent))
        # trials created ahead of a free worker, so that Ray starts the next one without a round trip
        self.lookahead = self.max_concurrent if lookahead is None else max(0, int(lookahead))
        self.budget_attr = budget_attr
        self.trials: dict[str, TrialInfo] = {}
        self.resume_queue: list[str] = []
        self.stop_queue: list[str] = []  # paused trials the scheduler core gave up on
        self.finished_order: list[str] = []  # Ray ids in the order they ended (for "best over time")
        # an append-only record of every ended trial: Ray snapshots the experiment only every few
        # seconds, so after a driver kill this is what keeps finished trials from being lost or re-run
        self.journal_path: str | None = None
        self.unsaved_ends = 0  # trials ended since Ray last saved the experiment
        self._warned_short = False  # a function that returned below max_budget was warned of
        # after a restore: suggestions whose Ray trial the restored experiment does not hold (Ray's
        # snapshot was older than ours), handed out again to new Ray trials before anything new is asked
        self.reissue: list[str] = []
        self.needs_reconcile = False  # set by load_state_dict; done at the first choose()

    # ---- the searcher side -----------------------------------------------------------------
    @property
    def n_live(self) -> int:
        return sum(1 for t in self.trials.values() if t.status == RUNNING) + len(self.resume_queue)

    @property
    def search_finished(self) -> bool:
        if self.num_samples < 0:  # -1: new trials until the time budget or a Ctrl-C ends the job
            return False
        return len(self.trials) + len(self.reissue) >= self.num_samples

    def suggest(self, ray_id: str) -> dict | str | None:
        """A new configuration for Ray trial ``ray_id``, ``None`` (not now) or ``FINISHED``."""
        if self.search_finished and not self.reissue:
            self._close_intake()
            return FINISHED
        if self.n_live >= self.max_concurrent + self.lookahead:
            return None
        if self.scheduler is not None:
            act = self.scheduler.next_action()
            if act.kind == "resume":
                self.resume_queue.append(act.trial_id)
                return None
            if act.kind == "wait":
                return None
            if act.kind == "done":
                return FINISHED
        if self.reissue:
            sid = self.reissue.pop(0)
            config = self.searcher.space.decode(self.searcher.trials[sid].vector)
        else:
            sug = self.searcher.ask()
            sid, config = sug.id, sug.config
        self.trials[ray_id] = TrialInfo(sid)
        if self.scheduler is not None:
            self.scheduler.add_trial(ray_id)
            if self.search_finished and not self.reissue:
                self._close_intake()
        return config

    def _close_intake(self) -> None:
        """The last trial was handed out: rungs waiting for more trials decide with those they have."""
        if self.scheduler is not None:
            self.scheduler.close_intake()

    def on_result(self, ray_id: str, result: Mapping[str, Any]) -> str:
        """Record a result; with a scheduler, return its decision (continue | pause | stop)."""
        info = self.trials.get(ray_id)
        if info is None:
            return "continue"
        budget = float(result.get(self.budget_attr) or 0.0)
        if info.outcome == "completed":
            # A report past max_budget: the trial is over, keep its result.  One at a budget it had reached
            # comes from its function restarted from an earlier checkpoint by a resume (a Ctrl-C or kill
            # caught it between its report at max_budget and its return, before Ray saved that report's
            # checkpoint): it runs on to its end, so the code after its loop runs; its value stays.
            return "stop" if budget > info.budget else "continue"
        value = _finite(result.get(self.metric))
        info.last_value, info.budget = value, max(info.budget, budget)
        if self.scheduler is None:
            return "continue"
        if info.history and budget <= max(b for b, _ in info.history):
            return "continue"  # a trial restarted from an earlier checkpoint: these budgets were decided
        dec = self.scheduler.on_result(ray_id, budget, math.nan if value is None else value)
        if dec.milestone:
            self.searcher.tell(info.sid, value, budget=budget)
            info.told = True
            info.history.append((budget, value))
        if dec.predicted is not None:
            self.searcher.tell(info.sid, dec.predicted, predicted=True)
            info.told, info.predicted = True, float(dec.predicted)
        if dec.action == "pause":
            info.status = PAUSED
        elif dec.action == "stop":
            info.outcome = dec.reason or "stopped early"
        self._drain_stopped()
        if dec.action == "stop" and info.outcome == "completed":
            return "continue"  # at max_budget: let the function return by itself (its code after the loop runs)
        return dec.action

    def past_its_end(self, ray_id: str, result: Mapping[str, Any]) -> bool:
        """Whether ``result`` came after its trial completed at max_budget: stopped, not the trial's."""
        info = self.trials.get(ray_id)
        return (info is not None and info.outcome == "completed"
                and float(result.get(self.budget_attr) or 0.0) > info.budget)

    def _drain_stopped(self) -> None:
        for rid in self.scheduler.take_stopped() if self.scheduler is not None else []:
            if rid in self.trials:
                self.trials[rid].outcome = self.scheduler.trial_status(rid)["reason"] or "stopped early"
                self.stop_queue.append(rid)

    def on_complete(self, ray_id: str, result: Mapping[str, Any] | None, error: bool) -> None:
        """The trial ended (its function returned, it was stopped, or it raised)."""
        info = self.trials.get(ray_id)
        if info is None or info.status == DONE:
            return
        self._end(ray_id, info, result, error)
        self.unsaved_ends += 1
        if self.journal_path:
            rec = self.searcher.trials.get(info.sid)
            config = self.searcher.space.decode(rec.vector) if rec is not None else None
            line = json.dumps({"ray_id": ray_id, "value": info.last_value, "budget": info.budget,
                               "outcome": info.outcome, "error": error, "history": info.history,
                               "predicted": info.predicted, "config": config}, default=_plain)
            with open(self.journal_path, "a") as f:
                f.write(line + "\n")

    def replay_journal(self) -> int:
        """Apply the ends recorded after the state was saved; returns how many were applied."""
        n = 0
        for rec in read_journal(self.journal_path):
            info = self.trials.get(rec["ray_id"])
            if info is None:
                n += self._adopt(rec)
                continue
            if info.status == DONE:
                continue
            seen = {b for b, _ in info.history}
            for b, v in rec["history"]:
                if b not in seen and self.scheduler is not None:
                    self.scheduler.on_result(rec["ray_id"], b, math.nan if v is None else v)
                    self.searcher.tell(info.sid, v, budget=b)
                    info.history.append((b, v))
                    info.told = True
            info.last_value, info.budget, info.outcome = rec["value"], rec["budget"], rec["outcome"]
            if rec.get("predicted") is not None and info.predicted is None:
                self.searcher.tell(info.sid, rec["predicted"], predicted=True)
                info.predicted = rec["predicted"]
            self._end(rec["ray_id"], info, None, rec["error"])
            n += 1
        return n

    def _adopt(self, rec: Mapping[str, Any]) -> int:
        """A trial that Ray created and that ended after the saved state: the state has never heard of
        it, so its result goes to the searcher as an observation of its (journaled) configuration, and
        it counts as one of the job's trials; it is not run again."""
        if not rec.get("config"):
            return 0
        value = None if rec["error"] else rec["value"]
        history = [(float(b), v) for b, v in rec.get("history") or []]
        if self.scheduler is None or not history:
            budget = None if self.scheduler is None else (
                rec["budget"] or (self.scheduler.min_budget if rec["error"] else None))
            sid = self.searcher.add_observation(rec["config"], value, budget=budget)
        else:
            sid = self.searcher.add_observation(rec["config"], history[0][1], budget=history[0][0])
            for b, v in history[1:]:
                self.searcher.tell(sid, v, budget=b)
        if rec.get("predicted") is not None:
            self.searcher.tell(sid, rec["predicted"], predicted=True)
        self.trials[rec["ray_id"]] = TrialInfo(sid, DONE, rec["value"], float(rec["budget"] or 0.0),
                                               rec["outcome"], True, history, rec.get("predicted"))
        self.finished_order.append(rec["ray_id"])
        return 1

    def reconcile(self, ray_status: Mapping[str, str]) -> list[str]:
        """Make the restored state and Ray's restored trials agree; returns the Ray ids to stop.

        Ray saves its trial list and this state in one snapshot, but copies the files to the job
        directory one by one, so a driver killed during the copy can leave them from different
        snapshots.  A Ray trial unknown here (its suggestion was made after our state was saved) is
        stopped: the searcher, restored to before it, suggests again.  A trial of ours that Ray does
        not hold (and that had not ended) is handed out again, from scratch, to the next new Ray trial.
        """
        stop = [rid for rid, st in ray_status.items()
                if rid not in self.trials and st in ("PENDING", "PAUSED", "RUNNING")]
        for rid, t in list(self.trials.items()):
            if t.status != DONE and rid not in ray_status:
                del self.trials[rid]
                if rid in self.resume_queue:
                    self.resume_queue.remove(rid)
                if self.scheduler is not None:
                    self.scheduler.on_failure(rid)
                    self.scheduler.reopen_intake(1)  # its suggestion comes back as a new trial
                self.reissue.append(t.sid)
        return stop

    def _end(self, ray_id: str, info: TrialInfo, result: Mapping[str, Any] | None, error: bool) -> None:
        # A trial the scheduler completed at max_budget keeps its value there: a function that trains on
        # past max_budget is stopped at its next report, and that extra result is not the trial's value.
        if result and info.outcome != "completed":
            v = _finite(result.get(self.metric))
            if v is not None or self.metric in result:
                info.last_value = v
            b = result.get(self.budget_attr)
            if b is not None:
                info.budget = max(info.budget, float(b))
        info.status = DONE
        if error:
            info.outcome = "failed"
        elif info.last_value is None:
            info.outcome = "failed: the metric is not a finite number"
        elif not info.outcome:
            info.outcome = "completed"
            end = getattr(self.scheduler, "max_budget", math.inf)
            if self.scheduler is not None and info.budget and info.budget < end * (1 - 1e-9):
                # the function returned before max_budget
                info.outcome = f"completed: its function returned at budget {info.budget:g}, below max_budget={end:g}"
                self._warn_short(ray_id, info.budget, end)
        if self.scheduler is None:
            self.searcher.tell(info.sid, None if error else info.last_value)
            info.told = True
        else:
            if error:
                self.scheduler.on_failure(ray_id)
            else:
                self.scheduler.on_complete(ray_id)
            if not info.told:  # a trial that failed before its first report failed at the first budget
                first = self.scheduler.min_budget if error else None
                self.searcher.tell(info.sid, None if error else info.last_value,
                                   budget=info.budget or first)
                info.told = True
        if ray_id in self.resume_queue:
            self.resume_queue.remove(ray_id)
        self.finished_order.append(ray_id)

    def _warn_short(self, ray_id: str, budget: float, end: float) -> None:
        if getattr(self, "_warned_short", False):  # a coordinator pickled before this flag has none
            return
        self._warned_short = True
        logging.getLogger("tunestack").warning(
            "tunestack: trial %s's function returned at budget %g, below max_budget=%g; it counts as "
            "completed with its last value there (table reason says so). A scheduler compares trials at "
            "budgets from min_budget to max_budget: report once per step up to max_budget (ts.report(...) "
            "each epoch, with checkpoint= for the schedulers that pause), or set max_budget to what the "
            "function trains. (Said once per job.)", ray_id, budget, end)

    # ---- the scheduler side ---------------------------------------------------------------------
    def known_budget(self, ray_id: str) -> float | None:
        """The largest budget of an unfinished trial's reports that this state holds, where the scheduler
        decides on reports before max_budget (``None``: no such scheduler, fifo's core only completing
        trials there, or a trial unknown here or ended).  A restored trial must not resume from a
        checkpoint past it (see ray_adapters._rewind_checkpoint)."""
        info = self.trials.get(ray_id)
        if getattr(self.scheduler, "name", "fifo") == "fifo" or info is None or info.status == DONE:
            return None
        return info.budget

    def held_paused(self, ray_status: Mapping[str, str]) -> list[str]:
        """Ray ids that Ray holds PENDING while the scheduler holds them paused at a rung.

        Ray's restore makes every unfinished trial PENDING, and Ray starts every PENDING trial by itself
        (the scheduler's choice only comes first): a trial paused before the Ctrl-C or kill would train on
        from its rung unpromoted, and then end between rungs.  The Ray adapter makes these PAUSED again,
        so that they wait for a promotion."""
        return [rid for rid, st in ray_status.items()
                if st == "PENDING" and rid in self.trials and self.trials[rid].status == PAUSED]

    def choose(self, ray_status: Mapping[str, str]) -> tuple[str | None, list[str]]:
        """(Ray id to run next or None, Ray ids of paused trials to stop now).

        ``ray_status`` maps Ray trial ids to Ray's status strings (PENDING, PAUSED, RUNNING, ...).
        """
        unknown = self.reconcile(ray_status) if self.needs_reconcile else []
        self.needs_reconcile = False
        # trials that ended before a driver restart but that Ray's older snapshot still lists as unfinished
        ended = [rid for rid, st in ray_status.items() if st in ("PENDING", "PAUSED")
                 and rid in self.trials and self.trials[rid].status == DONE]
        stops = unknown + ended + [rid for rid in self.stop_queue if ray_status.get(rid) == "PAUSED"]
        self.stop_queue = [rid for rid in self.stop_queue if ray_status.get(rid) in ("RUNNING", "PENDING")]
        if stops:
            return None, stops
        for rid in list(self.resume_queue):
            st = ray_status.get(rid)
            if st in (None, "TERMINATED", "ERROR"):
                self.resume_queue.remove(rid)
            elif st == "PAUSED":
                self.resume_queue.remove(rid)
                self.trials[rid].status = RUNNING
                return rid, []
        for rid, st in ray_status.items():
            if st == "PENDING":
                return rid, []
        if self.scheduler is None or self.n_live >= self.max_concurrent:
            return None, []
        act = self.scheduler.next_action()
        if act.kind == "resume":
            if ray_status.get(act.trial_id) == "PAUSED":
                self.trials[act.trial_id].status = RUNNING
                return act.trial_id, []
            self.resume_queue.append(act.trial_id)
            return None, []
        running = any(st in ("RUNNING", "PENDING") for st in ray_status.values())
        if (self.search_finished or act.kind == "done") and not running and not self.resume_queue:
            # nothing can make a paused trial promotable any more: they end where they are
            paused = [rid for rid, st in ray_status.items() if st == "PAUSED"]
            for rid in paused:
                if rid in self.trials:
                    self.trials[rid].outcome = "stopped early: not promoted"
            return None, paused
        return None, []

    # ---- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "searcher": self.searcher.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "trials": {rid: t.to_json() for rid, t in self.trials.items()},
            "resume_queue": list(self.resume_queue),
            "stop_queue": list(self.stop_queue),
            "finished_order": list(self.finished_order),
            "reissue": list(self.reissue),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported tunestack job state format {state.get('format')!r}")
        self.searcher.load_state_dict(state["searcher"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        elif getattr(self.scheduler, "name", None) == "fifo":
            self.scheduler = None  # saved before fifo's core capped trials at max_budget: it goes on as it ran
        self.trials = {}
        for rid, d in state["trials"].items():
            self.trials[rid] = TrialInfo(d["sid"], d["status"], d["last_value"], d["budget"], d["outcome"],
                                         d["told"], [tuple(x) for x in d["history"]], d.get("predicted"))
        self.resume_queue = list(state["resume_queue"])
        self.stop_queue = list(state.get("stop_queue", []))
        self.finished_order = list(state["finished_order"])
        self.reissue = list(state.get("reissue", []))
        self.needs_reconcile = True

    # ---- results ------------------------------------------------------------------------------
    def best(self, max_budget: float | None = None) -> tuple[str, float] | None:
        """(Ray id, value) of the best final reported value; trials that reached ``max_budget`` first."""
        sign = 1.0 if self.mode == "min" else -1.0
        done = [(rid, t) for rid, t in self.trials.items() if t.last_value is not None
                and not t.outcome.startswith("failed")]
        if max_budget is not None:
            full = [(rid, t) for rid, t in done if t.budget >= max_budget]
            done = full or done
        if not done:
            return None
        rid, t = min(done, key=lambda x: sign * x[1].last_value)
        return rid, t.last_value


def read_journal(path: str | None) -> list[dict]:
    """The journal's records; a last line cut short by a kill is left out."""
    if not path or not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def _plain(v: Any) -> Any:
    """numpy scalars in a configuration as plain Python values."""
    return v.item() if hasattr(v, "item") else str(v)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
