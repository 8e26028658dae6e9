"""MLflow tracking, driver side: a client for the writer process and the Ray callback that feeds it.

The writer (:mod:`tunestack.platform.tracking_worker`) runs as a separate process started with
``python -m``, so MLflow's store work runs beside the Ray event loop instead of inside it, and the user's
script is never re-imported.  Without a tracking URI the store is MLflow's own default (a SQLite file in
the working directory); ``MLFLOW_TRACKING_URI`` or ``tracking_uri=`` choose another, e.g. a tracking
server that a whole cluster reaches.
"""
from __future__ import annotations

import atexit
import json
import logging
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Mapping

from ray.tune import Callback
from ray.tune.result import AUTO_RESULT_KEYS

__all__ = ["TrackingClient", "TrackingCallback", "register_live", "live"]

log = logging.getLogger("tunestack")

REPLACED = "stopped: replaced when the job was resumed"  # a killed run's trial whose suggestion runs again
_LIVE: dict[str, dict[str, Any]] = {}  # job id -> live driver-side objects (never pickled)


def register_live(job_id: str, **objects: Any) -> None:
    _LIVE.setdefault(job_id, {}).update(objects)


def live(job_id: str, key: str) -> Any:
    return _LIVE.get(job_id, {}).get(key)


class _WriterProcess:
    """One writer process and the thread that reads its answers.  After a job's ``end`` the process
    stays up, idle, for the driver's next job (importing MLflow costs the writer ~2 CPU seconds, which a
    short job on a small machine would otherwise pay every time); it exits when the driver does (EOF)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no usage pings from inside a tuning job
        env["PYTHONPATH"] = os.pathsep.join(p for p in [_package_root(), env.get("PYTHONPATH", "")] if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tunestack.platform.tracking_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1,
            preexec_fn=_lower_priority if os.name == "posix" else None)
        self.owner: TrackingClient | None = None  # the client of the job being written
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if self.owner is not None:
                self.owner._on_answer(msg)
        if self.owner is not None:
            self.owner._on_answer({"event": "exit"})

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and self.proc.stdin is not None and not self.proc.stdin.closed

    def send(self, line: str) -> None:
        if not self.alive:
            return
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def stop(self, timeout: float | None) -> bool:
        """Close the pipe (the writer exits on EOF) and wait up to ``timeout`` seconds for the exit
        (``None``: do not wait); ``False`` if it had to be killed."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        if timeout is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return False


_IDLE_WRITERS: list[_WriterProcess] = []  # writers whose job has ended, for the next job of this driver
_IDLE_LOCK = threading.Lock()


def stop_idle_writers(timeout: float | None = None) -> None:
    """Stop the writer processes kept for this driver's next job (the next job starts a new one)."""
    with _IDLE_LOCK:
        writers, _IDLE_WRITERS[:] = list(_IDLE_WRITERS), []
    for w in writers:
        w.stop(timeout)


atexit.register(stop_idle_writers)  # at the driver's exit: close their pipes, nothing is left to write


def _writer() -> _WriterProcess:
    with _IDLE_LOCK:
        while _IDLE_WRITERS:
            w = _IDLE_WRITERS.pop()
            if w.alive:
                return w
    return _WriterProcess()


def _ending(outcome: str) -> dict[str, Any]:
    """The MLflow status and tags of a trial run that ended with ``outcome``: FINISHED (completed),
    KILLED (stopped early) or FAILED, with the reason."""
    status = "FAILED" if outcome.startswith("failed") else (
        "KILLED" if outcome.startswith("stopped") else "FINISHED")
    return {"status": status,
            "tags": {"tunestack.status": outcome.split(":")[0], "tunestack.reason": outcome[:500]}}


class TrackingClient:
    """Sends one job's events to a writer process (started, or reused from an earlier job of this
    driver); never raises into the job."""

    def __init__(self, experiment: str, job_dir: str, tracking_uri: str | None = None,
                 params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
                 run_name: str | None = None, resume: bool = False):
        self.warnings: list[str] = []
        self.info: dict[str, Any] = {}
        self._ready = threading.Event()
        self._answers: queue.Queue = queue.Queue()  # "done" / "exit"
        self._writer = _writer()
        self._writer.owner = self
        # resolved here, not in the writer: a reused writer's environment is that of an earlier job
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        self.send("start", experiment=experiment, job_dir=job_dir, tracking_uri=uri, cwd=os.getcwd(),
                  params=dict(params or {}), tags=dict(tags or {}), run_name=run_name, resume=resume)

    def _on_answer(self, msg: dict) -> None:
        """Called by the reader thread for each answer of the writer."""
        if msg["event"] in ("warning", "moved"):
            self.warnings.append(msg["message"])
            log.warning(msg["message"])
            if msg["event"] == "moved":  # the job is now tracked in the fallback store, from its start
                self.info = {**self.info, **{k: msg[k] for k in ("tracking_uri", "experiment_id",
                                                                  "parent_run_id")}}
        elif msg["event"] in ("ready", "failed"):
            self.info = msg
            if msg["event"] == "failed":
                self.warnings.append(f"MLflow tracking is off for this job: {msg['message']}")
                log.warning(self.warnings[-1])
            self._ready.set()
        else:
            self._ready.set()
            self._answers.put(msg)

    def send(self, op: str, **kw: Any) -> None:
        self._writer.send(json.dumps({"op": op, **kw}, default=str) + "\n")

    def end_trial(self, trial_id: str, outcome: str, budget: float | None, step: int = 0,
                  predicted: float | None = None) -> None:
        """Close a trial's run (see ``_ending``); ``predicted``: the scheduler's prediction of its final value (lce), logged as ``predicted_final``."""
        metrics = {} if budget is None else {"budget_reached": budget}
        if predicted is not None:
            metrics["predicted_final"] = predicted
        self.send("trial_end", trial=trial_id, step=step, time=time.time(), metrics=metrics,
                  **_ending(outcome))

    def end_other_trials(self, known: list[str], outcome: str) -> None:
        """Close, with ``outcome``, every trial run still open that is not one of ``known`` (after a
        resume: runs an earlier, killed driver started for trials that no saved state holds)."""
        self.send("trial_end_others", known=list(known), time=time.time(), **_ending(outcome))

    def wait_ready(self, timeout: float = 120.0) -> dict:
        self._ready.wait(timeout)
        return self.info

    def close(self, status: str = "FINISHED", timeout: float = 300.0, reason: str | None = None) -> None:
        """End the parent run (``reason``: a tag saying why, for a job that ended on an error) and wait
        until everything is written; the writer then waits for the driver's next job."""
        self.send("end", status=status, reason=reason)
        deadline = time.monotonic() + timeout
        try:
            done = self._answers.get(timeout=timeout)["event"] == "done"  # or "exit": the writer died
        except queue.Empty:
            done = False
        if done and self._writer.alive:
            self._writer.owner = None
            with _IDLE_LOCK:
                _IDLE_WRITERS.append(self._writer)
            return
        if not self._writer.stop(timeout=max(1.0, deadline - time.monotonic())) or not done:
            self.warnings.append("the MLflow writer did not finish in time; some tracking may be missing")


