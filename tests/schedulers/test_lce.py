"""The learning-curve extrapolation scheduler: curve fits, calibration, decisions, state, cost."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from benchmarks.lce.synthetic import curve as synthetic_curve
from tunestack.schedulers import SchedulerError, create
from tunestack.schedulers.lce import LCEScheduler, predict_final
from tunestack.schedulers.lce.calibration import (backtest, pits, probit_recalibrate, recalibrate, scale_recalibrate,
                                                  space_weight)
from tunestack.schedulers.lce.curves import FAMILIES, family_names

T = 50
BUDGETS = np.arange(1, T + 1, dtype=float)


def _family(name: str):
    return tuple(f for f in FAMILIES if f.name == name)


def _run_trial(s: LCEScheduler, tid: str, values, budgets=BUDGETS):
    """Report ``values`` at ``budgets`` until the scheduler stops the trial; the last decision."""
    s.add_trial(tid)
    dec = None
    for b, v in zip(budgets, values):
        dec = s.on_result(tid, float(b), float(v))
        if dec.action == "stop":
            break
    return dec


def _with_incumbents(final: float = 0.1, **kw) -> LCEScheduler:
    """A scheduler with three completed trials whose final values are ``final`` .. ``final + 0.02``."""
    s = create("lce", min_budget=1, max_budget=T, seed=0, **kw)
    for i in range(3):
        curve = final + 0.01 * i + 0.8 * (BUDGETS ** -0.8 - T ** -0.8)  # ends at final + 0.01 i
        dec = _run_trial(s, f"inc{i}", curve)
        assert dec.reason == "completed"
    return s


# ---- curve fits --------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.3, 0.8, 1.6])
def test_pow3_fit_recovers_the_exponent_and_the_final_value(alpha):
    rng = np.random.default_rng(1)
    t = BUDGETS / T
    clean = 0.2 + 0.5 * BUDGETS ** -alpha
    y = clean + 0.005 * rng.standard_normal(T)  # 1% of the amplitude
    p = predict_final(t[:30], y[:30], 1.0, _family("pow3"))
    assert p.shape_mean(0)[0] == pytest.approx(alpha, rel=0.15)
    assert p.median() == pytest.approx(clean[-1], abs=0.01)
    lo, hi = p.interval(0.9)
    assert lo < clean[-1] < hi


def test_exponential_fit_recovers_the_rate():
    t = BUDGETS / T
    kappa = 8.0  # in units of the full budget
    y = 1.0 + 2.0 * np.exp(-kappa * t) + 0.02 * np.random.default_rng(2).standard_normal(T)
    p = predict_final(t[:25], y[:25], 1.0, _family("exp3"))
    assert p.shape_mean(0)[0] == pytest.approx(kappa, rel=0.15)
    assert p.median() == pytest.approx(1.0 + 2.0 * math.exp(-kappa), abs=0.03)


def test_the_ensemble_drops_families_that_cannot_make_the_shape_and_covers_the_truth():
    t = BUDGETS / T
    clean = 0.3 + 0.6 / (1 + (10 * t) ** 2.5)  # MMF: a plateau, then a drop
    y = clean + 0.006 * np.random.default_rng(3).standard_normal(T)
    p = predict_final(t[:30], y[:30], spaces=("identity",))
    # the convex-from-the-start families cannot produce it
    assert p.family_weights["pow3"] + p.family_weights["ilog2"] + p.family_weights["loglog"] < 0.05
    assert p.family_weights["mmf"] + p.family_weights["janoschek"] > 0.2
    lo, hi = p.interval(0.9)
    assert lo < clean[-1] < hi and hi - lo < 0.2
    assert sum(p.family_weights.values()) == pytest.approx(1.0)
    assert set(p.family_weights) == set(family_names())


def test_the_hyper_g_prior_does_not_shrink_a_large_drop():
    """A drop 450x the noise: the fixed unit-information g (the first version) pulls the extrapolation
    towards the curve's mean and inflates the noise by var(y)/n; the hyper-g/n prior lets the data set g."""
    t = BUDGETS / T
    clean = 0.05 + 0.9 * np.exp(-6 * t)
    y = clean + 0.002 * np.random.default_rng(7).standard_normal(T)
    ident = ("identity",)  # the g prior is the same in both value spaces; tested in one
    hyper = predict_final(t[:20], y[:20], spaces=ident)
    unit = predict_final(t[:20], y[:20], g_prior="unit", spaces=ident)
    assert hyper.median() == pytest.approx(clean[-1], abs=0.01)
    lo, hi = hyper.interval(0.9)
    assert lo < clean[-1] < hi + 0.002 and hi - lo < 0.1
    ulo, uhi = unit.interval(0.9)
    assert uhi - ulo > 3 * (hi - lo)


