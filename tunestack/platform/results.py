"""A tuning job's result: the per-trial table, the artifacts and MLflow's parent-run summary, and the
summary printed at the end of a job."""
from __future__ import annotations

import json
import math
import os
import reprlib
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import pandas as pd

from ..space import SearchSpace
from .coordinator import Coordinator
from .tracking import error_line

if TYPE_CHECKING:
    from .runner import JobSpec

__all__ = ["TuneResult", "collect", "finish_tracking", "print_summary", "short_error"]


@dataclass
class TuneResult:
    """What a tuning job found.  ``table`` has one row per trial."""

    best_config: dict | None
    best_value: float | None
    best_trial_id: str | None
    table: pd.DataFrame
    path: str
    metric: str
    mode: str
    tracking_uri: str | None = None
    mlflow_experiment: str | None = None
    mlflow_run_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    best_checkpoint: str | None = None
    interrupted: bool = False
    coordinator: Coordinator | None = field(default=None, repr=False)
    max_budget: float | None = None  # with a scheduler: the budget a trial completes at

    @property
    def n_failed(self) -> int:
        return int(self.table["status"].str.startswith("failed").sum()) if len(self.table) else 0

    def __repr__(self) -> str:
        return (f"TuneResult(best_value={self.best_value!r}, best_config={self.best_config!r}, "
                f"trials={len(self.table)}, failed={self.n_failed}, path={self.path!r})")


