"""End to end on a real local Ray and a real MLflow store: decorator, runner, tracking, bad input."""
from __future__ import annotations

import math
import os
import time

import pytest
from ray import tune

import tunestack as ts
from tests.platform.helpers import runs_of
from tunestack.space import SpaceError

pytestmark = pytest.mark.ray

SPACE = {"x": tune.uniform(-1.0, 1.0), "opt": {"kind": tune.choice(["a", "b"]), "epochs": 3}}


@ts.tunable(space=SPACE, metric="loss", mode="min")
def quadratic(config):
    start = 0
    ckpt = ts.load_checkpoint()
    if ckpt is not None:
        start = ckpt["epoch"] + 1
    for epoch in range(start, config["opt"]["epochs"]):
        loss = config["x"] ** 2 + (0.5 if config["opt"]["kind"] == "b" else 0.0) + 1.0 / (epoch + 1)
        ts.report(loss=loss, acc=1.0 - loss / 3, checkpoint={"epoch": epoch})


def test_plain_call_still_runs():
    assert quadratic({"x": 0.5, "opt": {"kind": "a", "epochs": 2}}) is None
    assert [r["loss"] for r in quadratic.last_reports] == pytest.approx([1.25, 0.75])
    assert ts.load_checkpoint() is None
    quadratic()  # the space's default configuration
    assert len(quadratic.last_reports) == 3


def test_tune_tracks_every_trial_in_mlflow(ray_local, mlflow_uri, tmp_path):
    result = quadratic.tune(searcher="random", num_samples=6, seed=0, name="e2e",
                            storage_path=str(tmp_path), tracking_uri=mlflow_uri, verbose=0)
    table = result.table
    assert len(table) == 6 and set(table["status"]) == {"completed"}
    assert (table["budget"] == 3).all()
    assert result.best_value == pytest.approx(table["value"].min())
    best_row = table.loc[table["value"].idxmin()]
    assert result.best_config["x"] == pytest.approx(best_row["config/x"])
    assert result.best_config["opt"]["epochs"] == 3  # constants restored, nested
    # the value is the final reported one: x^2 + kind + 1/3
    x, kind = result.best_config["x"], result.best_config["opt"]["kind"]
    assert result.best_value == pytest.approx(x ** 2 + (0.5 if kind == "b" else 0) + 1 / 3)
    # the searcher received every result
    assert sum(1 for r in result.coordinator.searcher.trials.values() if r.results) == 6

    client, parent, children = runs_of(mlflow_uri, "e2e")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["searcher"] == "random" and parent.data.params["metric"] == "loss"
    assert len(children) == 6
    for child in children:
        assert child.info.status == "FINISHED"
        assert set(child.data.params) >= {"x", "opt/kind", "opt/epochs"}
        hist = client.get_metric_history(child.info.run_id, "loss")
        assert [m.step for m in sorted(hist, key=lambda m: m.step)] == [1, 2, 3]
        assert child.data.tags["tunestack.status"] == "completed"
        assert child.data.metrics["budget_reached"] == 3
    best_hist = client.get_metric_history(parent.info.run_id, "best_value")
    assert len(best_hist) == 6
    assert min(m.value for m in best_hist) == pytest.approx(result.best_value)
    assert [m.value for m in sorted(best_hist, key=lambda m: m.step)] == sorted(
        [m.value for m in best_hist], reverse=True)  # best so far never gets worse
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"space.json", "best_config.json", "results.csv", "best_value.png"} <= artifacts
    assert "best_checkpoint" in artifacts
    assert result.tracking_uri == mlflow_uri
    # the best trial's last checkpoint, loaded back as it reported it (its format was tunestack's own)
    assert ts.load_checkpoint(result.best_checkpoint) == {"epoch": 2}
    with pytest.raises(FileNotFoundError, match="no checkpoint directory at"):
        ts.load_checkpoint(tmp_path / "nothing")


def test_trial_errors_nan_and_wrong_metric_are_kept_apart(ray_local, mlflow_uri, tmp_path, caplog):
    @ts.tunable(space={"x": tune.uniform(-1, 1)}, metric="loss")
    def flaky(config):
        x = config["x"]
        if x > 0.4:
            raise ValueError(f"x too large: {x:.2f}")
        if x < -0.6:
            ts.report(loss=float("nan") if x < -0.8 else float("inf"))
            return
        if -0.6 <= x < -0.3:
            ts.report(lss=1.0)  # a typo in the metric name
        ts.report(loss=x ** 2)

    result = flaky.tune(searcher="random", num_samples=16, seed=3, name="bad-input",
                        storage_path=str(tmp_path), tracking_uri=mlflow_uri, verbose=0)
    t = result.table
    xs = t["config/x"]
    ok = t[(xs >= -0.3) & (xs <= 0.4)]
    assert len(ok) > 0 and (ok["status"] == "completed").all()
    raised = t[xs > 0.4]
    assert len(raised) > 0 and raised["status"].str.startswith("failed").all()
    assert raised["error"].str.contains("ValueError: x too large").all()
    typo = t[(xs >= -0.6) & (xs < -0.3)]
    assert len(typo) > 0
    assert typo["error"].str.contains("MetricError: report\\(\\) got metrics \\['lss'\\]").all()
    nan = t[xs < -0.6]
    assert len(nan) > 0 and nan["status"].str.startswith("failed").all()
    # the summary says it once; Ray's TensorBoard logger printed "NaN or Inf found" for each inf result
    assert ((xs >= -0.8) & (xs < -0.6)).any(), "the seed should give an inf result"
    assert not [r for r in caplog.records if "NaN or Inf" in r.getMessage()]
    assert result.best_value == pytest.approx(ok["value"].min())
    # failures reach the searcher as failures, not as values
    failed_in_searcher = [r for r in result.coordinator.searcher.trials.values() if r.failed]
    assert len(failed_in_searcher) == len(t) - len(ok)
    client, parent, children = runs_of(mlflow_uri, "bad-input")
    statuses = {c.data.tags["tunestack.trial_id"]: c.info.status for c in children}
    assert len(children) == 16
    for _, row in t.iterrows():
        assert statuses[row["trial_id"]] == ("FINISHED" if row["status"] == "completed" else "FAILED")
    reasons = [c.data.tags.get("tunestack.reason", "") for c in children]
    assert any("ValueError: x too large" in r for r in reasons)