def test_quantiles_invert_the_cdf_and_the_density_integrates():
    b, y, _ = synthetic_curve(np.random.default_rng(4), T)
    p = predict_final(b[:15] / T, y[:15])
    qs = p.quantile([0.05, 0.5, 0.95])
    assert np.all(np.diff(qs) > 0)
    for q, x in zip([0.05, 0.5, 0.95], qs):
        assert p.cdf(x) == pytest.approx(q, abs=1e-8)
    grid = np.linspace(*p.quantile([1e-4, 1 - 1e-4]), 4001)
    dens = np.array([p.pdf(x) for x in grid])
    assert np.trapezoid(dens, grid) == pytest.approx(1 - 2e-4, abs=2e-3)
    assert p.logpdf(qs[1]) == pytest.approx(math.log(p.pdf(qs[1])))


def _power_law_multiplicative(rng, a=0.5, alpha=0.9, noise=0.05):
    """A loss falling towards zero as a power law, noise proportional to the value (log-space truth)."""
    return a * BUDGETS ** -alpha * np.exp(noise * rng.standard_normal(T))


def test_a_positive_curve_is_also_fitted_in_log_space_which_keeps_the_final_positive():
    rng = np.random.default_rng(21)
    truth = 0.5 * T ** -0.9
    for _ in range(3):
        y = _power_law_multiplicative(rng)
        both = predict_final(BUDGETS[:15] / T, y[:15])
        ident = predict_final(BUDGETS[:15] / T, y[:15], spaces=("identity",))
        logsp = predict_final(BUDGETS[:15] / T, y[:15], spaces=("log",))
        assert both.space_weights["log"] > 0.6  # the evidence prefers the space where the noise is iid
        assert sum(both.space_weights.values()) == pytest.approx(1.0)
        assert logsp.cdf(0.0) == 0.0 and logsp.cdf(-1.0) == 0.0 and logsp.pdf(-1.0) == 0.0
        assert both.cdf(0.0) < 0.5 * ident.cdf(0.0)  # the identity space puts mass on impossible losses
        assert logsp.logpdf(truth) > ident.logpdf(truth)
        assert both.median() == pytest.approx(truth, rel=0.35)
    # a curve with a value <= 0 is fitted in the identity space only
    neg = predict_final(BUDGETS[:15] / T, y[:15] - 0.1)
    assert neg.space_weights == {"identity": 1.0} and not neg.log.any()


def test_log_space_quantiles_invert_the_cdf_and_the_density_integrates():
    y = _power_law_multiplicative(np.random.default_rng(5), noise=0.1)
    p = predict_final(BUDGETS[:10] / T, y[:10], spaces=("log",))
    assert p.log.all() and p.mean() == math.inf  # a log-Student-t has no mean
    qs = p.quantile([0.01, 0.5, 0.99])
    assert 0 < qs[0] < qs[1] < qs[2]
    for q, x in zip([0.01, 0.5, 0.99], qs):
        assert p.cdf(x) == pytest.approx(q, abs=1e-8)
    grid = np.geomspace(*p.quantile([1e-4, 1 - 1e-4]), 20001)
    dens = np.array([p.pdf(x) for x in grid])
    assert np.trapezoid(dens, grid) == pytest.approx(1 - 2e-4, abs=3e-3)
    given = predict_final(BUDGETS[:10] / T, y[:10]).given_space("log")
    assert given.cdf(float(qs[1])) == pytest.approx(p.cdf(float(qs[1])), abs=0.05)


def test_bad_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="at least"):
        predict_final(np.array([0.1, 0.2]), np.array([1.0, 0.9]))
    with pytest.raises(ValueError, match="finite"):
        predict_final(np.linspace(0.1, 0.5, 5), np.array([1, 0.9, np.nan, 0.8, 0.7]))
    t, y = np.linspace(0.1, 0.5, 5), np.linspace(1.0, 0.6, 5)
    with pytest.raises(ValueError, match="temper"):
        predict_final(t, y, temper=0.0)
    with pytest.raises(ValueError, match="g_prior"):
        predict_final(t, y, g_prior="zellner")
    with pytest.raises(ValueError, match="burn_in"):
        predict_final(t, y, burn_in=-0.1)


