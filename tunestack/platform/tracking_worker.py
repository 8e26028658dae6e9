"""The MLflow writer: a separate process that turns a job's events into MLflow runs.

The driver sends JSON lines on stdin (see :mod:`tunestack.platform.tracking`); this process batches
them (one write per trial per flush) so that tracking never slows the Ray event loop, and answers on
stdout with JSON lines (``ready``, ``warning``, ``moved``, ``done``).  One experiment per job name, one
parent run per job, one nested child run per trial.  An unreachable tracking server falls back to a
SQLite store in the job directory, so nothing is lost; a server that stops answering during the job
makes the writer write the whole job again, from the messages it kept, to that store (``moved``).
"""
from __future__ import annotations

import json
import os
import posixpath
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FLUSH_SECONDS = 0.25
MAX_PARAM_LEN = 6000
_NAME_BAD = re.compile(r"[^\w\-. :/]")  # MLflow's names: letters, digits, _ - . space : /


def mlflow_name(key: Any) -> str:
    """A metric or parameter name MLflow accepts: characters it refuses become ``_``, and a name that is
    not a plain path (``a//b``, ``./a``, ``a/``) loses its slashes."""
    name = _NAME_BAD.sub("_", str(key))[:250]
    if not name or name.startswith("/") or posixpath.normpath(name) != name:
        name = name.replace("/", "_") or "_"
    return name


def _emit(event: str, **kw: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **kw}) + "\n")
    sys.stdout.flush()


@dataclass
class _Trial:
    run_id: str | None = None
    name: str = ""
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)  # (key, value, step, timestamp ms)
    end: tuple | None = None  # (status, end time ms) waiting to be written
    params_logged: bool = False
    closed: bool = False  # the run is terminated in MLflow