def test_function_returning_its_value(ray_local, tmp_path):
    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="score", mode="max")
    def score(config):
        return 1 - (config["x"] - 0.7) ** 2

    result = score.tune(num_samples=5, seed=1, storage_path=str(tmp_path), tracking=False, verbose=0)
    assert result.best_value == pytest.approx(result.table["value"].max())
    assert (result.table["status"] == "completed").all()


def test_a_function_reporting_to_ray_tune_itself_completes(ray_local, tmp_path):
    # Ray Tune code (ray.tune.report) under @tunable: its trials ran and reported, and each one that
    # returned failed with "the function returned without reporting 'loss'"
    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
    def ray_code(config):
        for i in range(3):
            tune.report({"loss": config["x"] + 1 / (i + 1)})

    result = ray_code.tune(num_samples=3, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "completed").all(), result.table.to_dict("records")
    assert (result.table["budget"] == 3).all()
    assert result.best_value == pytest.approx(result.best_config["x"] + 1 / 3)

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
    def silent(config):  # neither reports nor returns: still failed, saying so
        pass

    quiet = silent.tune(num_samples=1, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    assert quiet.table["error"].str.contains("returned without reporting 'loss'").all()


def test_a_function_capturing_a_large_array_runs(ray_local, tmp_path):
    # Ray refuses a trial definition over 95 MiB: the function travels through the object store instead
    import numpy as np

    data = np.arange(13 * 2**20, dtype=np.float64)  # 104 MiB

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
    def fit(config):
        return config["x"] + float(data[-1])

    result = fit.tune(num_samples=3, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "completed").all()
    assert result.best_value == pytest.approx(result.best_config["x"] + 13 * 2**20 - 1)


def test_a_function_that_cannot_take_a_config_is_refused_at_decoration():
    # it failed every trial with "missing 1 required positional argument"
    with pytest.raises(TypeError, match=r"each trial calls train\(config\).*'data'"):
        @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
        def train(config, data):
            return config["x"]
    with pytest.raises(TypeError, match=r"each trial calls train\(config\)"):
        @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
        def train():
            return 0.0

    class Trainer:
        k = 2.0

        def train(self, config):
            return config["x"] * self.k

    with pytest.raises(TypeError, match=r"for a method .* wrap the bound one: .*\(obj\.train\)"):
        ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")(Trainer.train)
    assert ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")(Trainer().train)({"x": 0.25}) == 0.5

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
    def fine(config, data=None, *args, **kwargs):
        return config["x"]

    assert fine({"x": 0.25}) == 0.25


def test_options_given_to_the_decorator_are_the_functions_tune_defaults(monkeypatch):
    # they were taken and ignored (but for max_budget and resources): num_samples=3 ran 20 trials, and a
    # misspelt option passed without a word
    from tunestack.platform import runner

    jobs = []
    monkeypatch.setattr(runner, "run_job", lambda fn, space, spec, **kw: jobs.append((spec, kw)))

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", num_samples=3, searcher="tpe",
                scheduler="asha", max_budget=9, seed=4, verbose=0)
    def train(config):
        return config["x"]

    train.tune()
    train.tune(num_samples=5, scheduler=None)  # a call's own options win
    (first, kw), (second, _) = jobs
    assert (first.num_samples, first.searcher, first.scheduler, first.max_budget, first.seed) == (3, "tpe", "asha", 9, 4)
    assert kw["verbose"] == 0 and (second.num_samples, second.scheduler, second.searcher) == (5, None, "tpe")
    with pytest.raises(TypeError, match=r"@tunable got unknown option\(s\) \['num_sample'\]; the options"):
        ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", num_sample=8)(lambda config: 0.0)
    with pytest.raises(TypeError, match=r"tune\(\) got unknown option\(s\) \['max_budgets'\]"):
        train.tune(max_budgets=9)
    train.tune("random", "hyperband", 7)  # positionally, in the order of the options
    assert (jobs[-1][0].searcher, jobs[-1][0].scheduler, jobs[-1][0].num_samples) == ("random", "hyperband", 7)
    with pytest.raises(TypeError, match=r"multiple values for \['searcher'\]"):
        train.tune("random", searcher="tpe")


def test_unsupported_space_is_refused_at_decoration():
    with pytest.raises(SpaceError, match="'b'.*sample_from"):
        ts.tunable(space={"a": tune.uniform(0, 1), "b": tune.sample_from(lambda s: 1)}, metric="m")(
            lambda c: None)


