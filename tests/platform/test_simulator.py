"""The simulated-time backend: exact cost accounting, pause/resume costs, parallel workers,
determinism, searcher tells, presets, failures, and ASHA against random search at equal time."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import ConfigSpace as CS
import numpy as np
import pytest

from tunestack import searchers
from tunestack.platform.simulator import SimulationError, simulate
from tunestack.schedulers.base import Scheduler
from tunestack.schedulers.successive_halving import SuccessiveHalving


def line_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0))])
    return cs


def toy_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0)), CS.Float("y", (0.0, 1.0)), CS.Float("lr", (1e-4, 1e-1), log=True)])
    return cs


def toy_curve(config: dict, budget: float) -> tuple[float, float]:
    """A learning curve: final error + a decaying gap whose speed depends on the config; the cost per
    unit of budget depends on the config too."""
    final = (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2 + 0.1 * (math.log10(config["lr"]) + 2.5) ** 2
    speed = 0.3 + 2.0 * config["y"]
    return final + math.exp(-speed * budget / 3.0), budget * (1.0 + config["x"])


def linear_cost(config: dict, budget: float) -> tuple[float, float]:
    return config["x"] + 1.0 / budget, 10.0 * budget


def quadratic_cost(config: dict, budget: float) -> tuple[float, float]:
    return config["x"] + 1.0 / budget, budget ** 2


def _sh(**kw) -> SuccessiveHalving:
    return SuccessiveHalving(min_budget=1, max_budget=9, eta=3, n_initial=9, iterations=1, seed=0, **kw)


def test_costs_by_hand_one_worker():
    # 9 trials to budget 1 (10 s each), 3 resumed 1 -> 3 (20 s each), 1 resumed 3 -> 9 (60 s)
    r = simulate(linear_cost, line_space(), scheduler=_sh(), max_budget=9, max_time=1e6, seed=0)
    assert r.ended == "done"
    assert [h["time"] for h in r.history] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 110, 130, 150, 210]
    assert [h["budget"] for h in r.history] == [1] * 9 + [3] * 3 + [9]
    assert r.time == 210 and r.busy == [210]
    assert r.budget_used == pytest.approx((9 * 1 + 3 * 2 + 1 * 6) / 9)
    best_x = min(h["config"]["x"] for h in r.history)
    assert r.best_config["x"] == best_x, "the best config at budget 1 stays the best (value = x + 1/b)"
    assert r.trajectory() == [(210, pytest.approx(best_x + 1 / 9))]


def test_an_objective_that_changes_its_config_changes_nothing_else():
    # the trial's stored config was passed itself: a popped key failed the trial's next budget (KeyError)
    def pops(config: dict, budget: float) -> tuple[float, float]:
        return config.pop("x") + 1.0 / budget, 10.0 * budget

    r = simulate(pops, line_space(), scheduler=_sh(), max_budget=9, max_time=1e6, seed=0)
    assert all(math.isfinite(h["value"]) and "x" in h["config"] for h in r.history)
    assert [h["budget"] for h in r.history] == [1] * 9 + [3] * 3 + [9]


def test_resuming_costs_the_difference():
    # cost(b) = b^2: from scratch 1 + 9 + 81 per finalist; resumed: 1, then 9 - 1, then 81 - 9
    r = simulate(quadratic_cost, line_space(), scheduler=_sh(), max_budget=9, max_time=1e6, seed=0)
    assert [h["cost"] for h in r.history] == [1] * 9 + [8] * 3 + [72]
    assert r.time == 9 * 1 + 3 * 8 + 72


def test_parallel_workers_overlap():
    r = simulate(toy_curve, toy_space(), max_budget=10, workers=4, max_evaluations=40, seed=1)
    assert len(r.history) == 40 and r.ended == "max_evaluations"
    intervals = [(h["time"] - h["cost"], h["time"]) for h in r.history]
    assert {h["worker"] for h in r.history} == {0, 1, 2, 3}
    # at the start of each evaluation, at most 4 (and early on exactly 4) run at once
    eps = 1e-9  # a job starting when another ends does not overlap it
    overlap = [sum(1 for a, b in intervals if a - eps <= s < b - eps) for s, _ in intervals]
    assert max(overlap) == 4 and all(o <= 4 for o in overlap)
    total = sum(h["cost"] for h in r.history)
    assert total / 4 <= r.time <= total / 4 + max(h["cost"] for h in r.history)
    assert r.utilization > 0.9


def test_step_reports_every_epoch_and_costs_add_up():
    r = simulate(toy_curve, toy_space(), max_budget=5, step=1, max_evaluations=15, seed=0)
    assert [h["budget"] for h in r.history] == [1, 2, 3, 4, 5] * 3
    x = r.history[0]["config"]["x"]
    assert [h["cost"] for h in r.history[:5]] == pytest.approx([1 + x] * 5)
    assert [h["decision"] for h in r.history[:5]] == ["continue"] * 4 + ["stop"]


def test_a_curve_reading_scheduler_gets_a_report_every_min_budget_by_default():
    """Without step, lce would see one point per trial (at max_budget) and never stop anything."""
    r = simulate(toy_curve, toy_space(), scheduler="lce", min_budget=1, max_budget=8, max_evaluations=16, seed=0)
    assert [h["budget"] for h in r.history] == [1, 2, 3, 4, 5, 6, 7, 8] * 2
    r = simulate(toy_curve, toy_space(), scheduler="lce", min_budget=0.5, max_budget=2, max_evaluations=4, seed=0)
    assert [h["budget"] for h in r.history] == [0.5, 1.0, 1.5, 2.0]
    r = simulate(toy_curve, toy_space(), scheduler="lce", max_budget=8, step=4, max_evaluations=4, seed=0)
    assert [h["budget"] for h in r.history] == [4, 8, 4, 8]  # an explicit step wins
    r = simulate(toy_curve, toy_space(), max_budget=8, max_evaluations=2, seed=0)
    assert [h["budget"] for h in r.history] == [8, 8]  # fifo: only the budgets decided at


def test_deterministic():
    kw = dict(scheduler="asha", max_budget=27, workers=3, max_time=400, seed=5)
    a, b = simulate(toy_curve, toy_space(), **kw), simulate(toy_curve, toy_space(), **kw)
    assert a.history == b.history and a.time == b.time
    c = simulate(toy_curve, toy_space(), **{**kw, "seed": 6})
    assert c.history != a.history


def test_deterministic_in_a_fresh_process():
    code = ("import json\nfrom tests.platform.test_simulator import toy_curve, toy_space\n"
            "from tunestack.platform.simulator import simulate\n"
            "r = simulate(toy_curve, toy_space(), scheduler='async_hyperband', max_budget=27, workers=3, "
            "max_time=300, seed=2)\n"
            "print(json.dumps([[h['time'], h['trial_id'], h['budget'], h['decision']] for h in r.history]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(Path(__file__).parents[2]))
    assert proc.returncode == 0, proc.stderr
    here = simulate(toy_curve, toy_space(), scheduler="async_hyperband", max_budget=27, workers=3,
                    max_time=300, seed=2)
    mine = [[h["time"], h["trial_id"], h["budget"], h["decision"]] for h in here.history]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(mine))


def test_the_searcher_hears_milestones_with_their_budgets():
    r = simulate(linear_cost, line_space(), scheduler=_sh(), max_budget=9, max_time=1e6, seed=0)
    budgets = sorted(b for rec in r.searcher.trials.values() for b in rec.results)
    assert budgets == [1] * 9 + [3] * 3 + [9]
    assert not r.searcher.pending
    fifo = simulate(linear_cost, line_space(), max_budget=9, max_evaluations=5, seed=0)
    assert [list(rec.results) for rec in fifo.searcher.trials.values()] == [[None]] * 5  # final values


def test_predicted_values_are_told_as_predictions():
    class StopWithPrediction(Scheduler):
        name = "predicting"

        def _decide(self, t, budget, value):
            return self._finish(t, "stopped", "stopped early", milestone=True, predicted=value - 1.0)

    sched = StopWithPrediction(min_budget=1, max_budget=9, seed=0)
    r = simulate(linear_cost, line_space(), scheduler=sched, max_budget=9, step=1, max_evaluations=3, seed=0)
    for rec in r.searcher.trials.values():
        assert rec.predicted
        assert rec.results[None] == pytest.approx(rec.results[1.0] - 1.0)


def test_failures_and_errors_do_not_stop_the_run():
    def flaky(config, budget):
        if config["x"] < 0.2:
            raise RuntimeError("diverged")
        if config["x"] > 0.8:
            return math.nan, budget
        return config["x"], budget

    with pytest.warns(RuntimeWarning, match="diverged"):
        r = simulate(flaky, line_space(), scheduler="asha", max_budget=9, workers=2, max_time=300, seed=0)
    failed = [tid for tid in r.scheduler.trials if r.scheduler.trial_status(tid)["status"] == "failed"]
    assert failed and r.best_value is not None and 0.2 <= r.best_value <= 0.8
    for tid in failed:
        assert r.searcher.trials[tid].failed


def test_a_run_whose_time_stands_still_ends_with_what_it_has():
    # a failing evaluation costs no time: an objective that always raised ran forever under max_time
    def broken(config, budget):
        raise KeyError("oops")

    with pytest.warns(RuntimeWarning, match=r"stood still at 0 s for 10\d{3} evaluations in a row: 10\d{3} of "
                                            r"them failed \(a failed evaluation costs no time\)"):
        r = simulate(broken, line_space(), scheduler="asha", max_budget=9, max_time=100, seed=0)
    assert r.ended == "stood_still" and r.best_value is None and len(r.history) > 10_000
    with pytest.warns(RuntimeWarning, match="the objective's costs do not grow"):
        free = simulate(lambda c, b: (c["x"], 0.0), line_space(), max_budget=9, max_time=100, seed=0)
    assert free.ended == "stood_still" and free.best_value == min(h["value"] for h in free.history)
    # a cost that does not grow with the budget: continued trials report at no cost, and the run goes on
    flat = simulate(lambda c, b: (c["x"] / b, 1.0), line_space(), scheduler="asha", max_budget=200, step=1,
                    workers=2, max_time=50, seed=0)
    assert flat.ended == "max_time"
    with pytest.warns(RuntimeWarning, match="returned value '0.5' .* not a number; counted as a failed"):
        text = simulate(lambda c, b: ("0.5", b), line_space(), max_budget=9, max_evaluations=3)
    assert text.best_value is None


def test_wait_and_done_with_a_finite_plan():
    r = simulate(toy_curve, toy_space(), scheduler="asha", max_budget=9, workers=4, max_time=1e6,
                 max_trials=5, seed=0)
    assert r.ended == "done"
    assert len(r.scheduler.trials) == 5
    assert r.utilization < 1.0  # workers idled while the last trials ran


def test_presets_bring_their_searcher_unless_one_is_given():
    if "tpe" not in searchers.available():
        pytest.skip("tpe is not available yet")
    from tunestack.searchers.tpe import TPESearcher

    r = simulate(toy_curve, toy_space(), scheduler="bohb", max_budget=9, workers=2, max_time=60, seed=0)
    assert r.searcher.name == "tpe" and r.scheduler.name == "hyperband"
    preset_clip = r.searcher.config.magic_clip
    assert preset_clip != TPESearcher(toy_space()).config.magic_clip, "the preset sets tpe's magic_clip"
    r = simulate(toy_curve, toy_space(), searcher="random", scheduler="bohb", max_budget=9, max_time=20)
    assert r.searcher.name == "random" and r.scheduler.name == "hyperband"
    r = simulate(toy_curve, toy_space(), searcher="tpe", scheduler="bohb", max_budget=9, max_time=20)
    assert r.searcher.config.magic_clip == preset_clip, "naming the preset's own searcher keeps its settings"


def test_mode_max():
    def neg(config, budget):
        v, c = toy_curve(config, budget)
        return -v, c

    lo = simulate(toy_curve, toy_space(), scheduler="sh", max_budget=9, workers=2, max_time=200, seed=3)
    hi = simulate(neg, toy_space(), scheduler="sh", max_budget=9, workers=2, max_time=200, seed=3, mode="max")
    assert [h["trial_id"] for h in hi.history] == [h["trial_id"] for h in lo.history]
    assert hi.best_value == pytest.approx(-lo.best_value)


def test_clear_errors():
    with pytest.raises(SimulationError, match="max_time"):
        simulate(toy_curve, toy_space(), max_budget=9)
    with pytest.raises(SimulationError, match=r"\(value, cost_seconds\)"):
        simulate(lambda c, b: 1.0, toy_space(), max_budget=9, max_evaluations=3)
    with pytest.raises(SimulationError, match="cost"):
        simulate(lambda c, b: (1.0, -1.0), toy_space(), max_budget=9, max_evaluations=3)
    with pytest.raises(SimulationError, match="workers"):
        simulate(toy_curve, toy_space(), max_budget=9, max_evaluations=3, workers=0)
    with pytest.raises(SimulationError, match="mode"):
        simulate(toy_curve, toy_space(), scheduler=_sh(), max_budget=9, max_evaluations=3, mode="max")
    # a searcher object for another space failed every evaluation; its options were ignored
    from tunestack.searchers import create

    with pytest.raises(SimulationError, match="searcher object searches another space"):
        simulate(toy_curve, toy_space(), searcher=create("random", line_space()), max_budget=9, max_evaluations=3)
    with pytest.raises(SimulationError, match=r"searcher options \['n_startup'\] need a searcher name"):
        simulate(toy_curve, toy_space(), searcher=create("tpe", toy_space()), max_budget=9, max_evaluations=3,
                 searcher_kwargs={"n_startup": 3})
    with pytest.raises(SimulationError, match="searcher object has mode='max'"):
        simulate(toy_curve, toy_space(), searcher=create("tpe", toy_space(), mode="max"), max_budget=9,
                 max_evaluations=3)
    # these ran no evaluation at all, without a word
    for bad in (-1, 0, float("nan")):
        with pytest.raises(SimulationError, match="max_time must be > 0"):
            simulate(toy_curve, toy_space(), max_budget=9, max_time=bad)
    for bad in (0, 2.5):
        with pytest.raises(SimulationError, match="max_evaluations must be a whole number >= 1"):
            simulate(toy_curve, toy_space(), max_budget=9, max_evaluations=bad)


def test_asha_beats_random_search_at_equal_time():
    """ASHA spends the same simulated time on many cheap looks and a few full runs; on a learning-curve
    objective whose early values rank configurations well, it finds a better final value."""
    asha, fifo = [], []
    for seed in range(6):
        kw = dict(max_budget=27, workers=4, max_time=800, seed=seed)
        asha.append(simulate(toy_curve, toy_space(), scheduler="asha", **kw).best_value)
        fifo.append(simulate(toy_curve, toy_space(), **kw).best_value)
    asha, fifo = np.array(asha), np.array(fifo)
    assert (asha < fifo).sum() >= 5, (asha, fifo)
    assert np.median(asha) < 0.5 * np.median(fifo), (asha, fifo)


def test_an_lce_stop_records_its_predicted_final_and_tells_it():
    r = simulate(toy_curve, toy_space(), searcher="tpe", scheduler="lce", min_budget=1, max_budget=20,
                 max_evaluations=400, seed=0)
    stops = [h for h in r.history if h["decision"] == "stop" and h["reason"].startswith("stopped early: P")]
    assert stops, "lce stopped nothing on the toy curves"
    for h in stops:
        # the predictive median of a stopped trial lies on the losing side of the incumbent then
        incumbent = min(g["value"] for g in r.history if g["budget"] == 20 and g["time"] <= h["time"])
        assert h["predicted"] >= incumbent
        rec = r.searcher.trials[h["trial_id"]]
        assert rec.predicted and rec.results[None] == pytest.approx(h["predicted"])
    assert all(h["predicted"] is None for h in r.history if h not in stops)


def test_the_result_carries_the_schedulers_notes():
    def percent(config, budget):  # an accuracy in percent, maximized
        top = 90 - 30 * (config["x"] - 0.3) ** 2
        return top - (top - 10) * math.exp(-budget / 3), budget

    r = simulate(percent, toy_space(), scheduler="lce", max_budget=9, max_evaluations=60, seed=0, mode="max")
    assert any("scheduler_kwargs={'optimum': 100}" in n for n in r.notes)
    r = simulate(percent, toy_space(), scheduler="lce", max_budget=9, max_evaluations=60, seed=0, mode="max",
                 scheduler_kwargs={"optimum": 100})
    assert not any("log value space" in n for n in r.notes)
    assert simulate(toy_curve, toy_space(), scheduler="asha", max_budget=9, max_evaluations=20).notes == []
    # scheduler_kwargs as in fn.tune, or keyword arguments; not both for one option
    same = simulate(percent, toy_space(), scheduler="lce", max_budget=9, max_evaluations=60, seed=0, mode="max",
                    optimum=100)
    assert [h["decision"] for h in same.history] == [h["decision"] for h in r.history]
    with pytest.raises(SimulationError, match="given twice"):
        simulate(percent, toy_space(), scheduler="lce", max_budget=9, max_evaluations=6, optimum=100,
                 scheduler_kwargs={"optimum": 1})
