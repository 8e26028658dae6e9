"""``tunestack.minimize``: the in-process loop, its failures, and a run saved to a JSON file and resumed."""
from __future__ import annotations

import functools
import json
import math
import os
import re
import sys

import pytest
from ray import tune

import tunestack as ts
from tunestack.platform.local import RUN_FORMAT

SPACE = {"x": tune.uniform(-2.0, 2.0), "lr": tune.loguniform(1e-4, 1.0), "act": tune.choice(["relu", "tanh"])}


def f(config):
    return (config["x"] - 0.5) ** 2 + (math.log10(config["lr"]) + 2) ** 2 + (config["act"] == "tanh")


def test_failures_are_recorded_and_the_loop_goes_on():
    def flaky(config):
        if config["x"] < -1:
            raise RuntimeError("diverged")
        return math.nan if config["x"] > 1.5 else f(config)

    with pytest.warns(RuntimeWarning, match="diverged"):
        r = ts.minimize(flaky, SPACE, searcher="tpe", n_trials=30, seed=0)
    statuses = [h["status"] for h in r.history]
    assert len(r.history) == 30 and "ok" in statuses
    assert any(st == "failed: RuntimeError: diverged" for st in statuses)
    ok = [h for h in r.history if h["status"] == "ok"]
    assert r.best_value == min(h["value"] for h in ok) and r.best_config in [h["config"] for h in ok]


@pytest.mark.parametrize("searcher", ["random", "tpe", "rfbo"])
def test_a_run_saved_to_path_resumes_where_it_stopped_with_the_same_asks(tmp_path, searcher):
    whole = ts.minimize(f, SPACE, searcher=searcher, n_trials=14, seed=3)
    path = tmp_path / "run.json"
    calls = []

    def interrupted_at_6(config):
        calls.append(config)
        if len(calls) == 6:
            raise KeyboardInterrupt  # Ctrl-C during the 6th evaluation: it is not recorded
        return f(config)

    with pytest.warns(RuntimeWarning, match="interrupted after 5"):
        first = ts.minimize(interrupted_at_6, SPACE, searcher=searcher, n_trials=14, seed=3, path=path)
    assert first.interrupted and len(first.history) == 5 and first.path == str(path)
    saved = json.loads(path.read_text())
    assert saved["format"] == RUN_FORMAT and len(saved["history"]) == 5
    rest = ts.minimize(f, SPACE, searcher=searcher, n_trials=14, seed=3, path=path)
    assert len(rest.history) == 14 and not rest.interrupted
    assert [h["config"] for h in rest.history] == [h["config"] for h in whole.history]
    assert [h["value"] for h in rest.history] == pytest.approx([h["value"] for h in whole.history])
    assert rest.best_value == whole.best_value and rest.best_config == whole.best_config
    # called again when the run is complete: nothing is evaluated
    again = ts.minimize(lambda c: pytest.fail("evaluated again"), SPACE, searcher=searcher, n_trials=14, path=path)
    assert len(again.history) == 14 and again.best_value == whole.best_value


def test_a_saved_run_keeps_failures_and_refuses_another_searcher_mode_metric_or_space(tmp_path):
    path = tmp_path / "run.json"
    r = ts.minimize(lambda c: math.inf if c["x"] > 0 else f(c), SPACE, searcher="tpe", n_trials=8, seed=1,
                    path=path)
    failed = [i for i, h in enumerate(r.history) if h["status"] != "ok"]
    assert failed, "the seed should give a failed evaluation"
    json.loads(path.read_text())  # plain JSON: the non-finite values are written as null
    back = ts.minimize(f, SPACE, searcher="tpe", n_trials=8, path=path)
    assert [i for i, h in enumerate(back.history) if h["status"] != "ok"] == failed
    assert all(math.isnan(back.history[i]["value"]) for i in failed)
    with pytest.raises(ValueError, match="another searcher.*'tpe'"):
        ts.minimize(f, SPACE, searcher="random", n_trials=9, path=path)
    with pytest.raises(ValueError, match="another mode"):
        ts.minimize(f, SPACE, searcher="tpe", mode="max", n_trials=9, path=path)
    with pytest.raises(ValueError, match="another metric \\(metric=None\\)"):
        ts.minimize(f, SPACE, searcher="tpe", metric="loss", n_trials=9, path=path)
    with pytest.raises(ValueError, match="another space"):
        ts.minimize(f, {**SPACE, "x": tune.uniform(-3.0, 2.0)}, searcher="tpe", n_trials=9, path=path)
    other = tmp_path / "notes.json"
    other.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a saved tunestack.minimize run"):
        ts.minimize(f, SPACE, n_trials=2, path=other)
    other.write_text("not json")
    with pytest.raises(ValueError, match="not a saved tunestack.minimize run"):
        ts.minimize(f, SPACE, n_trials=2, path=other)