def collect(coord: Coordinator, grid: Any, spec: JobSpec, space: SearchSpace, job_dir: str,
             interrupted: bool) -> TuneResult:
    ray_results = {}
    if grid is not None:
        for r in grid:
            tid = (r.metrics or {}).get("trial_id") or os.path.basename(r.path).split("_")[-3:-2]
            ray_results[str(tid)] = r
    rows = []
    for rid, t in coord.trials.items():
        rec = coord.searcher.trials.get(t.sid)
        config = space.decode(rec.vector) if rec is not None else {}
        r = ray_results.get(rid)
        reason = t.outcome or ("interrupted" if interrupted else t.status)
        row = {"trial_id": rid, "value": t.last_value, "budget": t.budget,
               "status": reason.split(":")[0], "reason": reason,
               "time_s": (r.metrics or {}).get("time_total_s") if r is not None else None}
        if t.predicted is not None:
            row["predicted"] = t.predicted
        if r is not None and r.error is not None:
            row["error"] = short_error(r.error)
        row.update({f"config/{k}": v for k, v in space.flatten(config).items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    best = coord.best(spec.max_budget if spec.scheduler not in (None, "fifo") else None)
    best_config = best_ckpt = None
    if best is not None:
        rec = coord.searcher.trials[coord.trials[best[0]].sid]
        best_config = space.decode(rec.vector)
        r = ray_results.get(best[0])
        if r is not None and r.checkpoint is not None:
            best_ckpt = r.checkpoint.path
    return TuneResult(best_config, best[1] if best else None, best[0] if best else None, table, job_dir,
                      spec.metric, spec.mode, best_checkpoint=best_ckpt, interrupted=interrupted,
                      coordinator=coord,
                      max_budget=spec.max_budget if spec.scheduler not in (None, "fifo") else None)


def short_error(err: BaseException) -> str:
    """The user's exception as ``ValueError: message``, without Ray's wrapper or module paths."""
    return error_line(str(err)) or type(err).__name__


def finish_tracking(tracker: Any, result: TuneResult, spec: JobSpec, space: SearchSpace, job_dir: str,
                     coord: Coordinator) -> None:
    out = os.path.join(job_dir, "tunestack")
    os.makedirs(out, exist_ok=True)
    files = _write_artifacts(out, result, space, coord)
    if tracker is None:
        return
    sign = 1.0 if spec.mode == "min" else -1.0
    best, series = math.inf, []
    for i, rid in enumerate(coord.finished_order, start=1):
        v = coord.trials[rid].last_value
        if v is not None and not coord.trials[rid].outcome.startswith("failed"):
            best = min(best, sign * v)
        if math.isfinite(best):
            series.append(("best_value", sign * best, i))
    tracker.send("parent_metrics", metrics=series + [("n_trials", len(coord.trials), 0),
                                                     ("n_failed", result.n_failed, 0)])
    tracker.send("artifacts", paths=files, artifact_path=None)
    if result.best_checkpoint and os.path.isdir(result.best_checkpoint):
        tracker.send("artifacts", paths=[result.best_checkpoint], artifact_path="best_checkpoint")
        tracker.send("artifacts", run=result.best_trial_id, paths=[result.best_checkpoint],
                     artifact_path="checkpoint")
    tracker.close(status="KILLED" if result.interrupted else "FINISHED")
    info = tracker.info
    result.tracking_uri = info.get("tracking_uri")
    result.mlflow_experiment = spec.name
    result.mlflow_run_id = info.get("parent_run_id")
    result.warnings.extend(tracker.warnings)


def _write_artifacts(out: str, result: TuneResult, space: SearchSpace, coord: Coordinator) -> list[str]:
    paths = {name: os.path.join(out, name) for name in
             ("space.json", "best_config.json", "results.csv", "best_value.png", "searcher_state.json")}
    with open(paths["space.json"], "w") as f:
        json.dump(space.describe(), f, indent=1, default=str)
    with open(paths["best_config.json"], "w") as f:
        json.dump({"best_value": result.best_value, "best_trial_id": result.best_trial_id,
                   "best_config": result.best_config}, f, indent=1, default=str)
    result.table.to_csv(paths["results.csv"], index=False)
    with open(paths["searcher_state.json"], "w") as f:
        json.dump(coord.state_dict(), f, default=str)
    from .plots import plot_best_value

    plot_best_value(coord, paths["best_value.png"])
    return [p for p in paths.values() if os.path.exists(p)]


def _best_below_max_budget(result: TuneResult) -> float | None:
    """The best trial's budget when a scheduler's job has no trial at max_budget (cut by a time budget,
    an interrupt or failures), else None."""
    if result.max_budget is None or result.best_trial_id is None or not len(result.table):
        return None
    budget = result.table.loc[result.table["trial_id"] == result.best_trial_id, "budget"]
    if budget.empty or float(budget.iloc[0]) >= result.max_budget * (1 - 1e-9):
        return None
    return float(budget.iloc[0])


def _short_repr(config: Any) -> str:
    """A config as the summary shows it: long lists and strings (a vocabulary as a constant) cut short."""
    if isinstance(config, Mapping):  # in the config's own order (reprlib sorts the keys)
        return "{" + ", ".join(f"{k!r}: {_short_repr(v)}" for k, v in config.items()) + "}"
    r = reprlib.Repr()
    r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = 8
    r.maxdict, r.maxlevel, r.maxstring, r.maxother = 100, 4, 120, 120
    return r.repr(config)


def print_summary(result: TuneResult, seconds: float) -> None:
    n = len(result.table)
    if result.best_trial_id is None:
        lines = [f"tunestack: {n} trials in {seconds:.1f}s; no trial reported a finite {result.metric}"]
    else:
        lines = [f"tunestack: {n} trials in {seconds:.1f}s; best {result.metric} = {result.best_value} "
                 f"(trial {result.best_trial_id})", f"  best config: {_short_repr(result.best_config)}"]
    short = _best_below_max_budget(result)
    if short is not None:
        lines.append(f"  note: no trial reached max_budget={result.max_budget:g}; the best value is at budget "
                     f"{short:g}")
        done = result.table.loc[result.table["status"] == "completed", "budget"]
        if len(done):
            lines.append(f"  note: trials returned by themselves at budget {float(done.max()):g}, below "
                         "max_budget: set max_budget to the budget your function trains to (its rungs and its best value "
                         "depend on it)")
    sched = result.coordinator.scheduler if result.coordinator is not None else None
    lines.extend(f"  note: {n}" for n in (sched.notes() if sched is not None else []))
    if result.n_failed:
        errs = result.table.loc[result.table["status"].str.startswith("failed")]
        first = errs["error"].dropna().iloc[0] if "error" in errs and errs["error"].notna().any() else \
            errs["reason"].iloc[0] if "reason" in errs else errs["status"].iloc[0]
        lines.append(f"  {result.n_failed} trial(s) failed; first error: {first}")
    if result.interrupted:
        lines.append(f"  interrupted: resume with tunestack.resume({result.path!r}, fn)")
    elif "reason" in result.table and len(result.table):
        cut = result.table["reason"].fillna("").str.startswith("stopped: time_budget_s=")
        if cut.any():
            lines.append(f"  the time budget ended the job: {int(cut.sum())} unfinished trial(s) stopped "
                         "(a resume does not run them: the budget counts the job's whole running time)")
    if result.tracking_uri:
        lines.append(f"  MLflow: experiment {result.mlflow_experiment!r} in {result.tracking_uri}; "
                     f"open the UI with: tunestack ui --tracking-uri {result.tracking_uri}")
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    print("\n".join(lines))
    if result.best_value is None:
        warnings.warn("no trial produced a finite value of the metric; see result.table", RuntimeWarning,
                      stacklevel=3)