def test_bad_options_are_refused_before_ray_starts(tmp_path):
    with pytest.raises(ts.TuneError, match="num_samples"):
        quadratic.tune(num_samples=0, storage_path=str(tmp_path), tracking=False)
    from tunestack.searchers import SearcherError

    with pytest.raises(SearcherError, match="unknown searcher 'nope'"):
        quadratic.tune(searcher="nope", storage_path=str(tmp_path), tracking=False)
    # these ran: every trial stopped before its first result; numpy's "expected non-negative integer";
    # 2 trials
    for kwargs, match in (({"time_budget_s": 0}, "time_budget_s must be > 0"),
                          ({"num_samples": 2.5}, "num_samples must be a whole number")):
        with pytest.raises(ts.TuneError, match=match):
            quadratic.tune(storage_path=str(tmp_path), tracking=False, **kwargs)
    with pytest.raises(SearcherError, match="seed must be a whole number >= 0 or None, got -1"):
        quadratic.tune(seed=-1, storage_path=str(tmp_path), tracking=False)
    from tunestack.platform.runner import JobSpec

    JobSpec(metric="loss", num_samples=4.0).check()  # a whole number
    # a searcher object ran, but the job file saved its repr and the job never resumed; "9" failed in a
    # comparison with a float, and scheduler=5 was said to need max_budget
    from tunestack.searchers import create

    for kwargs, match in (({"searcher": create("tpe", {"x": tune.uniform(0, 1)})}, "searcher must be a name"),
                          ({"scheduler": 5}, "scheduler must be a name .* got int"),
                          ({"scheduler": "asha", "max_budget": "9"}, "max_budget must be a number, got '9'"),
                          ({"eta": None}, "eta must be a number")):
        with pytest.raises(ts.TuneError, match=match):
            JobSpec(metric="loss", **kwargs).check()
    # budgets the schedulers refuse are refused without one too (they were taken and ignored)
    for kwargs, match in (({"max_budget": -3}, r"max_budget must be >= min_budget \(1.0\)"),
                          ({"min_budget": 5, "max_budget": 2}, r"max_budget must be >= min_budget \(5\)"),
                          ({"max_budget": math.inf}, "and finite"),
                          ({"min_budget": 0}, "min_budget must be > 0"), ({"eta": 1}, "eta must be > 1")):
        with pytest.raises(ts.TuneError, match=match):
            JobSpec(metric="loss", **kwargs).check()
    # Ray failed on these with "Cannot initialize a ResourceRequest with an empty head ..."
    for resources in ({"cpu": 0}, {"cpu": -1}, {"cpu": 1, "custom": {"tpu": -1}}):
        with pytest.raises(ts.TuneError, match=r"must ask for some resource|must be >= 0"):
            quadratic.tune(resources=resources, storage_path=str(tmp_path), tracking=False)


def test_trials_no_node_can_hold_are_refused_on_a_local_ray(ray_local, tmp_path):
    """They waited for a node forever (Ray's autoscaler only printed that none fits).  On a Ray that
    tunestack started there is no autoscaler: refused; on a cluster joined, a warning."""
    import subprocess
    import sys

    from tunestack.platform import cluster

    assert cluster.unplaceable({"cpu": 1.0}) is None
    assert cluster.unplaceable({"cpu": 0.5, "gpu": 1.0}) is None  # the shared Ray has logical GPUs
    assert cluster.unplaceable({"cpu": 64.0}) == ("a trial asks for CPU 64, more than any node of this Ray "
                                                  "cluster has (node: CPU 4)")
    assert "tpu 0" in cluster.unplaceable({"cpu": 1.0, "tpu": 1.0})
    code = ("import tunestack as ts\n"
            "from ray import tune\n"
            "f = ts.tunable(space={'x': tune.uniform(0, 1)}, metric='loss')(lambda config: config['x'])\n"
            "for n in range(2):  # the second job finds the Ray the first one started\n"
            "    try:\n"
            f"        f.tune(num_samples=1, resources={{'cpu': 64}}, storage_path={str(tmp_path)!r}, "
            "tracking=False)\n"
            "    except ts.TuneError as e:\n"
            "        print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "RAY_ADDRESS": ""})
    assert out.stdout.count("refused: a trial asks for CPU 64, more than any node") == 2, out.stderr[-3000:]


def test_a_resume_with_another_functions_metric_or_mode_is_refused(tmp_path):
    # the saved job's metric goes on: another function's trials all failed (or, on a restart, its values
    # were ranked the wrong way round); a restore refused it only through Ray's "Invalid `trainable`"
    import dataclasses
    import json

    from tunestack.platform.runner import JOB_FILE, JobSpec

    job = tmp_path / "job"
    job.mkdir()
    (job / JOB_FILE).write_text(json.dumps(dataclasses.asdict(JobSpec(metric="loss", name="job"))))

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="acc", mode="max")
    def other(config):
        return config["x"]

    with pytest.raises(ts.TuneError, match=r"run by another function: this one has metric='acc' \(the job's: "
                                           r"'loss'\), mode='max' \(the job's: 'min'\)"):
        other.resume(str(job))
    with pytest.raises(ts.TuneError, match=r"budget='epoch' \(the job's: 'training_iteration'\)"):
        ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", budget="epoch")(other.fn).resume(str(job))


def test_num_samples_below_one_is_refused_unless_minus_one():
    from tunestack.platform.runner import JobSpec

    JobSpec(metric="loss", num_samples=-1).check()
    for bad in (0, -2):
        with pytest.raises(ts.TuneError, match="num_samples must be >= 1, or -1"):
            JobSpec(metric="loss", num_samples=bad).check()