def _lower_priority() -> None:
    """In the writer process: yield the CPU to the driver and the trials (writes are buffered anyway),
    and ignore SIGINT: a Ctrl-C in a terminal reaches the whole process group, and the writer must live
    on to write the interrupted job's end (the driver ends it with its ``end`` message or EOF)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # kept across exec; Python then leaves SIGINT ignored
    try:
        os.nice(10)
    except OSError:
        pass


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, Mapping):
            out.update(flat_params(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def user_metrics(result: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric metrics a trial reported itself (Ray's automatic keys left out); a dict of metrics
    (``per_class={"cat": 0.9}``) gives ``per_class/cat``."""
    out = {}
    for k, v in result.items():
        if not prefix and (k in AUTO_RESULT_KEYS or k in (
                "config", "trial_id", "experiment_tag", "date", "hostname", "node_ip", "pid", "timestamp",
                "should_checkpoint")):
            continue
        if isinstance(v, Mapping):
            out.update(user_metrics(v, f"{prefix}{k}/"))
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[f"{prefix}{k}"] = float(v) if math.isfinite(float(v)) else float("nan")
    return out


class TrackingCallback(Callback):
    """Feeds trial events to the MLflow writer of job ``job_id`` (looked up, never pickled)."""

    def __init__(self, job_id: str, metric: str):
        self.job_id, self.metric = job_id, metric

    def _client(self) -> TrackingClient | None:
        return live(self.job_id, "tracking")

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        c = self._client()
        if c is not None:
            c.send("trial_start", trial=trial.trial_id, name=str(trial), params=flat_params(trial.config),
                   tags={"tunestack.status": "running"})

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        c = self._client()
        coord = live(self.job_id, "coordinator")
        if coord is not None and coord.past_its_end(trial.trial_id, result):
            return  # a report past max_budget: the trial's value stays the one there, in MLflow too
        if c is not None:
            c.send("result", trial=trial.trial_id, step=result.get("training_iteration", 0),
                   metrics=user_metrics(result), time=time.time())

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, error=None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, error=getattr(trial, "error_file", None) or "error")

    def _end(self, trial: Any, error: Any) -> None:
        c = self._client()
        if c is None:
            return
        coord = live(self.job_id, "coordinator")
        t = coord.trials.get(trial.trial_id) if coord is not None else None
        outcome = (t.outcome if t is not None and t.outcome else ("failed" if error else "completed"))
        if coord is not None and t is None:  # stopped at a resume, its suggestion made again (reconcile)
            outcome = REPLACED
        if error:
            outcome = "failed: " + _error_summary(trial)
        c.end_trial(trial.trial_id, outcome, t.budget if t is not None else None,
                    (trial.last_result or {}).get("training_iteration", 0),
                    predicted=t.predicted if t is not None else None)


def error_line(text: str) -> str:
    """The last line of an error text, ``ValueError: message``, without module paths; for a trial whose
    process died, one line that says so (Ray's own is some 600 characters of advice)."""
    text = str(text)
    if "The actor is dead because its worker process has died" in text:
        pid = re.search(r"\bpid: (\d+)", text)
        detail = re.search(r"Worker exit detail: ([^.]*)", text)
        return (f"the trial's process{f' (pid {pid.group(1)})' if pid else ''} died: killed (by the OOM killer? "
                f"see dmesg), crashed in native code, or ended by os._exit"
                f"{f' (Ray: {detail.group(1)})' if detail else ''}")[:500]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=\w+: )", "", lines[-1])[:500] if lines else ""


def _error_summary(trial: Any) -> str:
    """The last line of the trial's error (the user's exception), not Ray's wrapper traceback."""
    msg = ""
    path = getattr(trial, "error_file", None)
    if path and os.path.exists(path):
        with open(path, errors="replace") as f:
            msg = error_line(f.read())
    if not msg and getattr(trial, "status", "") == "ERROR":
        msg = "the trial raised an error"
    return msg[:500]