# ---- calibration -----------------------------------------------------------------------------------
@pytest.mark.parametrize("frac", [0.25, 0.5])
def test_predictive_intervals_are_calibrated_on_synthetic_noisy_curves(frac):
    """Coverage of the 50% and 90% intervals of the final value on 60 held-out synthetic curves."""
    rng = np.random.default_rng(11)
    in50, in90, low_tail = [], [], []
    for _ in range(60):
        b, y, _ = synthetic_curve(rng, T)
        k = int(frac * T)
        p = predict_final(b[:k] / T, y[:k])
        q05, q25, q75, q95 = p.quantile([0.05, 0.25, 0.75, 0.95])
        in50.append(q25 <= y[-1] <= q75)
        in90.append(q05 <= y[-1] <= q95)
        low_tail.append(y[-1] < q05)
    assert 0.35 <= np.mean(in50) <= 0.8, np.mean(in50)
    assert 0.8 <= np.mean(in90) <= 1.0, np.mean(in90)
    assert np.mean(low_tail) <= 0.1  # the tail the stopping rule relies on is not overconfident


def test_recalibration_map_follows_the_backtests():
    calibrated = {str(i): [[0.5, u]] for i, u in enumerate(np.linspace(0.05, 0.95, 10))}
    assert recalibrate(0.5, 0.5, calibrated) == pytest.approx(0.5, abs=0.05)
    overconfident = {str(i): [[0.5, 0.001]] for i in range(10)}  # finals far below the predictions
    assert recalibrate(0.01, 0.5, overconfident) > 0.8
    assert recalibrate(0.3, 0.5, {}) == pytest.approx(0.3)  # no data: the raw model


def test_probit_recalibration_keeps_a_calibrated_model_and_widens_an_overconfident_one():
    rng = np.random.default_rng(0)
    calibrated = {str(i): [[0.5, float(u)]] for i, u in enumerate(rng.uniform(size=200))}
    assert probit_recalibrate(0.05, 0.5, calibrated) == pytest.approx(0.05, abs=0.015)
    assert probit_recalibrate(0.5, 0.5, calibrated) == pytest.approx(0.5, abs=0.06)
    # finals far outside the predictive (PITs near 0 and 1): a small p is raised a lot
    overconfident = {str(i): [[0.5, u]] for i, u in enumerate([1e-4, 0.9999] * 10)}
    assert probit_recalibrate(0.01, 0.5, overconfident) > 0.15
    # no completed trials yet: the prior (2 calibrated pseudo-trials) only widens, smoothly
    p0 = probit_recalibrate(0.01, 0.5, {})
    assert 0.01 < p0 < 0.1 and probit_recalibrate(1e-6, 0.5, {}) < p0
    # the checkpoint nearest the decision's budget fraction is used
    mixed = {str(i): [[0.1, 1e-6], [0.7, 0.5]] for i in range(20)}
    assert probit_recalibrate(0.01, 0.1, mixed) > 0.5 > probit_recalibrate(0.01, 0.7, mixed)


def test_scale_recalibration_learns_the_spread_in_both_directions():
    rng = np.random.default_rng(1)
    calibrated = {str(i): [[0.3, float(u)]] for i, u in enumerate(rng.uniform(size=200))}
    assert scale_recalibrate(0.05, 0.3, calibrated) == pytest.approx(0.05, abs=0.015)
    underconfident = {str(i): [[0.3, float(u)]] for i, u in enumerate(rng.uniform(0.3, 0.7, size=30))}
    assert scale_recalibrate(0.05, 0.3, underconfident) < 0.005  # bolder: the finals land mid-interval
    overconfident = {str(i): [[0.3, u]] for i, u in enumerate([0.001, 0.999, 0.5] * 10)}
    assert scale_recalibrate(0.05, 0.3, overconfident) > 0.15
    assert scale_recalibrate(0.5, 0.3, overconfident) == pytest.approx(0.5)  # the location is not moved


def test_backtest_gives_records_at_the_checkpoints_in_both_spaces():
    y = 0.1 + 0.8 * BUDGETS ** -0.7
    recs = backtest(BUDGETS[:-1], y[:-1], T, float(y[-1]), 5, 0.1, predict_final)
    assert [r[0] for r in recs] == [0.1, 0.2, 0.3, 0.5, 0.7]
    for frac, d, lp_id, u_id, lp_log, u_log in recs:
        assert math.isfinite(d) and 0.0 <= u_id <= 1.0 and 0.0 <= u_log <= 1.0
        assert -50 <= lp_id <= 50 and -50 <= lp_log <= 50
    u = pits(recs, 0.5)
    assert all(min(r[3], r[5]) <= uu <= max(r[3], r[5]) for r, (_, uu) in zip(recs, u))
    # a curve with a value <= 0 has no log space: its records say so
    neg = backtest(BUDGETS[:-1], y[:-1] - 0.5, T, float(y[-1] - 0.5), 5, 0.1, predict_final)
    assert all(r[1] is None and r[4] is None and r[5] is None for r in neg)
    # a stopped trial is back-tested on its last result: prefixes at fractions of that budget
    short = backtest(BUDGETS[:29], y[:29], T, float(y[29]), 5, 0.1, predict_final, target_budget=30.0)
    assert [r[0] for r in short] == [0.2, 0.3, 0.5, 0.7]  # 0.1 * 30 = 3 results: too few