def test_unreachable_tracking_server_falls_back_and_keeps_everything(ray_local, tmp_path):
    result = quadratic.tune(num_samples=3, seed=0, name="unreachable", storage_path=str(tmp_path),
                            tracking_uri="http://127.0.0.1:9", verbose=0)
    assert len(result.table) == 3 and (result.table["status"] == "completed").all()
    assert any("not reachable" in w for w in result.warnings)
    fallback = f"sqlite:///{os.path.join(result.path, 'mlflow.db')}"
    assert result.tracking_uri == fallback
    _, parent, children = runs_of(fallback, "unreachable")
    assert len(children) == 3
    # a file store: MLflow >= 3.7 refuses it ("maintenance mode"), which read as "not reachable"
    files = quadratic.tune(num_samples=2, seed=0, name="filestore", storage_path=str(tmp_path),
                           tracking_uri=str(tmp_path / "mlruns"), verbose=0)
    if files.tracking_uri != str(tmp_path / "mlruns"):  # refused: the warning says why and how to allow it
        assert any("is a file store, which MLflow refuses unless MLFLOW_ALLOW_FILE_STORE=true" in w
                   for w in files.warnings), files.warnings
    assert len(runs_of(files.tracking_uri, "filestore")[2]) == 2


def _barrier_job(barrier, n: int):
    """Trials that each wait until ``n`` trials have started: they pass only if n run at once."""

    @ts.tunable(space={"x": tune.uniform(0, 1), "barrier": str(barrier), "n": n}, metric="t")
    def gpu_job(config):
        import pathlib
        import time

        dev = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
        (pathlib.Path(config["barrier"]) / f"{os.getpid()}-{time.time()}").write_text(dev)
        deadline = time.time() + 300  # generous: starting a worker on a loaded 2-core machine is slow
        while len(list(pathlib.Path(config["barrier"]).iterdir())) < config["n"]:
            if time.time() > deadline:
                raise TimeoutError("the GPU trials did not all run at the same time")
            time.sleep(0.05)
        ts.report(t=1.0)

    return gpu_job


def _wait_for_free_resources(ray, cpu: float, gpu: float, timeout: float = 180.0) -> None:
    """The barrier tests need these resources free in the shared Ray: wait for earlier tests' actors
    to exit; if they do not, fail naming what still holds the Ray (live actors, placement groups)."""
    deadline = time.time() + timeout
    while True:
        free = ray.available_resources()
        if free.get("CPU", 0) >= cpu and free.get("GPU", 0) >= gpu:
            return
        if time.time() > deadline:
            from ray._private import state
            from ray.util import placement_group_table

            actors = [(a.get("ActorClassName"), a.get("Pid"), a.get("State")) for a in state.actors().values()
                      if a.get("State") != "DEAD"]
            groups = [(g.get("strategy"), g.get("state"), g.get("bundles")) for g in placement_group_table().values()
                      if g.get("state") != "REMOVED"]
            raise AssertionError(f"the shared Ray is still busy after {timeout:.0f} s: free {free}; "
                                 f"live actors {actors}; placement groups {groups}")
        time.sleep(0.5)


def _starts(barrier) -> str:
    """When each trial reached the barrier, in seconds after the first, with the device it saw."""
    marks = sorted((float(p.name.split("-", 1)[1]), p.read_text()) for p in barrier.iterdir())
    return ", ".join(f"+{t - marks[0][0]:.1f}s on {dev}" for t, dev in marks)


def test_gpu_trials_get_their_own_device(ray_local, tmp_path):
    barrier = tmp_path / "four"
    barrier.mkdir()
    _wait_for_free_resources(ray_local, cpu=2, gpu=4)
    # half a CPU per trial: a leftover actor of an earlier test holding one CPU cannot block the four
    result = _barrier_job(barrier, 4).tune(num_samples=4, resources={"cpu": 0.5, "gpu": 1}, seed=0,
                                           storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "completed").all(), (result.table.get("error"), _starts(barrier))
    assert sorted(p.read_text() for p in barrier.iterdir()) == ["0", "1", "2", "3"]


def test_fractional_gpus_share_a_device(ray_local, tmp_path):
    barrier = tmp_path / "two"
    barrier.mkdir()
    _wait_for_free_resources(ray_local, cpu=1, gpu=1)
    result = _barrier_job(barrier, 2).tune(num_samples=2, resources={"cpu": 0.5, "gpu": 0.5}, seed=1,
                                           storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "completed").all(), (result.table.get("error"), _starts(barrier))
    devs = [p.read_text() for p in barrier.iterdir()]
    assert len(devs) == 2 and devs[0] == devs[1] and devs[0] in {"0", "1", "2", "3"}


def _reported(job_dir: str) -> list[dict]:
    import json

    out = []
    for d in os.listdir(job_dir):
        path = os.path.join(job_dir, d, "result.json")
        if os.path.exists(path):
            with open(path) as f:
                out.extend(json.loads(line) for line in f if line.strip())
    return out


def test_max_concurrent_is_respected(ray_local, tmp_path):
    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="t")
    def slow(config):
        import time

        start = time.time()
        time.sleep(0.5)
        ts.report(t=start, end=time.time())

    result = slow.tune(num_samples=4, max_concurrent=1, storage_path=str(tmp_path), tracking=False,
                       verbose=0, seed=0)
    spans = sorted((r["t"], r["end"]) for r in _reported(result.path))
    assert len(spans) == 4
    assert all(a[1] <= b[0] + 0.05 for a, b in zip(spans, spans[1:])), "trials overlapped"
    assert not math.isnan(result.best_value)