def test_a_killed_process_loses_only_the_evaluation_in_progress(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "run.json"
    script = tmp_path / "job.py"
    script.write_text(
        "import math, sys, time\n"
        "import tunestack as ts\n"
        "from ray import tune\n"
        "def f(c):\n"
        "    time.sleep(0.2)\n"
        "    return (c['x'] - 0.5) ** 2\n"
        "ts.minimize(f, {'x': tune.uniform(-2.0, 2.0)}, searcher='tpe', n_trials=200, seed=5, path=sys.argv[1])\n")
    proc = subprocess.Popen([sys.executable, str(script), str(path)])
    deadline = time.time() + 120
    while not (path.exists() and len(json.loads(path.read_text())["history"]) >= 4):
        assert time.time() < deadline and proc.poll() is None, "the job did not start saving"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(path.read_text())["history"]  # whole JSON: never a file cut short by the kill
    assert 4 <= len(done) < 200
    whole = ts.minimize(lambda c: (c["x"] - 0.5) ** 2, {"x": tune.uniform(-2.0, 2.0)}, searcher="tpe",
                        n_trials=len(done) + 3, seed=5)
    rest = ts.minimize(lambda c: (c["x"] - 0.5) ** 2, {"x": tune.uniform(-2.0, 2.0)}, searcher="tpe",
                       n_trials=len(done) + 3, seed=5, path=path)
    assert [h["config"] for h in rest.history[:len(done)]] == [h["config"] for h in done]
    assert [h["config"] for h in rest.history] == [h["config"] for h in whole.history]


def build_model():  # a function as a constant of the space, as users pass model builders
    return "model"


def test_a_run_with_objects_in_its_space_resumes_in_another_process(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "run.json"
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "import tunestack as ts\n"
        "from ray import tune\n"
        "from tests.platform.test_local import build_model\n"
        "space = {'x': tune.uniform(0.0, 1.0), 'build': build_model, 'shape': tune.choice([(8, 8), (16,)])}\n"
        "ts.minimize(lambda c: c['x'] + len(c['shape']), space, searcher='tpe', n_trials=4, seed=2,"
        " path=sys.argv[1])\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, str(script), str(path)], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": root})
    space = {"x": tune.uniform(0.0, 1.0), "build": build_model, "shape": tune.choice([(8, 8), (16,)])}
    r = ts.minimize(lambda c: c["x"] + len(c["shape"]), space, searcher="tpe", n_trials=6, seed=2, path=path)
    assert len(r.history) == 6  # the function's repr differs between the processes: still the same space
    assert all(h["config"]["build"] is build_model for h in r.history)
    assert all(h["config"]["shape"] in [(8, 8), (16,)] for h in r.history)  # tuples again, not JSON lists
    assert r.best_config["build"] is build_model


def test_searcher_options_as_a_dict_or_as_keywords():
    a = ts.minimize(f, SPACE, searcher="tpe", n_trials=8, seed=0, searcher_kwargs={"n_startup": 3})
    b = ts.minimize(f, SPACE, searcher="tpe", n_trials=8, seed=0, n_startup=3)
    c = ts.minimize(f, SPACE, searcher="tpe", n_trials=8, seed=0)
    assert a.searcher.n_startup == 3 and [h["config"] for h in a.history] == [h["config"] for h in b.history]
    assert [h["config"] for h in a.history] != [h["config"] for h in c.history]  # the option took effect
    with pytest.raises(ValueError, match="given twice"):
        ts.minimize(f, SPACE, searcher="tpe", n_trials=2, searcher_kwargs={"n_startup": 3}, n_startup=4)
    from tunestack.searchers import SearcherError

    with pytest.raises(SearcherError, match="no option 'n_startp'"):
        ts.minimize(f, SPACE, searcher="tpe", n_trials=2, searcher_kwargs={"n_startp": 3})


@pytest.mark.parametrize("bad, name", [("0.25", "str"), (None, "NoneType"), ([1.0], "list")])
def test_an_objective_returning_no_number_fails_that_trial_by_name(bad, name):
    with pytest.warns(RuntimeWarning, match=f"must return a number, got {name}"):
        r = ts.minimize(lambda config: bad, SPACE, searcher="random", n_trials=2, seed=0)
    assert r.best_value is None
    assert all(h["status"] == f"failed: TypeError: the objective must return a number, got {name}" for h in r.history)