def test_space_weight_follows_the_back_tests():
    """Bayesian stacking of the two value spaces: the space that predicted the finals better wins."""
    assert space_weight({}) == 0.5
    # d = 0 (the prefixes did not tell the spaces apart); the log space predicted the finals better
    log_better = {str(i): [[0.3, 0.0, -3.0, 0.5, 1.0, 0.5]] for i in range(20)}
    id_better = {str(i): [[0.3, 0.0, 1.0, 0.5, -3.0, 0.5]] for i in range(20)}
    assert space_weight(log_better) > 0.9 and space_weight(id_better) < 0.1
    # one trial is little evidence: the Beta(2, 2) prior keeps the weight near 1/2
    assert 0.5 < space_weight({"a": log_better["0"]}) < 0.8
    # records without a log space do not count
    assert space_weight({"a": [[0.3, None, 1.0, 0.5, None, None]]}) == 0.5


# ---- decisions -------------------------------------------------------------------------------------
def test_a_clearly_bad_trial_is_stopped_with_a_predicted_value():
    s = _with_incumbents(0.1)
    bad = 0.5 + 0.8 * BUDGETS ** -0.8 + 0.002 * np.sin(BUDGETS)
    dec = _run_trial(s, "bad", bad)
    assert dec.action == "stop" and dec.reason.startswith("stopped early")
    assert s.trial_status("bad")["status"] == "stopped"
    assert s.trial_status("bad")["budget_reached"] <= 0.3 * T
    assert dec.predicted == pytest.approx(bad[-1], abs=0.05)
    assert dec.predicted > 0.1  # on the losing side of the incumbent


def test_a_promising_trial_runs_to_the_end():
    s = _with_incumbents(0.1)
    good = 0.05 + 0.8 * BUDGETS ** -0.8
    dec = _run_trial(s, "good", good)
    assert dec.reason == "completed"
    assert s.incumbent() == pytest.approx(good[-1])


def test_mode_max_flips_the_rule_and_the_predicted_value():
    s = create("lce", min_budget=1, max_budget=T, seed=0, mode="max")
    for i in range(3):
        acc = 0.9 - 0.01 * i - 0.8 * BUDGETS ** -0.8
        assert _run_trial(s, f"inc{i}", acc).reason == "completed"
    dec = _run_trial(s, "bad", 0.5 - 0.8 * BUDGETS ** -0.8)
    assert dec.action == "stop" and dec.reason.startswith("stopped early")
    assert 0.3 < dec.predicted < 0.6  # in the user's direction (an accuracy)


def test_no_stop_without_an_incumbent():
    s = create("lce", min_budget=1, max_budget=T, seed=0, min_completed=2)
    assert _run_trial(s, "a", 0.1 + BUDGETS ** -0.5).reason == "completed"
    dec = _run_trial(s, "b", 5.0 + BUDGETS ** -0.5)  # terrible, but only one trial completed
    assert dec.reason == "completed"
    assert s.next_action().kind == "new"


def test_no_decision_before_min_points_and_min_fraction():
    s = _with_incumbents(0.1, min_points=8, min_fraction=0.3)
    s.add_trial("bad")
    for b in BUDGETS[:14]:  # 14 points but below 30% of 50
        assert s.on_result("bad", float(b), 5.0 + 0.01 * math.sin(b)).action == "continue"
    s2 = _with_incumbents(0.1, min_points=8, min_fraction=0.0)
    s2.add_trial("bad")
    for b in BUDGETS[:7]:
        assert s2.on_result("bad", float(b), 5.0 + 0.01 * math.sin(b)).action == "continue"
    assert s2.on_result("bad", 8.0, 5.0).action == "stop"


def test_decisions_follow_the_geometric_grid():
    """After the first eligible result, a fit only where the budget passes max_budget * 1.1^-k."""
    s = _with_incumbents(5.0, min_fraction=0.1)  # a bad incumbent: every fit says continue
    s.add_trial("x")
    fitted = []
    for b in range(1, T):
        s.on_result("x", float(b), 1.0 + b ** -0.5)
        if s.last_prediction.get("x", {}).get("budget") == float(b):
            fitted.append(b)
    grid = {math.ceil(T * 1.1 ** -k - 1e-9) for k in range(40)}
    assert fitted[0] == 5  # min_points
    assert set(fitted[1:]) <= grid and len(fitted) < 0.6 * (T - 5)
    every = _with_incumbents(5.0, check_growth=1.0)
    every.add_trial("x")
    n = 0
    for b in range(1, 40):
        every.on_result("x", float(b), 1.0 + b ** -0.5)
        n += every.last_prediction.get("x", {}).get("budget") == float(b)
    assert n == 35