def test_a_driver_reuses_its_mlflow_writer_for_the_next_job(ray_local, tmp_path):
    from tunestack.platform import tracking

    tracking.stop_idle_writers(timeout=30)
    uris = [f"sqlite:///{tmp_path}/first.db", f"sqlite:///{tmp_path}/second.db"]
    pids = []
    for i, uri in enumerate(uris):
        quadratic.tune(searcher="random", num_samples=2, seed=i, name=f"reuse{i}", storage_path=str(tmp_path),
                       tracking_uri=uri, verbose=0)
        assert len(tracking._IDLE_WRITERS) == 1, "the writer was not kept for the next job"
        pids.append(tracking._IDLE_WRITERS[0].proc.pid)
    assert pids[0] == pids[1], "the second job started a writer of its own"
    for i, uri in enumerate(uris):  # each job landed in its own store, complete
        _, parent, children = runs_of(uri, f"reuse{i}")
        assert parent.info.status == "FINISHED" and len(children) == 2
        assert all(c.info.status == "FINISHED" for c in children)



@pytest.mark.parametrize("searcher", [None, "tpe", "random"])
def test_a_preset_gives_its_searcher_settings_unless_another_searcher_is_named(searcher):
    """`scheduler="bohb"` alone or with `searcher="tpe"` (the README's example) is BOHB's TPE with the
    preset's settings; another searcher replaces it with that searcher's defaults; the user's
    searcher_kwargs win over the preset's."""
    from tests import spaces
    from tunestack.platform.runner import JobSpec, _resolve_algorithms
    from tunestack.schedulers import presets
    from tunestack.searchers.tpe import TPESearcher
    from tunestack.space import SearchSpace

    space = SearchSpace(spaces.continuous())
    clip = presets.PRESETS["bohb"].searcher_kwargs["magic_clip"]
    s, sched = _resolve_algorithms(JobSpec(metric="loss", searcher=searcher, scheduler="bohb", max_budget=9), space)
    assert sched.name == "hyperband"
    if searcher == "random":
        assert s.name == "random"
        return
    assert s.name == "tpe" and s.config.magic_clip == clip != TPESearcher(space).config.magic_clip
    spec = JobSpec(metric="loss", searcher=searcher, scheduler="bohb", max_budget=9,
                   searcher_kwargs={"n_startup": 4, "magic_clip": 0.8})
    s, _ = _resolve_algorithms(spec, space)
    assert s.n_startup == 4 and s.config.magic_clip == 0.8 and s.config.multivariate


def test_summary_says_when_the_best_value_is_below_max_budget(capsys):
    import pandas as pd

    from tunestack.platform.results import TuneResult, print_summary

    table = pd.DataFrame({"trial_id": ["a", "b"], "value": [0.3, 0.5], "budget": [9.0, 3.0],
                          "status": ["stopped: time_budget_s=8 reached", "stopped early"]})
    cut = TuneResult({"x": 1}, 0.3, "a", table, "/tmp/job", "loss", "min", max_budget=27.0)
    print_summary(cut, 1.0)
    out = capsys.readouterr().out
    assert "no trial reached max_budget=27; the best value is at budget 9" in out
    assert "returned by themselves" not in out  # cut by the time budget, not a function shorter than max_budget
    short = table.assign(status=["completed", "stopped early"])
    print_summary(TuneResult({"x": 1}, 0.3, "a", short, "/tmp/job", "loss", "min", max_budget=27.0), 1.0)
    assert "trials returned by themselves at budget 9, below max_budget" in capsys.readouterr().out
    table.loc[0, "budget"] = 27.0
    print_summary(TuneResult({"x": 1}, 0.3, "a", table, "/tmp/job", "loss", "min", max_budget=27.0), 1.0)
    print_summary(TuneResult({"x": 1}, 0.3, "a", table, "/tmp/job", "loss", "min"), 1.0)  # no scheduler
    assert "max_budget" not in capsys.readouterr().out
    failed = table.assign(value=[None, None], status=["failed", "failed"], error=["E: x", "E: y"])
    print_summary(TuneResult(None, None, None, failed, "/tmp/job", "loss", "min"), 1.0)  # it read "best loss = None"
    out = capsys.readouterr().out
    assert "2 trials in 1.0s; no trial reported a finite loss" in out and "None" not in out, out


@pytest.mark.parametrize("kw, match", [
    ({"searcher": "tpe", "searcher_kwargs": {"n_startp": 4}},
     r"searcher 'tpe' has no option 'n_startp'; its options: \[.*'n_startup'"),
    ({"scheduler": "asha", "scheduler_kwargs": {"optimum": 1.0}},
     r"scheduler 'asha' has no option 'optimum'; its options: \[.*'promotion'"),
    ({"scheduler": "bohb", "searcher_kwargs": {"magic": 0.5}}, r"searcher 'tpe' has no option 'magic'"),
])
def test_a_misspelt_option_names_the_options_there_are(kw, match):
    """An option the searcher or scheduler does not take is a clear error before any trial runs."""
    from tests import spaces
    from tunestack.platform.runner import JobSpec, _resolve_algorithms
    from tunestack.schedulers import SchedulerError
    from tunestack.searchers import SearcherError
    from tunestack.space import SearchSpace

    with pytest.raises((SearcherError, SchedulerError), match=match):
        _resolve_algorithms(JobSpec(metric="loss", max_budget=9, **kw), SearchSpace(spaces.continuous()))


