"""MLflow tracking when the tracking server stops answering in the middle of a job."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.platform.helpers import runs_of
from tunestack.platform.tracking import TrackingClient

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(tmp_path, port: int) -> subprocess.Popen:
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    proc = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc
        except OSError:
            assert proc.poll() is None and time.time() < deadline, "the MLflow server did not start"
            time.sleep(0.5)


def test_a_server_lost_mid_job_moves_the_whole_job_to_the_fallback_store(tmp_path):
    port = _free_port()
    server = _server(tmp_path, port)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    uri = f"http://127.0.0.1:{port}"
    try:
        client = TrackingClient("lost-server", str(job_dir), tracking_uri=uri, params={"searcher": "tpe"})
        assert client.wait_ready()["tracking_uri"] == uri
        for t in ("a", "b"):
            client.send("trial_start", trial=t, name=t, params={"lr": 0.1}, tags={})
            for step in range(1, 4):
                client.send("result", trial=t, metrics={"loss": 1.0 / step}, step=step, time=time.time())
        client.end_trial("a", "completed", 3)
        time.sleep(2)  # written to the server
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    for step in range(4, 7):  # the server is gone: these go nowhere until the writer moves
        client.send("result", trial="b", metrics={"loss": 1.0 / step}, step=step, time=time.time())
    client.end_trial("b", "stopped early: test", 6)
    client.send("parent_metrics", metrics=[["best_value", 1 / 3, 1]])
    client.close()

    fallback = f"sqlite:///{job_dir / 'mlflow.db'}"
    assert client.info["tracking_uri"] == fallback
    moved = [w for w in client.warnings if "stopped answering" in w]
    assert len(moved) == 1 and fallback in moved[0], client.warnings
    assert len(client.warnings) == 1, client.warnings  # not one warning per failed flush
    # the fallback store holds the whole job, from its start, as if it had been tracked there
    mlflow_client, parent, children = runs_of(fallback, "lost-server")
    assert parent.info.run_id == client.info["parent_run_id"] and parent.info.status == "FINISHED"
    assert parent.data.params["searcher"] == "tpe" and parent.data.metrics["best_value"] == pytest.approx(1 / 3)
    by_trial = {c.data.tags["tunestack.trial_id"]: c for c in children}
    assert set(by_trial) == {"a", "b"}
    assert by_trial["a"].info.status == "FINISHED" and by_trial["b"].info.status == "KILLED"
    for t, n in (("a", 3), ("b", 6)):
        history = mlflow_client.get_metric_history(by_trial[t].info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(1, n + 1)), t
        assert by_trial[t].data.params["lr"] == "0.1"


def test_names_mlflow_refuses_are_renamed_and_a_refused_entry_loses_nothing_else(tmp_path):
    from tunestack.platform.tracking_worker import mlflow_name

    assert mlflow_name("acc@1") == "acc_1" and mlflow_name("opt/lr") == "opt/lr"
    assert mlflow_name("a//b") == "a__b" and mlflow_name("/x") == "_x" and mlflow_name("") == "_"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = TrackingClient("odd-names", str(tmp_path), tracking_uri=uri, params={"weird key!": 1})
    # "a@1" and "a#1" both become "a_1": MLflow refuses the batch (one parameter, two values)
    client.send("trial_start", trial="t", name="t", params={"lr": 0.1, "a@1": 1, "a#1": 2}, tags={})
    for step in (1, 2):
        client.send("result", trial="t", metrics={"loss": 1.0 / step, "acc@1": 0.5 * step}, step=step,
                    time=time.time())
    client.end_trial("t", "completed", 2)
    client.close()
    mlflow_client, parent, children = runs_of(uri, "odd-names")
    assert parent.info.status == "FINISHED" and parent.data.params["weird key_"] == "1"
    (child,) = children
    assert child.info.status == "FINISHED"  # a refused batch stopped every later write before
    assert child.data.params["lr"] == "0.1" and child.data.params["a_1"] in ("1", "2")
    for name, values in (("loss", [1.0, 0.5]), ("acc_1", [0.5, 1.0])):
        hist = sorted(mlflow_client.get_metric_history(child.info.run_id, name), key=lambda m: m.step)
        assert [m.value for m in hist] == values, name
    assert any("'acc@1': it is logged as 'acc_1'" in w for w in client.warnings), client.warnings
    assert any("MLflow refused parameter 'a_1'" in w for w in client.warnings), client.warnings


def test_a_dict_of_metrics_is_logged_under_its_path():
    from tunestack.platform.tracking import user_metrics

    result = {"loss": 1, "per_class": {"cat": 0.9, "dog": {"top1": 0.5}, "name": "x"}, "flag": True,
              "config": {"lr": 0.1}, "training_iteration": 3, "time_this_iter_s": 0.2}
    assert user_metrics(result) == {"loss": 1.0, "per_class/cat": 0.9, "per_class/dog/top1": 0.5}