def test_divergence_stops_with_a_clear_reason():
    s = _with_incumbents(0.1)
    s.add_trial("boom")
    for b in range(1, 4):
        assert s.on_result("boom", b, 1.0 / b).action == "continue"
    dec = s.on_result("boom", 4, 50.0)  # exploding loss
    assert dec.action == "stop" and "diverged" in dec.reason
    assert s.trial_status("boom")["status"] == "stopped"
    s.add_trial("nan")
    s.on_result("nan", 1, 1.0)
    dec = s.on_result("nan", 2, float("nan"))
    assert dec.action == "stop" and dec.reason.startswith("failed: diverged")
    assert s.trial_status("nan")["status"] == "failed"


def test_noisy_non_monotone_curves_are_not_called_divergent():
    s = _with_incumbents(0.1)
    rng = np.random.default_rng(5)
    noisy = 0.05 + 0.8 * BUDGETS ** -0.8 + 0.03 * rng.standard_normal(T)
    for b, v in zip(BUDGETS, noisy):
        dec = s.on_result("x", float(b), float(v)) if "x" in s.trials else (s.add_trial("x"),
                                                                              s.on_result("x", float(b), float(v)))[1]
        assert "diverged" not in dec.reason


def test_state_round_trip_gives_identical_decisions():
    rng = np.random.default_rng(6)
    curves = [synthetic_curve(rng, T)[1] for _ in range(8)]
    a = create("lce", min_budget=1, max_budget=T, seed=3)
    for i, c in enumerate(curves[:5]):
        _run_trial(a, str(i), c)
    a.add_trial("5")
    for b, v in zip(BUDGETS[:10], curves[5][:10]):
        a.on_result("5", float(b), float(v))
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))
    b_ = create("lce", min_budget=1, max_budget=T, seed=99)
    b_.load_state_dict(state)
    assert b_.pits == a.pits and b_.incumbent() == a.incumbent() and a.pits
    for s in (a, b_):
        s.log = [s.on_result("5", float(b), float(v)) for b, v in zip(BUDGETS[10:], curves[5][10:])
                 if s.trial_status("5")["status"] == "running"]
        s.log += [_run_trial(s, str(i), c) for i, c in zip((6, 7), curves[6:])]
    assert a.log == b_.log


def test_the_scheduler_learns_the_log_space_weight_from_completed_and_stopped_trials():
    rng = np.random.default_rng(21)
    s = create("lce", min_budget=1, max_budget=T, seed=0)
    weights = [s.log_weight]
    for i in range(12):
        y = _power_law_multiplicative(rng, rng.uniform(0.3, 1.0), rng.uniform(0.4, 1.2))
        _run_trial(s, str(i), y)
        weights.append(s.log_weight)
    assert weights[0] == 0.5 and weights[-1] > 0.65  # log-space truth: the log space gains weight
    stopped = [k for k in s.trials if s.trial_status(k)["status"] == "stopped"]
    assert stopped and set(s.horizon_tests) <= set(stopped) and s.horizon_tests
    assert set(s.backtests) == {k for k in s.trials if s.trial_status(k)["status"] == "completed"}
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    r = create("lce", min_budget=1, max_budget=T, seed=1)
    r.load_state_dict(state)
    assert r.log_weight == s.log_weight and r.backtests == s.backtests and r.pits == s.pits
    # with the identity space alone nothing is learnt and the predictions never use log
    only = create("lce", min_budget=1, max_budget=T, seed=0, spaces=["identity"])
    for i in range(4):
        _run_trial(only, str(i), _power_law_multiplicative(rng))
    assert only.log_weight == 0.5 and not only.predict("3").log.any()


def test_the_default_recalibration_only_widens():
    """Survivors whose finals land mid-interval (an underconfident-looking model) must not sharpen P(beat):
    the default keeps the raw probability; the two-sided ``"scale"`` map lowers it."""
    under = {str(i): [[0.1, float(u)]] for i, u in enumerate(np.linspace(0.35, 0.65, 30))}
    over = {str(i): [[0.1, u]] for i, u in enumerate([0.001, 0.999, 0.5] * 10)}
    widen, both = create("lce", max_budget=T), create("lce", max_budget=T, recalibration="scale")
    assert widen.recalibration == "scale_widen"
    for s, data in ((widen, under), (both, under)):
        s.pits = data
    assert widen._recalibrated(0.1, 0.12) == 0.1 and both._recalibrated(0.1, 0.12) < 0.02
    widen.pits = over
    assert widen._recalibrated(0.02, 0.12) > 0.1  # overdispersed PITs still widen