def test_summary_says_when_lce_could_not_stop_anything(capsys):
    """Curves shorter than lce's min_points, or too few completed trials: the summary says why nothing
    was stopped; with enough of both and nothing worth stopping it says nothing."""
    from types import SimpleNamespace

    import pandas as pd

    from tunestack.platform.results import TuneResult, print_summary
    from tunestack.schedulers import create as create_scheduler

    def summary(max_budget, n):
        sched = create_scheduler("lce", min_budget=1, max_budget=max_budget, mode="min", seed=0)
        for i in range(n):
            sched.add_trial(f"t{i}")
            for b in range(1, max_budget + 1):
                sched.on_result(f"t{i}", b, 0.1 + 1.0 / b)  # all alike: none can be stopped
        table = pd.DataFrame({"trial_id": [f"t{i}" for i in range(n)], "value": [0.1 + 1 / max_budget] * n,
                              "budget": [float(max_budget)] * n, "status": ["completed"] * n})
        print_summary(TuneResult({"x": 1}, 0.3, "t0", table, "/tmp/job", "loss", "min",
                                  coordinator=SimpleNamespace(scheduler=sched), max_budget=max_budget), 1.0)
        return capsys.readouterr().out

    out = summary(4, 6)
    assert "it decides after 5 results of a trial and no trial reported more than 4" in out
    assert "lower scheduler_kwargs min_points (>= 4)" in out
    assert "lower" not in summary(3, 6)  # min_points cannot go below 4
    assert "it needs 3 trials completed at max_budget (its incumbent) before it stops any, and 2" in summary(9, 2)
    assert "lce stopped no trial" not in summary(9, 6)


def test_num_samples_minus_one_runs_trials_until_the_time_budget(ray_local, tmp_path):
    @ts.tunable(space={"x": tune.uniform(-1, 1)}, metric="loss")
    def steps(config):
        for i in range(4):
            time.sleep(0.1)
            ts.report(loss=config["x"] ** 2 + 1.0 / (i + 1))

    start = time.time()
    result = steps.tune(searcher="tpe", num_samples=-1, time_budget_s=8, seed=0, storage_path=str(tmp_path),
                        tracking=False, verbose=0)
    assert time.time() - start < 60
    t = result.table
    done = t[t["status"] == "completed"]
    assert len(done) >= 5, t[["status", "reason"]]  # more than the 4 workers' first round
    assert set(t["status"]) <= {"completed", "stopped"}
    cut = t[t["status"] == "stopped"]
    assert cut["reason"].str.startswith("stopped: time_budget_s=8 reached").all()
    never = cut[cut["budget"] == 0]
    assert never["reason"].str.endswith("before its first result").all()
    # the best of every trial's last value: a trial the budget cut right after its last report (a race with
    # its return) has its full value with status "stopped", and may be the best (seen in CI: 0.25007 < 0.25023)
    assert result.best_value == pytest.approx(t["value"].dropna().min()) and not result.interrupted
    assert result.best_value <= done["value"].min()
    # the budget counts the job's whole running time: a resume (the second one too, which Ray ends
    # before it looks at the budget) keeps the job as it ended, not as interrupted
    for _ in range(2):
        again = steps.resume(result.path, verbose=0)
        assert not again.interrupted
        assert sorted(again.table["reason"].fillna("")) == sorted(t["reason"].fillna(""))


def test_ray_client_is_refused_with_the_way_to_run_on_a_cluster(tmp_path):
    with pytest.raises(ValueError, match="Ray Client.*not supported.*ray job submit"):
        quadratic.tune(address="ray://127.0.0.1:10001", storage_path=str(tmp_path), tracking=False)


def test_a_job_that_cannot_start_leaves_no_running_mlflow_run(ray_local, tmp_path, monkeypatch):
    from tunestack.platform import cluster

    def unreachable(address=None):  # as ensure_ray says of a cluster it cannot join
        raise ConnectionError("could not join the Ray cluster at 'head:6379': unreachable")

    monkeypatch.setattr(cluster, "ensure_ray", unreachable)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with pytest.raises(ConnectionError, match="could not join"):
        quadratic.tune(num_samples=2, name="cannot-start", storage_path=str(tmp_path), tracking_uri=uri,
                       verbose=0)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("cannot-start")
    runs = client.search_runs([exp.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]  # it stayed RUNNING after the script's exit
    assert runs[0].data.tags["tunestack.reason"].startswith("the job ended on an error: ConnectionError: could "
                                                            "not join the Ray cluster")


def test_an_address_where_nothing_answers_fails_at_once(monkeypatch):
    # Ray retried a host:port with no cluster for minutes on end (a typo in the port hung the job)
    import socket

    import ray

    from tunestack.platform import cluster

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    start = time.time()
    with pytest.raises(ConnectionError, match=rf"could not join the Ray cluster at '127.0.0.1:{port}': nothing "
                                              r"answers there .*ray start --head"):
        cluster.ensure_ray(f"127.0.0.1:{port}")
    assert time.time() - start < 5


def test_resuming_a_job_by_its_name_alone_says_where_it_is(tmp_path, monkeypatch):
    from tunestack.platform.runner import JOB_FILE

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "ray_results" / "myjob").mkdir(parents=True)
    (tmp_path / "home" / "ray_results" / "myjob" / JOB_FILE).write_text("{}")
    monkeypatch.chdir(tmp_path)
    saved = str(tmp_path / "home" / "ray_results" / "myjob")
    with pytest.raises(ts.TuneError, match=rf"'{tmp_path}/myjob' is not a tunestack job directory .*a job of "
                                           rf"that name is saved at '{saved}'"):
        quadratic.resume("myjob")
    with pytest.raises(ts.TuneError, match=r"not a tunestack job directory \(no tunestack_job.json\)$"):
        quadratic.resume(str(tmp_path / "elsewhere" / "other"))