def test_report_refuses_a_metric_that_is_not_a_number():
    from tunestack.platform.session import MetricError, TrialSession, trial_session

    with trial_session(TrialSession(metric="loss", in_ray=False)) as s:
        ts.report(loss=0.5)
        for bad in ("0.25", None, [0.1]):
            with pytest.raises(MetricError, match="metric 'loss' must be a number"):
                ts.report(loss=bad)
    assert s.history == [{"loss": 0.5}]


def test_report_refuses_the_result_fields_ray_tune_owns():
    # on Ray, done=True ended the trial at once (a completed trial below max_budget), training_iteration
    # replaced the budget Ray counts (a first report at budget 100 of 4), a metric named 'done' read True
    from tunestack.platform.session import MetricError, TrialSession, trial_session

    with trial_session(TrialSession(metric="loss", in_ray=False)) as s:
        for owned in ({"done": True}, {"training_iteration": 100}, {"config": {"a": 1}}, {"__trial_info__": 1}):
            with pytest.raises(MetricError, match=re.escape(f"got {list(owned)}: Ray Tune fills in")):
                ts.report(loss=0.5, **owned)
        ts.report(loss=0.5, val={"done": 1.0}, timesteps_total=10)  # nested, or a total Ray only sums
    assert len(s.history) == 1
    with pytest.raises(ValueError, match="metric='done' names a result field Ray Tune fills in"):
        ts.tunable(space=SPACE, metric="done")(lambda config: None)
    with pytest.raises(ValueError, match="budget='pid' names a result field"):
        ts.tunable(space=SPACE, metric="loss", budget="pid")(lambda config: None)
    ts.tunable(space=SPACE, metric="loss", budget="time_total_s")(lambda config: None)  # Ray counts it


def test_report_takes_a_loss_tensor_that_needs_grad_without_a_warning():
    # the check that it is a number warned "Converting a tensor with requires_grad=True to a scalar"
    import warnings

    import torch

    from tunestack.platform.session import TrialSession, trial_session

    loss = (torch.tensor(0.5, requires_grad=True) - 0.25) ** 2
    with trial_session(TrialSession(metric="loss", in_ray=False)) as s, warnings.catch_warnings():
        warnings.simplefilter("error")
        ts.report(loss=loss)
    assert float(s.history[0]["loss"].detach()) == 0.0625


def test_an_objective_that_cannot_take_a_config_is_refused_before_the_loop():
    # it failed every evaluation with "missing 1 required positional argument"
    def objective(config, data):
        return config["x"]

    with pytest.raises(TypeError, match=r"minimize: each trial calls objective\(config\).*'data'"):
        ts.minimize(objective, {"x": tune.uniform(0, 1)}, n_trials=3)
    assert ts.minimize(lambda config: config["x"], {"x": tune.uniform(0, 1)}, n_trials=3).best_value < 1


def test_an_objective_calling_sys_exit_fails_that_evaluation_not_the_program(tmp_path):
    # SystemExit went through the loop and ended the user's program (argparse in the objective, say)
    def objective(config):
        if config["x"] > 0.5:
            sys.exit(2)
        return config["x"]

    with pytest.warns(RuntimeWarning, match=r"called sys.exit\(2\) \(argparse"):
        r = ts.minimize(objective, {"x": tune.uniform(0, 1)}, n_trials=12, seed=0, path=tmp_path / "run.json")
    failed = [h for h in r.history if h["status"] != "ok"]
    assert len(r.history) == 12 and failed and len(failed) < 12
    assert all(h["config"]["x"] > 0.5 and "RuntimeError: the function called sys.exit(2)" in h["status"]
               for h in failed)
    assert r.best_value == min(h["value"] for h in r.history if h["status"] == "ok")


def test_a_generator_or_async_objective_is_refused_before_the_loop():
    # each evaluation failed "must return a number, got generator"
    def steps(config):
        yield config["x"]

    async def coro(config):
        return config["x"]

    with pytest.raises(TypeError, match=r"steps is a generator function.*ts.report"):
        ts.minimize(steps, {"x": tune.uniform(0, 1)}, n_trials=3)
    with pytest.raises(TypeError, match=r"coro is an async def function.*asyncio.run"):
        ts.minimize(functools.partial(coro), {"x": tune.uniform(0, 1)}, n_trials=3)
    with pytest.raises(TypeError, match=r"@tunable: steps is a generator function"):
        ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")(steps)