def test_options_are_validated_with_clear_messages():
    with pytest.raises(SchedulerError, match="threshold"):
        create("lce", max_budget=10, threshold=0.7)
    with pytest.raises(SchedulerError, match="min_points"):
        create("lce", max_budget=10, min_points=2)
    with pytest.raises(SchedulerError, match="min_completed"):
        create("lce", max_budget=10, min_completed=0)
    with pytest.raises(SchedulerError, match="recalibration"):
        create("lce", max_budget=10, recalibration="isotonic")
    with pytest.raises(SchedulerError, match="check_growth"):
        create("lce", max_budget=10, check_growth=0.5)
    with pytest.raises(SchedulerError, match="spaces"):
        create("lce", max_budget=10, spaces=["sqrt"])
    with pytest.raises(SchedulerError, match="burn_in"):
        create("lce", max_budget=10, burn_in=1.0)
    s = create("lce", max_budget=10)
    s.add_trial("a")
    with pytest.raises(SchedulerError, match="at least"):
        s.predict("a")


def test_burn_in_leaves_the_early_points_out_of_the_fit_but_keeps_enough():
    t = np.arange(1, 41) / 40.0
    y = 0.1 + 0.5 * t ** -0.7 + 0.002 * np.sin(np.arange(40))
    p = predict_final(t, y, burn_in=0.25)
    ref = predict_final(t[t >= 0.25 * t[-1]], y[t >= 0.25 * t[-1]])  # the same fit on the kept points
    assert p.median() == pytest.approx(ref.median(), rel=1e-12)
    assert p.n_eff == ref.n_eff and p.median() != pytest.approx(predict_final(t, y).median(), rel=1e-6)
    short = predict_final(t[:8], y[:8], burn_in=0.5)  # no point may go: 8 is the fewest a burn-in keeps
    assert short.median() == pytest.approx(predict_final(t[:8], y[:8]).median(), rel=1e-12)
    s = create("lce", max_budget=40, burn_in=0.25)
    s.add_trial("a")
    for b, v in zip(range(1, 31), y):
        s.on_result("a", float(b), float(v))
    kept = slice(7, 30)  # budgets 8..30 (>= 0.25 x 30)
    assert s.predict("a").median() == pytest.approx(predict_final(t[kept], y[kept]).median(), rel=1e-9)
    back = create("lce", max_budget=40)
    back.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert back.burn_in == 0.25 and back.predict("a").median() == pytest.approx(s.predict("a").median())


def test_long_curves_are_thinned_and_decisions_stay_cheap():
    """Median decision latency on 50-point curves well under the 50 ms budget (smoke check)."""
    s = _with_incumbents(5.0)  # a bad incumbent: every result is fitted and the trial continues
    rng = np.random.default_rng(8)
    times = []
    for i in range(3):
        _, y, _ = synthetic_curve(rng, T)
        s.add_trial(f"x{i}")
        for b, v in zip(BUDGETS, y):
            t0 = time.perf_counter()
            s.on_result(f"x{i}", float(b), float(v))
            times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.05
    assert len(s.last_prediction) == 3
    long = create("lce", min_budget=1, max_budget=1000, max_points=60)
    long.add_trial("L")
    for b in range(1, 400):
        long.results = long.on_result("L", b, 1.0 + b ** -0.5)
    assert len(long._curve(long.trials["L"])[0]) == 60


# ---- a known lower bound (bounded=True) ------------------------------------------------------------
def _steep_positive_curve() -> np.ndarray:
    """A positive curve whose identity-space extrapolation puts much of its mass below zero."""
    rng = np.random.default_rng(8)
    return np.maximum(0.9 * BUDGETS[:8] ** -0.35 - 0.25 + 0.02 * rng.standard_normal(8), 0.05)