class Writer:
    """Holds the MLflow client and the per-trial buffers."""

    def __init__(self, warn: Any = None) -> None:
        self.warn = warn or (lambda message: _emit("warning", message=message))
        self.renamed: set[str] = set()
        self.client = None
        self.uri = ""
        self.fallback: str | None = None  # the job directory's SQLite store, when the job is tracked there
        self.experiment_id = ""
        self.parent_id = ""
        self.trials: dict[str, _Trial] = {}
        self.parent_metrics: list = []

    # ---- start ----------------------------------------------------------------------------------
    def start(self, msg: dict) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        if msg.get("cwd"):
            os.chdir(msg["cwd"])  # MLflow's default store is relative to the driver's working directory
        uri = msg.get("tracking_uri") or mlflow.get_tracking_uri()
        _fast_sqlite_commits()
        fallback = None
        try:
            self._connect(MlflowClient, uri, msg)
        except Exception as e:  # noqa: BLE001 - any store error: fall back, keep every result
            fallback = fallback_uri(msg)
            if "MLFLOW_ALLOW_FILE_STORE" in str(e):  # MLflow >= 3.7 refuses its file store by default
                why = ("is a file store, which MLflow refuses unless MLFLOW_ALLOW_FILE_STORE=true is set; "
                       "a database store such as sqlite:///mlflow.db needs no setting")
            else:
                why = f"is not reachable ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
            _emit("warning", message=f"MLflow tracking store {uri!r} {why}; this job is tracked in the fallback "
                                     f"store {fallback!r} instead. Open it with: tunestack ui "
                                     f"--tracking-uri {fallback}")
            uri = fallback
            self._connect(MlflowClient, uri, msg)
        self.uri, self.fallback = uri, fallback
        _emit("ready", tracking_uri=uri, experiment_id=self.experiment_id, parent_run_id=self.parent_id,
              fallback=fallback)

    def start_fallback(self, msg: dict) -> None:
        """Track the job from its start in the fallback store (the given store stopped answering)."""
        from mlflow.tracking import MlflowClient

        self.fallback = self.uri = fallback_uri(msg)
        self._connect(MlflowClient, self.uri, {**msg, "resume": False})

    def _connect(self, client_cls: Any, uri: str, msg: dict) -> None:
        self.client = client_cls(tracking_uri=uri)
        name = msg["experiment"]
        exp = self.client.get_experiment_by_name(name)
        self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(name)
        if msg.get("resume"):
            self._find_existing(msg["job_dir"])
        if not self.parent_id:
            run = self.client.create_run(self.experiment_id, run_name=msg.get("run_name"),
                                         tags={"tunestack.job_dir": msg["job_dir"], **msg.get("tags", {})})
            self.parent_id = run.info.run_id
            self._log_batch(self.parent_id, params=msg.get("params", {}))
        else:
            self.client.update_run(self.parent_id, status="RUNNING")

    def _find_existing(self, job_dir: str) -> None:
        quoted = job_dir.replace("'", "\\'")
        runs = self.client.search_runs([self.experiment_id], f"tags.`tunestack.job_dir` = '{quoted}'",
                                       max_results=1)
        if not runs:
            return
        self.parent_id = runs[0].info.run_id
        children = self.client.search_runs([self.experiment_id],
                                           f"tags.`mlflow.parentRunId` = '{self.parent_id}'",
                                           max_results=50000)
        for r in children:
            tid = r.data.tags.get("tunestack.trial_id")
            if tid:
                self.trials[tid] = _Trial(run_id=r.info.run_id, params_logged=True,
                                          closed=r.info.status != "RUNNING")

    # ---- events ----------------------------------------------------------------------------------
    def handle(self, msg: dict) -> None:
        op = msg["op"]
        if op == "trial_start":
            t = self.trials.setdefault(msg["trial"], _Trial())
            t.name = msg.get("name", msg["trial"])
            if not t.params_logged:
                t.params.update(msg.get("params", {}))
            t.tags.update(msg.get("tags", {}))
            t.end, t.closed = None, False
        elif op == "result":
            t = self.trials.setdefault(msg["trial"], _Trial())
            ts = int(msg.get("time", time.time()) * 1000)
            for k, v in msg["metrics"].items():
                t.metrics.append((k, v, int(msg.get("step", 0)), ts))
            t.tags.update(msg.get("tags", {}))
        elif op == "trial_end":
            t = self.trials.setdefault(msg["trial"], _Trial())
            t.tags.update(msg.get("tags", {}))
            ts = int(msg.get("time", time.time()) * 1000)
            for k, v in msg.get("metrics", {}).items():
                t.metrics.append((k, v, int(msg.get("step", 0)), ts))
            t.end = (msg["status"], ts)
        elif op == "trial_end_others":
            known = set(msg["known"])
            for tid, t in self.trials.items():
                if tid not in known and not t.closed and t.end is None:
                    t.tags.update(msg.get("tags", {}))
                    t.end = (msg["status"], int(msg.get("time", time.time()) * 1000))
        elif op == "parent_metrics":
            ts = int(time.time() * 1000)
            self.parent_metrics.extend((k, v, s, ts) for k, v, s in msg["metrics"])
        elif op == "artifacts":
            self.flush()
            run_id = self.parent_id if msg.get("run") in (None, "parent") else self._run_of(msg["run"])
            for path in msg["paths"]:
                if os.path.isdir(path):
                    self.client.log_artifacts(run_id, path, msg.get("artifact_path"))
                elif os.path.exists(path):
                    self.client.log_artifact(run_id, path, msg.get("artifact_path"))
        elif op == "end":
            self.flush()
            for t in self.trials.values():  # trials still open when the job ends (e.g. interrupted)
                if t.run_id and not t.closed:
                    self.client.set_terminated(t.run_id, status="KILLED")
            if msg.get("reason"):  # why the job ended so (an error)
                self.client.set_tag(self.parent_id, "tunestack.reason", str(msg["reason"])[:500])
            self.client.set_terminated(self.parent_id, status=msg.get("status", "FINISHED"))

    def _run_of(self, trial: str) -> str:
        t = self.trials.setdefault(trial, _Trial())
        if t.run_id is None:
            self.flush()
        return t.run_id or self.parent_id

    # ---- writing ---------------------------------------------------------------------------------
    def flush(self) -> None:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        for tid, t in self.trials.items():
            if t.run_id is None:
                run = self.client.create_run(self.experiment_id, run_name=t.name or tid,
                                             tags={MLFLOW_PARENT_RUN_ID: self.parent_id,
                                                   "tunestack.trial_id": tid})
                t.run_id = run.info.run_id
            if t.params or t.metrics or t.tags:
                self._log_batch(t.run_id, t.params, t.metrics, t.tags)
                t.params_logged = t.params_logged or bool(t.params)
                t.params, t.metrics, t.tags = {}, [], {}
            if t.end is not None:
                self.client.set_terminated(t.run_id, status=t.end[0], end_time=t.end[1])
                t.end, t.closed = None, True
        if self.parent_metrics:
            self._log_batch(self.parent_id, metrics=self.parent_metrics)
            self.parent_metrics = []

    def _log_batch(self, run_id: str, params: dict | None = None, metrics: list | None = None,
                   tags: dict | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        ps = [Param(self._name(k), str(v)[:MAX_PARAM_LEN]) for k, v in (params or {}).items()]
        ms = [Metric(self._name(k), float(v), ts, step) for k, v, step, ts in (metrics or [])]
        tg = [RunTag(str(k)[:250], str(v)[:MAX_PARAM_LEN]) for k, v in (tags or {}).items()]
        while ps or ms or tg:  # MLflow's batch limits: 100 params, 1000 metrics, 100 tags per call
            chunk = (ms[:1000], ps[:100], tg[:100])
            try:
                self.client.log_batch(run_id, metrics=chunk[0], params=chunk[1], tags=chunk[2])
            except Exception as e:  # noqa: BLE001
                if unreachable(e):
                    raise
                self._log_one_by_one(run_id, *chunk)  # the store refused something: keep the rest
            ps, ms, tg = ps[100:], ms[1000:], tg[100:]

    def _name(self, key: Any) -> str:
        name = mlflow_name(key)
        if name != str(key) and str(key) not in self.renamed:
            self.renamed.add(str(key))
            self.warn(f"MLflow does not accept the name {str(key)!r}: it is logged as {name!r}")
        return name

    def _log_one_by_one(self, run_id: str, metrics: list, params: list, tags: list) -> None:
        """After a refused batch: write each entry alone, skipping (and naming) those refused."""
        calls = [(f"metric {m.key!r}", lambda m=m: self.client.log_metric(run_id, m.key, m.value, m.timestamp,
                                                                            m.step)) for m in metrics]
        calls += [(f"parameter {p.key!r}", lambda p=p: self.client.log_param(run_id, p.key, p.value))
                  for p in params]
        calls += [(f"tag {t.key!r}", lambda t=t: self.client.set_tag(run_id, t.key, t.value)) for t in tags]
        for what, call in calls:
            try:
                call()
            except Exception as e:  # noqa: BLE001
                if unreachable(e):
                    raise
                self.warn(f"MLflow refused {what} ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                          "it is left out, the rest is logged")


_SQLITE_HOOKED = False
# closed at exit (the last close folds the WAL file back into the store); as many as the connections of
# MLflow's engines, which it caches per store URI
_SQLITE_CONNECTIONS: list = []


def _close_sqlite() -> None:
    for conn in _SQLITE_CONNECTIONS:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a connection of another thread or already closed
            pass


def _fast_sqlite_commits() -> None:
    """Write-ahead logging for SQLite stores: a commit no longer waits for the disk (fsync) each time,
    which is most of the cost of tracking many short trials, and the file stays safe against crashes
    (SQLite's WAL mode with synchronous=NORMAL).  Readers such as the MLflow UI work as before."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            _SQLITE_CONNECTIONS.append(dbapi_connection)
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    global _SQLITE_HOOKED
    if not _SQLITE_HOOKED:  # once per process: a writer serves one job after another
        event.listen(Engine, "connect", on_connect)
        _SQLITE_HOOKED = True


def fallback_uri(start: dict) -> str:
    return f"sqlite:///{os.path.join(start['job_dir'], 'mlflow.db')}"


def unreachable(e: Exception) -> bool:
    """An error of the connection to a tracking server (not one of a request the server refused)."""
    text = str(e)
    return ("API request to" in text and "failed with exception" in text) or \
        type(e).__name__ in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout")


class Job:
    """One job's writer, every message it was sent (so that the whole job can be written again), and
    the switch to the fallback store when the tracking server stops answering in the middle of it."""

    def __init__(self, start: dict) -> None:
        self.start, self.messages = start, []
        self.warned: set[str] = set()
        self.writer = Writer(warn=self._warn)
        self.writer.start(start)
        self.move_failed = False

    @property
    def can_move(self) -> bool:
        """A tracking server (not a local store) that the job has not moved away from yet."""
        return (self.writer.fallback is None and not self.move_failed
                and self.writer.uri.startswith(("http://", "https://")))

    def apply(self, fn: Any, msg: dict | None = None) -> None:
        if msg is not None and self.can_move:  # kept only while a move may still need them
            self.messages.append(msg)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - tracking trouble never stops the job; say what happened
            if self.can_move and unreachable(e):
                self._move(e)
            else:
                self._warn(f"MLflow tracking error: {type(e).__name__}: {str(e)[:300]}")

    def _move(self, error: Exception) -> None:
        """Write the whole job again, from its start, in the fallback store, and go on there."""
        old = self.writer.uri
        writer = Writer(warn=self._warn)
        try:
            writer.start_fallback(self.start)
            for m in self.messages:
                writer.handle(m)
            writer.flush()
        except Exception as e:  # noqa: BLE001
            self._warn(f"MLflow tracking error: {type(error).__name__}: {str(error)[:300]}; the fallback store "
                       f"failed too ({type(e).__name__}: {str(e)[:200]})")
            self.move_failed, self.messages = True, []
            return
        self.writer, self.messages = writer, []  # on the fallback now: nothing more to move
        _emit("moved", tracking_uri=writer.uri, experiment_id=writer.experiment_id,
              parent_run_id=writer.parent_id,
              message=f"MLflow tracking store {old!r} stopped answering during the job "
                      f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); the whole job, from "
                      f"its start, is now tracked in the fallback store {writer.uri!r}. Open it with: "
                      f"tunestack ui --tracking-uri {writer.uri}")

    def _warn(self, message: str) -> None:
        key = message[:120]
        if key not in self.warned:  # one warning per kind of error, not one per flush
            self.warned.add(key)
            _emit("warning", message=message)


def main() -> None:
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                lines.put(json.loads(line))
        lines.put({"op": "eof"})

    threading.Thread(target=read, daemon=True).start()
    job: Job | None = None
    last_flush = time.monotonic()
    while True:
        try:
            msg = lines.get(timeout=FLUSH_SECONDS)
        except queue.Empty:
            msg = None
        if job is not None and (msg is None or time.monotonic() - last_flush > FLUSH_SECONDS):
            job.apply(lambda: job.writer.flush())  # one write per trial per tick, however many results arrived
            last_flush = time.monotonic()
        if msg is None:
            continue
        if msg["op"] == "eof":
            if job is not None:
                job.apply(lambda: job.writer.flush())
            break
        if msg["op"] == "start":
            try:
                job = Job(msg)
            except Exception as e:  # noqa: BLE001
                _emit("failed", message=f"{type(e).__name__}: {e}")
                return
            continue
        if job is None:
            continue
        job.apply(lambda: job.writer.handle(msg), msg)
        if msg["op"] == "end":
            _emit("done")
            job = None  # idle until the driver's next job (or EOF)
    _emit("exit")
    # every write is committed by now; skip the interpreter's teardown of MLflow's modules and pools
    # (about a second, which the job would wait for)
    _close_sqlite()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
