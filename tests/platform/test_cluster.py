"""Multi-node (ray.cluster_utils.Cluster on this machine) and a real MLflow tracking server."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ray import tune

import tunestack as ts
from tests.platform.helpers import runs_of

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ROOT = Path(__file__).parents[2]


def test_trials_land_on_both_worker_nodes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "scripts" / "multinode_job.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("SUMMARY "))[8:])
    assert summary["statuses"] == ["completed"] * 6
    assert set(summary["nodes"]) == set(summary["workers"]), "trials did not run on both worker nodes"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    store = tmp_path_factory.mktemp("server")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                             str(port), "--backend-store-uri", f"sqlite:///{store}/server.db",
                             "--default-artifact-root", str(store / "artifacts"), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            break
        except OSError:
            assert proc.poll() is None, "mlflow server exited"
            time.sleep(0.5)
    else:
        pytest.fail("mlflow server did not come up")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_job_against_a_tracking_server(ray_local, mlflow_server, tmp_path):
    @ts.tunable(space={"x": tune.uniform(-1, 1)}, metric="loss")
    def quad(config):
        for step in range(3):
            ts.report(loss=config["x"] ** 2 + 1 / (step + 1))

    result = quad.tune(num_samples=4, seed=0, name="served", storage_path=str(tmp_path),
                       tracking_uri=mlflow_server, verbose=0)
    assert result.tracking_uri == mlflow_server and not result.warnings
    client, parent, children = runs_of(mlflow_server, "served")
    assert len(children) == 4 and parent.info.status == "FINISHED"
    for c in children:
        assert len(client.get_metric_history(c.info.run_id, "loss")) == 3
    assert "best_config.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