def test_a_lower_bound_conditions_the_mixture_by_bayes_rule():
    t, y = BUDGETS[:8] / T, _steep_positive_curve()
    free = predict_final(t, y, space_prior={"identity": 0.7, "log": 0.3})
    bound = predict_final(t, y, space_prior={"identity": 0.7, "log": 0.3}, lower=0.0)
    f0 = free.cdf(0.0)
    assert f0 > 0.05  # the free identity space extrapolates into impossible values
    assert bound.cdf(0.0) == 0.0 and bound.cdf(-1.0) == 0.0 and bound.pdf(-0.1) == 0.0
    for x in (0.01, 0.05, 0.2, 0.5):  # P(final <= x | final > 0), the free mixture conditioned
        assert bound.cdf(x) == pytest.approx((free.cdf(x) - f0) / (1.0 - f0), rel=1e-9)
    # the spaces are conditioned too: the identity space loses its mass below zero
    m = ~free.log
    above_id = float(np.dot(free.within[m], 1.0 - bound.below[m]))  # the identity space's mass above 0
    w_id = free.space_weights["identity"] * above_id
    assert bound.space_weights["identity"] == pytest.approx(w_id / (w_id + free.space_weights["log"]), rel=1e-9)
    assert bound.space_weights["identity"] < free.space_weights["identity"]
    # quantiles invert the cdf, the density integrates to the cdf above the bound, logpdf matches
    qs = bound.quantile([0.05, 0.5, 0.95])
    assert 0.0 < qs[0] < qs[1] < qs[2]
    for q, x in zip([0.05, 0.5, 0.95], qs):
        assert bound.cdf(x) == pytest.approx(q, abs=1e-8)
    grid = np.geomspace(1e-6, bound.quantile([1 - 1e-5])[0], 40001)
    dens = np.array([bound.pdf(x) for x in grid])
    assert np.trapezoid(dens, grid) == pytest.approx(bound.cdf(grid[-1]) - bound.cdf(grid[0]), abs=2e-3)
    assert bound.logpdf(qs[1]) == pytest.approx(math.log(bound.pdf(qs[1])))
    assert bound.given_space("identity").cdf(0.0) == 0.0


def test_the_mean_of_a_bounded_identity_prediction_is_the_truncated_mean():
    from scipy import integrate, stats
    t, y = BUDGETS[:8] / T, _steep_positive_curve()
    p = predict_final(t, y, spaces=("identity",), lower=0.0)
    assert not p.log.any() and p.dof > 1

    def density(x):  # the mixture of the members' t densities (>1,000 members: one integral, not one each)
        return np.dot(p.weights, stats.t.pdf(x, p.dof, p.loc, p.scale))

    ref = (integrate.quad(lambda x: x * density(x), 0.0, np.inf, limit=200)[0]
           / integrate.quad(density, 0.0, np.inf, limit=200)[0])
    assert p.mean() == pytest.approx(ref, rel=1e-5)
    assert p.mean() > predict_final(t, y, spaces=("identity",)).mean()
    with pytest.raises(ValueError, match="no lower bound"):
        predict_final(t, y - 0.5, lower=0.0)


def test_a_bounded_scheduler_stops_an_impossible_extrapolation_sooner_and_unbinds_on_a_nonpositive_value():
    """``bounded=True`` conditions P(beat) on a positive final while every result of the run has been
    positive; a value <= 0 anywhere in the run turns it off for good (also after a state round trip)."""
    curve = 0.35 + 0.55 * BUDGETS ** -0.6  # a flattening loss ending at ~0.37, the incumbents at ~0.02
    stops = {}
    for bounded in (False, True):
        s = _with_incumbents(final=0.02, bounded=bounded)
        dec = _run_trial(s, "x", curve)
        stops[bounded] = s.trial_status("x")["budget_reached"] if dec.action == "stop" else T
        assert s._positive
    assert stops[True] < stops[False] < T  # the bound removes the mass on impossible negative losses
    s = _with_incumbents(final=0.02, bounded=True)
    s.add_trial("neg")
    s.on_result("neg", 1.0, -0.5)  # a value <= 0: the metric is not positive after all
    assert not s._positive and s._predict(BUDGETS[:6] / T, curve[:6]).lower is None
    back = create("lce", min_budget=1, max_budget=T)  # the option comes back with the state
    back.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert back.bounded and not back._positive
    with pytest.raises(SchedulerError, match="bounded"):
        create("lce", max_budget=10, bounded="yes")
    mx = create("lce", min_budget=1, max_budget=T, mode="max", bounded=True, optimum=0.0)
    mx.add_trial("acc")
    mx.on_result("acc", 1.0, 0.8)  # optimum 0 with mode max: an accuracy is below it, no bound
    assert not mx._positive
    mx = create("lce", min_budget=1, max_budget=T, mode="max", bounded=True)  # optimum "auto": 1
    mx.add_trial("acc")
    mx.on_result("acc", 1.0, 0.8)
    assert mx._positive and mx.floor == -1.0  # the bound is the optimum: an accuracy cannot pass 1
    mx.on_result("acc", 2.0, 1.2)  # not an accuracy after all
    assert not mx._positive