def test_a_storage_path_that_cannot_hold_the_job_is_refused_before_anything_starts(tmp_path, monkeypatch):
    # a bare NotADirectoryError after Ray had started, and a FAILED MLflow run of a job that never ran
    from tunestack.platform import cluster

    monkeypatch.setattr(cluster, "ensure_ray", lambda address=None: pytest.fail("Ray was started"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ts.TuneError, match=r"job.s directory .*a_file/sub/job. cannot be created .*storage_path="):
        quadratic.tune(num_samples=2, name="job", storage_path=str(tmp_path / "a_file" / "sub"), verbose=0)
    assert not (tmp_path / "mlflow.db").exists()


def test_summary_cuts_long_constants_in_the_best_config_short(capsys):
    import pandas as pd

    from tunestack.platform.results import TuneResult, print_summary

    config = {"lr": 0.012345, "vocab": list(range(3000)), "opt": {"kind": "adam"}}
    table = pd.DataFrame({"trial_id": ["a"], "value": [0.3], "budget": [1.0], "status": ["completed"]})
    print_summary(TuneResult(config, 0.3, "a", table, "/tmp/job", "loss", "min"), 1.0)
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "best config" in ln)
    assert line == "  best config: {'lr': 0.012345, 'vocab': [0, 1, 2, 3, 4, 5, 6, 7, ...], 'opt': {'kind': 'adam'}}"


def test_a_trial_process_ended_by_ray_prints_no_traceback():
    """Ray ends a trial's process with SIGTERM, whose handler raises SystemExit; raised in a weakref
    callback it printed "Exception ignored in ... SystemExit" with a traceback on the driver's console."""
    import subprocess
    import sys

    code = ("import weakref\n"
            "from tunestack.platform.session import quiet_worker_logs\n"
            "quiet_worker_logs(); quiet_worker_logs()\n"
            "class A: pass\n"
            "def stop(_): raise SystemExit(1)\n"
            "def bug(_): raise ValueError('a real bug')\n"
            "a, b = A(), A()\n"
            "ra, rb = weakref.ref(a, stop), weakref.ref(b, bug)\n"
            "del a, b\n"
            "print('alive')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout == "alive\n", out.stderr
    assert "SystemExit" not in out.stderr
    assert "ValueError: a real bug" in out.stderr  # other unraisable errors still show


def test_a_resume_with_another_space_is_refused_naming_the_difference(ray_local, tmp_path):
    """The saved trials are vectors of the job's space: with another range they would decode into other
    configurations (silently), with another dimension the searcher failed deep inside."""
    @ts.tunable(space={"x": tune.uniform(0, 1), "k": tune.choice(["a", "b"])}, metric="loss")
    def train(config):
        return config["x"]

    first = train

    @ts.tunable(space={"x": tune.uniform(0, 2), "k": tune.choice(["a", "b"])}, metric="loss")
    def train(config):  # noqa: F811 - the same function name, as after an edit of the script
        return config["x"]

    wider = train

    first.tune(num_samples=2, seed=0, name="job", storage_path=str(tmp_path), tracking=False, verbose=0)
    job = str(tmp_path / "job")
    with pytest.raises(ts.TuneError, match=r"another search space \(x: .*'upper': 1.0.* in the job, "
                                           r".*'upper': 2.0.* now\)"):
        wider.resume(job, verbose=0)
    assert len(first.resume(job, verbose=0).table) == 2


def test_a_new_job_under_an_earlier_jobs_name_keeps_both_apart(ray_local, tmp_path):
    """Running a script again (same name=) put the new job in the earlier one's directory: a resume of
    it replayed both jobs' trials.  The earlier job is moved aside whole and still resumes there, alone
    (its saved searcher named the journal by its first path: it read the new job's)."""
    first = quadratic.tune(num_samples=3, seed=0, name="again", storage_path=str(tmp_path), tracking=False,
                           verbose=0)
    from tunestack.searchers import SearcherError

    with pytest.raises(SearcherError, match="n_startup must be"):  # a job refused leaves the earlier one be
        quadratic.tune(num_samples=2, searcher="tpe", searcher_kwargs={"n_startup": -1}, name="again",
                       storage_path=str(tmp_path), tracking=False, verbose=0)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("again.")], "a refused job moved the earlier one"
    second = quadratic.tune(num_samples=2, seed=1, name="again", storage_path=str(tmp_path), tracking=False,
                            verbose=0)
    moved = [p for p in os.listdir(tmp_path) if p.startswith("again.")]
    assert len(moved) == 1 and second.path == str(tmp_path / "again")
    again = quadratic.resume(second.path, verbose=0)
    assert sorted(again.table["trial_id"]) == sorted(second.table["trial_id"])
    earlier = quadratic.resume(str(tmp_path / moved[0]), verbose=0)
    assert sorted(earlier.table["trial_id"]) == sorted(first.table["trial_id"])
    assert earlier.best_value == first.best_value


def test_the_resume_space_check_ignores_object_addresses(tmp_path):
    # a choice of objects is described by their reprs, whose addresses differ in every process
    from tunestack.platform.jobdir import SPACE_FILE, check_same_space
    from tunestack.space import SearchSpace

    class Act:
        pass

    def space():
        return SearchSpace.create({"act": tune.choice([Act(), Act()]), "x": tune.uniform(0, 1)})

    (tmp_path / SPACE_FILE).write_text(__import__("json").dumps(space().comparable()))
    check_same_space(str(tmp_path), space())  # new objects: the same space
    with pytest.raises(ts.TuneError, match="parameters only in the job: \\['act'\\]"):
        check_same_space(str(tmp_path), SearchSpace.create({"x": tune.uniform(0, 1)}))