def test_an_objective_that_changes_its_config_leaves_the_history_whole():
    # history and best_config lost the keys the objective popped ({} here), and held what it set
    def objective(config):
        lr = config.pop("lr")
        config["opt"]["m"] = -1.0
        config["layers"].append(99)
        return lr

    space = {"lr": tune.uniform(0, 1), "opt": {"m": tune.uniform(0, 1)}, "layers": tune.choice([[8], [16, 16]])}
    r = ts.minimize(objective, space, searcher="tpe", n_trials=12, seed=0)
    for h in r.history:
        assert set(h["config"]) == {"lr", "opt", "layers"} and 0 <= h["config"]["opt"]["m"] <= 1
        assert h["config"]["layers"] in ([8], [16, 16]) and h["value"] == h["config"]["lr"]
    assert r.best_config["lr"] == r.best_value == min(r.values())


def test_a_path_in_a_folder_not_made_yet(tmp_path):
    # the save of the first evaluation failed (FileNotFoundError) and that evaluation was lost
    calls = []
    path = tmp_path / "runs" / "today" / "run.json"
    r = ts.minimize(lambda config: calls.append(1) or config["x"], {"x": tune.uniform(0, 1)}, n_trials=3,
                    path=path)
    assert len(calls) == len(r.history) == 3 and len(json.loads(path.read_text())["history"]) == 3
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="its folder cannot be created"):
        ts.minimize(lambda config: calls.append(1) or config["x"], {"x": tune.uniform(0, 1)}, n_trials=3,
                    path=tmp_path / "a_file" / "run.json")
    assert len(calls) == 3, "an evaluation ran before the path was refused"


def test_metric_names_the_value_of_an_objective_that_returns_a_dict():
    def f(config):
        return {"loss": (config["x"] - 0.5) ** 2, "acc": 1.0, "val": {"err": config["x"] ** 2}}

    r = ts.minimize(f, SPACE, searcher="random", n_trials=6, seed=0, metric="loss")
    assert all(h["status"] == "ok" for h in r.history)
    assert r.best_value == min((h["config"]["x"] - 0.5) ** 2 for h in r.history)
    nested = ts.minimize(f, SPACE, searcher="random", n_trials=6, seed=0, metric="val/err")
    assert nested.best_value == min(h["config"]["x"] ** 2 for h in nested.history)
    # a plain number is still taken as the value
    assert ts.minimize(lambda c: 3.0, SPACE, n_trials=1, metric="loss").best_value == 3.0
    # a dict without it fails that evaluation, naming the keys it has
    with pytest.warns(RuntimeWarning, match=r"without 'los' \(metric=\); its keys: \['loss', 'acc', 'val'\]"):
        miss = ts.minimize(f, SPACE, n_trials=1, metric="los")
    assert miss.best_value is None
    # without metric, a dict of several values says how to choose one
    with pytest.warns(RuntimeWarning, match="name the one to optimize with metric="):
        ts.minimize(f, SPACE, n_trials=1)
    with pytest.raises(ValueError, match="metric must be the name of a result"):
        ts.minimize(f, SPACE, n_trials=1, metric="")


def test_a_searcher_object_must_search_the_given_space_and_direction():
    # it ran as it was made: another space failed every evaluation on a missing key, another mode
    # tracked the best of one direction while the searcher went the other way
    from tunestack.searchers import create

    with pytest.raises(ValueError, match=r"searches another space \(\['y'\]\)"):
        ts.minimize(f, SPACE, searcher=create("tpe", {"y": tune.uniform(0, 1)}, seed=0), n_trials=2)
    with pytest.raises(ValueError, match="has mode='max', the call mode='min'"):
        ts.minimize(f, SPACE, searcher=create("tpe", SPACE, mode="max", seed=0), n_trials=2)
    with pytest.raises(ValueError, match=r"options \['n_startup'\] need a searcher name"):
        ts.minimize(f, SPACE, searcher=create("tpe", SPACE, seed=0), n_trials=2, n_startup=3)
    own = create("tpe", SPACE, seed=0)
    assert ts.minimize(f, SPACE, searcher=own, n_trials=3).searcher is own
    with pytest.raises(ValueError, match="n_trials must be a whole number >= 1, got 2.5"):
        ts.minimize(f, SPACE, n_trials=2.5)
    assert len(ts.minimize(f, SPACE, n_trials=2.0).history) == 2