def test_student_t_log_density_of_a_huge_deviation_is_minus_inf_without_a_warning():
    """A final value ~1e160 scale units off (a curve far outside the predictive) scores -inf quietly: the
    overflow of z * z must not print a RuntimeWarning into a user's tuning log."""
    import warnings

    from tunestack.schedulers.lce.mixture import _t_logpdf

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _t_logpdf(np.array([0.0, 1e160, -1e200]), 3.0)
    assert np.isfinite(out[0]) and out[1] == -np.inf and out[2] == -np.inf


# ---- the optimum: accuracy curves (mode="max") get the log space of their distance to 1 --------------
def _mirror_runs(error_curves, probe, **kw):
    """The same curves run as errors (mode min) and as accuracies 1 - error (mode max)."""
    out = {}
    for mode in ("min", "max"):
        s = create("lce", min_budget=1, max_budget=T, seed=0, mode=mode, **kw)
        for i, c in enumerate(error_curves):
            _run_trial(s, f"inc{i}", c if mode == "min" else 1.0 - c)
        s.add_trial("p")
        for b, v in zip(BUDGETS[:15], probe[:15]):
            s.on_result("p", float(b), float(v if mode == "min" else 1.0 - v))
        out[mode] = s
    return out


def test_an_accuracy_curve_is_predicted_as_its_error_curve():
    """mode="max" with an accuracy and mode="min" with 1 - accuracy make the same predictions (the log
    space fits log(1 - accuracy)); with optimum=0 the accuracy run loses the log space."""
    finals = (0.06, 0.07, 0.08)
    curves = [f + 0.5 * np.exp(-BUDGETS / 6) for f in finals]
    probe = 0.12 + 0.5 * np.exp(-BUDGETS / 6)
    runs = _mirror_runs(curves, probe)
    lo, hi = runs["min"], runs["max"]
    assert hi.floor == -1.0 and lo.floor == 0.0
    p_min, p_max = lo.predict("p"), hi.predict("p")
    assert p_max.log.any() and p_max.space_weights["log"] == pytest.approx(p_min.space_weights["log"], rel=1e-6)
    assert p_max.median() == pytest.approx(p_min.median(), rel=1e-6)  # both the distance to the optimum
    assert lo.log_weight == pytest.approx(hi.log_weight, rel=1e-6)
    assert hi.trial_status("p")["status"] == lo.trial_status("p")["status"]
    no_log = _mirror_runs(curves, probe, optimum=0.0)["max"]
    assert not no_log.predict("p").log.any()
    with pytest.raises(SchedulerError, match="optimum"):
        create("lce", max_budget=T, optimum="one")


def test_auto_optimum_is_zero_for_a_maximized_metric_outside_the_unit_interval():
    s = create("lce", min_budget=1, max_budget=T, mode="max")
    assert s.floor is None
    s.add_trial("a")
    s.on_result("a", 1.0, 35.0)  # a reward, not an accuracy
    assert s.floor == 0.0
    back = create("lce", min_budget=1, max_budget=T, mode="max")
    back.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert back.floor == 0.0 and back.optimum == "auto"
    fixed = create("lce", min_budget=1, max_budget=T, mode="max", optimum=100)  # a percentage
    assert fixed.floor == -100.0


def _fed(values_by_trial, **kw):
    s = create("lce", min_budget=1, max_budget=len(values_by_trial[0]), seed=0, **kw)
    for i, values in enumerate(values_by_trial):
        s.add_trial(f"t{i}")
        for b, v in enumerate(values, start=1):
            s.on_result(f"t{i}", b, v)
    return s


def test_notes_say_when_the_log_space_was_not_used_and_what_to_pass():
    rising = [10 + 70 * (1 - math.exp(-b / 3)) for b in range(1, 9)]  # an accuracy in percent
    note = " ".join(_fed([rising], mode="max").notes())
    assert "without its log value space" in note and "scheduler_kwargs={'optimum': 100}" in note
    s = _fed([rising], mode="max", optimum=100)
    assert not any("log value space" in n for n in s.notes())
    assert not any("log value space" in n for n in _fed([[v / 100 for v in rising]], mode="max").notes())
    negative = [1.0 - 0.3 * b for b in range(1, 9)]  # reaches -1.4: not a loss bounded by 0
    assert any("a result (-1.4) was <= 0" in n for n in _fed([negative]).notes())
    past = _fed([[0.5, 0.8, 0.95, 1.02, 1.03, 1.04]], mode="max", optimum=1.0)
    assert any("a result (1.04) reached or passed optimum=1" in n for n in past.notes())
    # derived from the trials' results: the same after a state round trip
    back = create("lce", min_budget=1, max_budget=6, seed=0, mode="max", optimum=1.0)
    back.load_state_dict(json.loads(json.dumps(past.state_dict())))
    assert back.notes() == past.notes()