def test_reports_from_a_thread_the_function_starts_count(ray_local, tmp_path):
    """The session was thread-local: reports from a training loop run in a thread were dropped, and
    every trial failed with "returned without reporting"."""
    import threading

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
    def threaded(config):
        def loop():
            for epoch in range(3):
                ts.report(loss=config["x"] + 1 / (epoch + 1))

        worker = threading.Thread(target=loop)
        worker.start()
        worker.join()

    result = threaded.tune(num_samples=2, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "completed").all() and (result.table["budget"] == 3).all()
    assert result.best_value == pytest.approx(result.best_config["x"] + 1 / 3)
    threaded({"x": 0.5})  # called on its own, too
    assert [r["loss"] for r in threaded.last_reports] == pytest.approx([1.5, 1.0, 0.5 + 1 / 3])


def test_a_function_calling_sys_exit(ray_local, tmp_path):
    """sys.exit in a trial (an argparse parser in the function, a script's main) failed it with no
    message at all; an exit with status 0 after its reports is the function's end."""
    import argparse
    import sys

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
    def exits(config):
        ts.report(loss=config["x"])
        if config["x"] < 0.5:
            sys.exit(0)
        argparse.ArgumentParser().parse_args(["--no-such-option"])

    result = exits.tune(num_samples=6, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    low = result.table["config/x"] < 0.5
    assert 0 < low.sum() < 6, "the seed should give both kinds of trial"
    assert (result.table.loc[low, "status"] == "completed").all()
    assert (result.table.loc[~low, "status"] == "failed").all()
    assert result.table.loc[~low, "error"].str.contains(r"called sys.exit\(2\) \(argparse exits so").all()


def test_a_budget_counted_in_a_reported_field(ray_local, tmp_path):
    """budget= names the result field that counts the budget; reports without it made every trial's
    budget 0 (the scheduler never acted, and the summary blamed max_budget)."""
    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min", budget="step")
    def stepped(config):
        start = (ts.load_checkpoint() or {"i": -1})["i"] + 1
        for i in range(start, 9):
            ts.report(loss=config["x"] + 1 / (i + 1), step=10 * (i + 1), checkpoint={"i": i})

    result = stepped.tune(scheduler="asha", min_budget=10, max_budget=90, num_samples=9, seed=0,
                          storage_path=str(tmp_path), tracking=False, verbose=0)
    assert set(result.table["budget"]) <= {10.0, 30.0, 90.0} and 90.0 in set(result.table["budget"])
    assert (result.table["status"] != "failed").all()

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min", budget="step")
    def forgets(config):
        ts.report(loss=config["x"])

    result = forgets.tune(scheduler="asha", min_budget=10, max_budget=90, num_samples=2, seed=0,
                          storage_path=str(tmp_path), tracking=False, verbose=0)
    assert (result.table["status"] == "failed").all()
    assert result.table["error"].str.contains("counts its budget in 'step'.*this report has no 'step'").all()
    from tunestack.platform.session import MetricError

    with pytest.raises(MetricError, match="has 'ten' as its 'step'"):
        ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss", budget="step")(
            lambda config: ts.report(loss=1.0, step="ten"))({"x": 0.5})


def test_a_metric_and_budget_named_by_their_path_in_nested_reports(ray_local, tmp_path):
    """Ray Tune names a nested result by its path (metric="val/loss" for report(val={"loss": ...})); such
    a metric failed every trial, and the error suggested report(val/loss=...), which is not Python."""
    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="val/loss", mode="min", budget="progress/step")
    def nested(config):
        start = (ts.load_checkpoint() or {"i": -1})["i"] + 1
        for i in range(start, 4):
            ts.report(val={"loss": config["x"] / (i + 1), "acc": 1 - config["x"]}, progress={"step": i + 1},
                      note=f"epoch {i}", checkpoint={"i": i})

    result = nested.tune(scheduler="asha", max_budget=4, eta=2, num_samples=4, seed=0, name="nested",
                         storage_path=str(tmp_path), tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", verbose=0)
    assert (result.table["status"] != "failed").all(), result.table["error"].tolist()
    assert 4.0 in set(result.table["budget"]) and set(result.table["budget"]) <= {1.0, 2.0, 4.0}
    best = result.table.loc[result.table["value"].idxmin()]
    assert best["budget"] == 4.0 and result.best_value == pytest.approx(best["config/x"] / 4)
    _, _, children = runs_of(result.tracking_uri, "nested")
    assert {"val/loss", "val/acc", "progress/step"} <= set(children[0].data.metrics)

    from tunestack.platform.session import MetricError

    typo = ts.tunable(space={"x": tune.uniform(0, 1)}, metric="val/loss")(lambda config: ts.report(val={"los": 1}))
    with pytest.raises(MetricError, match=r'the job tunes .val/loss.; report it, e.g. report\(val=\{"loss": ...\}\)'):
        typo({"x": 0.5})


def test_a_trial_whose_process_dies_fails_saying_so(ray_local, tmp_path):
    """A trial process killed (the OOM killer) or crashing failed with some 600 characters of Ray's advice
    as its error; the job goes on and keeps the other trials."""
    import signal

    @ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
    def dies(config):
        ts.report(loss=config["x"])
        if config["x"] > 0.5:
            os.kill(os.getpid(), signal.SIGKILL)
        ts.report(loss=config["x"] / 2)

    result = dies.tune(num_samples=5, seed=0, storage_path=str(tmp_path), tracking=False, verbose=0)
    high = result.table["config/x"] > 0.5
    assert 0 < high.sum() < 5, "the seed should give both kinds of trial"
    assert (result.table.loc[~high, "status"] == "completed").all()
    died = result.table.loc[high]
    assert (died["status"] == "failed").all() and (died["budget"] == 1).all()
    assert died["error"].str.match(r"the trial's process \(pid \d+\) died: killed \(by the OOM killer").all()
    assert (died["error"].str.len() < 250).all(), died["error"].tolist()
