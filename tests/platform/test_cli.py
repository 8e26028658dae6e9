"""The ``tunestack`` command line: ``run`` a @tunable function from a file, ``ui`` on the store in use."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.platform.helpers import runs_of

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "tunestack.platform.cli"]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.fixture()
def job_file(tmp_path) -> Path:
    path = tmp_path / "my_job.py"
    path.write_text(textwrap.dedent("""
        from ray import tune
        import tunestack as ts

        @ts.tunable(space={"x": tune.uniform(-1, 1)}, metric="loss")
        def fit(config):
            for step in range(2):
                ts.report(loss=config["x"] ** 2 + step)

        def not_tunable(config):
            return 1.0
    """))
    return path


@pytest.mark.ray
@pytest.mark.slow
def test_run_a_function_from_a_file(job_file, tmp_path):
    uri = f"sqlite:///{tmp_path}/cli.db"
    proc = subprocess.run(CLI + ["run", f"{job_file}:fit", "--num-samples", "3", "--seed", "0", "--name",
                                 "from-cli", "--storage-path", str(tmp_path / "runs"), "--tracking-uri", uri,
                                 "--searcher", "tpe", "--searcher-kwargs", '{"n_startup": 2}',
                                 "--time-budget-s", "300"],
                          capture_output=True, text=True, timeout=600, env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tunestack: 3 trials" in proc.stdout and "best loss" in proc.stdout
    assert "tunestack ui --tracking-uri" in proc.stdout
    _, parent, children = runs_of(uri, "from-cli")
    assert len(children) == 3


@pytest.mark.parametrize("target,message", [
    ("{file}:not_tunable", "is not decorated with @tunestack.tunable"),
    ("{file}:missing", "has no attribute 'missing'"),
    ("/no/such/file.py:fit", "no such file"),
    ("{file}", "expected path/to/file.py:function"),
])
def test_bad_targets_get_a_clear_message(job_file, target, message):
    proc = subprocess.run(CLI + ["run", target.format(file=job_file)], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_user_errors_exit_without_a_traceback(job_file, tmp_path):
    proc = subprocess.run(CLI + ["run", f"{job_file}:fit", "--scheduler", "asha", "--no-tracking",
                                 "--storage-path", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.returncode == 2
    assert "TuneError" in proc.stderr and "max_budget" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("extra,message", [
    (["--scheduler-kwargs", '{"optimum": 1}'], "scheduler 'asha' has no option 'optimum'"),
    (["--searcher", "tpe", "--searcher-kwargs", '{"n_startp": 3}'],
     "searcher 'tpe' has no option 'n_startp'"),
    (["--scheduler-kwargs", "{promotion: false}"], "--scheduler-kwargs: not JSON"),
    (["--searcher-kwargs", "[1, 2]"], "expected a JSON object of options"),
])
def test_option_flags_are_checked_before_anything_runs(job_file, tmp_path, extra, message):
    proc = subprocess.run(CLI + ["run", f"{job_file}:fit", "--scheduler", "asha", "--max-budget", "2",
                                 "--no-tracking", "--storage-path", str(tmp_path)] + extra,
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_takes_the_functions_own_defaults_for_what_it_is_not_given(tmp_path, monkeypatch):
    # the command line passed its own defaults (num_samples 20, 1 CPU ...) over the function's @tunable ones
    import types

    from tunestack.platform import cli, runner

    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import tunestack as ts
        from ray import tune

        @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", num_samples=3, scheduler="asha",
                    max_budget=9, resources={"cpu": 2, "gpu": 1})
        def train(config):
            return config["x"]
    """))
    specs = []
    monkeypatch.setattr(runner, "run_job", lambda fn, space, spec, **kw: specs.append(spec)
                        or types.SimpleNamespace(best_value=0.5))
    assert cli.main(["run", f"{script}:train"]) == 0
    assert cli.main(["run", f"{script}:train", "--num-samples", "5", "--cpus-per-trial", "4", "--no-tracking"]) == 0
    (own, given) = specs
    assert (own.num_samples, own.scheduler, own.max_budget, own.resources, own.tracking) == (
        3, "asha", 9, {"cpu": 2, "gpu": 1}, True)
    assert (given.num_samples, given.scheduler, given.resources, given.tracking) == (
        5, "asha", {"cpu": 4, "gpu": 1}, False)


def test_ui_on_a_tracking_server_or_a_file_store(monkeypatch, capsys, tmp_path):
    from tunestack.platform import cli

    # a tracking server serves its own UI (`mlflow ui` on it failed with a traceback)
    assert cli.main(["ui", "--tracking-uri", "http://mlflow-host:5000"]) == 0
    assert "http://mlflow-host:5000 is an MLflow tracking server, which serves its own UI" in capsys.readouterr().out
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert cli.main(["ui", "--tracking-uri", "/data/mlruns", "--port", "5001"]) == 0
    (cmd, env), = calls
    assert cmd[-6:] == ["--backend-store-uri", "/data/mlruns", "--host", "127.0.0.1", "--port", "5001"]
    assert env["MLFLOW_ALLOW_FILE_STORE"] == "true"  # MLflow >= 3.7 refused to open an existing ./mlruns
    # a file store that is not there (a typo) opened an empty UI without a word
    assert "no MLflow store at /data/mlruns yet" in capsys.readouterr().err
    (tmp_path / "mlruns").mkdir()
    for uri in (str(tmp_path / "mlruns"), f"file://{tmp_path}/mlruns"):
        assert cli.main(["ui", "--tracking-uri", uri]) == 0
        assert "no MLflow store" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["ui", "--port", "99999"])
    assert "port must be in 1..65535" in capsys.readouterr().err


def test_ui_serves_the_store_in_use(tmp_path):
    port = _free_port()
    env = dict(_env(), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/ui.db")
    proc = subprocess.Popen(CLI + ["ui", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first and f"sqlite:///{tmp_path}/ui.db" in first
        # no store there yet: the UI starts, and says why it will be empty
        assert f"no MLflow store at {tmp_path}/ui.db yet" in proc.stderr.readline()
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, "the MLflow UI exited"
                assert time.time() < deadline, "the MLflow UI did not come up"
                time.sleep(0.5)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
