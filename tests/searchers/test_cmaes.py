"""Tests of the CMA-ES searcher (``cmaes``) and its numerics (``cma_core``)."""
from __future__ import annotations

import json
import math
from statistics import NormalDist

import ConfigSpace as CS
import numpy as np
import pytest

from tunestack.searchers import create
from tunestack.searchers import cma_core as core
from tunestack.searchers.cmaes import CMAESSearcher, _thresholds
from tunestack.space import SearchSpace, SpaceError


def box(n: int) -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(n)])
    return cs


def xs(config: dict, n: int) -> np.ndarray:
    return np.array([config[f"x{i}"] for i in range(n)])


def sphere(x: np.ndarray) -> float:
    return float(np.sum((x - 0.3) ** 2))


def ellipsoid(x: np.ndarray) -> float:
    n = len(x)
    return float(np.sum(10 ** (3 * np.arange(n) / max(1, n - 1)) * (x - 0.3) ** 2))


def minimize(s: CMAESSearcher, f, n_evals: int) -> list[float]:
    values = []
    for _ in range(n_evals):
        sug = s.ask()
        values.append(f(sug.config))
        s.tell(sug.id, values[-1])
    return values


# ---- numerics ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 10, 40])
def test_strategy_parameters_follow_the_tutorial(n):
    p = core.make_params(n, core.default_popsize(n))
    assert p.lam == 4 + math.floor(3 * math.log(n)) and p.mu == p.lam // 2
    pos = p.weights[p.weights > 0]
    assert pos.sum() == pytest.approx(1.0) and np.all(np.diff(p.weights) < 0)
    assert 1 <= p.mu_eff <= p.mu
    assert 0 < p.c_1 and 0 <= p.c_mu and p.c_1 + p.c_mu <= 1
    assert 0 < p.c_sigma < 1 and p.d_sigma >= 1 and 0 < p.c_c <= 1
    # Eq. 53 with alpha_mu^- = 1 + c_1 / c_mu: the rank-mu decay cancels (1 - c_1 - c_mu * sum w = 1)
    if p.c_mu > 0 and (1 + p.c_1 / p.c_mu) <= (1 - p.c_1 - p.c_mu) / (n * p.c_mu):
        assert 1 - p.c_1 - p.c_mu * p.weights.sum() <= 1 + 1e-12


def test_repair_projects_and_uses_the_projected_point():
    rng = np.random.default_rng(0)
    state = core.new_state(np.array([0.5, 0.9, 0.1]), 0.2)
    L = np.array([[1.0, 0, 0], [0.99, 0.1, 0], [0.3, 0.2, 0.5]])
    state.C = L @ L.T  # strongly correlated
    assert core._decompose(state)
    inside = np.array([0.4, 0.8, 0.3])
    u, y = core.repair(state, inside)
    assert np.array_equal(u, inside) and np.allclose(state.point(y), inside)
    limit = math.sqrt(3) + 2 * 3 / 5
    for _ in range(200):
        x = state.point(core.sample_y(state, rng) * 3)
        u, y = core.repair(state, x)
        assert np.all((0 <= u) & (u <= 1)) and np.array_equal(u, np.clip(x, 0, 1))
        if np.array_equal(u, x):
            continue
        assert np.linalg.norm(np.linalg.solve(np.linalg.cholesky(state.C), y)) <= limit + 1e-9
        # the step points from the mean towards the projected point
        d = u - state.mean
        assert np.allclose(np.cross(state.point(y) - state.mean, d), 0, atol=1e-12)


def test_margin_keeps_the_probability_of_leaving_the_cell():
    bounds = np.arange(1, 5) / 5  # five equal cells
    state = core.new_state(np.array([0.3, 0.05, 0.97]), 1e-4)  # a middle cell and the two edge cells
    alpha = 0.05
    core.margin_scale(state, [bounds, bounds, bounds], alpha)
    sd = state.sigma * state.A * np.sqrt(np.diag(state.C))
    cdf = NormalDist().cdf
    p_low, p_up = cdf((0.2 - 0.3) / sd[0]), 1 - cdf((0.4 - 0.3) / sd[0])
    assert min(p_low, p_up) >= alpha / 2 - 1e-9
    assert 1 - cdf((0.2 - 0.05) / sd[1]) >= alpha - 1e-9  # only one threshold: alpha across it
    assert cdf((0.8 - 0.97) / sd[2]) >= alpha - 1e-9
    assert np.all(state.A > 1)
    wide = core.new_state(np.array([0.3]), 0.5)  # the margin is inactive for a wide distribution
    core.margin_scale(wide, [bounds], alpha)
    assert wide.A[0] == 1.0


@pytest.mark.parametrize("hp", [
    CS.Integer("a", (1, 9)), CS.Integer("b", (8, 512), log=True),
    CS.UniformFloatHyperparameter("c", 0.0, 1.0, meta={"q": 0.25}),  # Ray's tune.quniform
    CS.UniformIntegerHyperparameter("e", 0, 30, meta={"q": 5}),  # Ray's tune.qrandint
    CS.OrdinalHyperparameter("d", ["s", "m", "l"]),
])
def test_integer_thresholds_are_where_the_decoded_value_changes(hp):
    cs = CS.ConfigurationSpace()
    cs.add([hp])
    p = SearchSpace.create(cs).params[0]
    t = _thresholds(p)
    assert t is not None and np.all(np.diff(t) > 0) and np.all((0 < t) & (t < 1))
    for u in t:
        assert p.from_unit(u - 1e-7) != p.from_unit(u + 1e-7)
    cells = np.concatenate([[0.0], t, [1.0]])
    for a, b in zip(cells[:-1], cells[1:]):  # no change inside a cell
        assert p.from_unit(a + 0.05 * (b - a)) == p.from_unit(b - 0.05 * (b - a))


# ---- convergence --------------------------------------------------------------------------------------
def test_converges_on_a_sphere_to_high_precision():
    s = create("cmaes", box(3), seed=0)
    values = minimize(s, lambda c: sphere(xs(c, 3)), 500)
    assert min(values) < 1e-8


def test_learns_an_ill_conditioned_ellipsoid():
    s = create("cmaes", box(4), seed=1)
    values = minimize(s, lambda c: ellipsoid(xs(c, 4)), 800)
    assert min(values) < 1e-5


def test_one_dimensional_space_converges():
    s = create("cmaes", box(1), seed=2)
    values = minimize(s, lambda c: (c["x0"] - 0.123) ** 2, 150)
    assert min(values) < 1e-10
    assert s._params.lam == 4  # 4 + floor(3 ln 1)


def test_optimum_on_the_bound_is_reached_exactly_and_the_mean_stays_in_the_box():
    def f(c: dict) -> float:
        return c["x0"] + (c["x1"] - 1.0) ** 2 + (c["x2"] - 0.02) ** 2

    s = create("cmaes", box(3), seed=3)
    configs = []
    for _ in range(400):
        sug = s.ask()
        configs.append(sug.config)
        s.tell(sug.id, f(sug.config))
    best = min(configs, key=f)
    assert best["x0"] == 0.0 and best["x1"] == 1.0  # on the bounds exactly
    assert f(best) < 1e-4
    assert np.all((0 <= s._state.mean) & (s._state.mean <= 1))


def test_log_scaled_parameter_is_searched_in_log_space():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("lr", (1e-6, 1.0), log=True), CS.Float("x", (0.0, 1.0))])
    s = create("cmaes", cs, seed=4)
    values = minimize(s, lambda c: math.log10(c["lr"] / 3e-4) ** 2 + (c["x"] - 0.5) ** 2, 400)
    assert min(values) < 1e-7


# ---- integer dims -------------------------------------------------------------------------------------
def _int_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Integer("n", (1, 100)), CS.Integer("w", (8, 1024), log=True), CS.Float("x0", (0.0, 1.0)),
            CS.Float("x1", (0.0, 1.0))])
    return cs


def _int_objective(c: dict) -> float:
    return ((c["n"] - 37) ** 2 / 100 + math.log2(c["w"] / 128) ** 2
            + (c["x0"] - 0.4) ** 2 + (c["x1"] - 0.7) ** 2)


def test_integer_dims_reach_the_optimum_and_do_not_stall():
    s = create("cmaes", _int_space(), seed=5)
    configs = []
    for _ in range(500):
        sug = s.ask()
        configs.append(sug.config)
        s.tell(sug.id, _int_objective(sug.config))
    best = min(configs, key=_int_objective)
    assert (best["n"], best["w"]) == (37, 128)
    assert _int_objective(best) < 1e-4
    # after convergence the integers still move with probability >= alpha (the margin)
    tail = configs[-120:]
    assert any(c["n"] != 37 for c in tail)
    assert np.max(s._state.A) > 1.0


def test_small_integer_space_is_exhausted_without_repeats_or_crashes():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Integer("a", (1, 4)), CS.OrdinalHyperparameter("b", [1, 2, 3])])
    s = create("cmaes", cs, seed=6)
    seen = []
    for _ in range(30):
        sug = s.ask()
        seen.append((sug.config["a"], sug.config["b"]))
        s.tell(sug.id, (sug.config["a"] - 3) ** 2 + sug.config["b"])
    assert len(set(seen[:12])) == 12  # the 12 configurations first, each once
    assert (3, 1) in seen


# ---- ask / tell protocol -----------------------------------------------------------------------------
def test_tells_in_any_order_give_the_same_search():
    a, b = create("cmaes", box(3), seed=7), create("cmaes", box(3), seed=7)
    lam = a._params.lam
    for _ in range(4):
        sa, sb = [a.ask() for _ in range(lam)], [b.ask() for _ in range(lam)]
        assert [x.config for x in sa] == [x.config for x in sb]
        for x in sa:
            a.tell(x.id, sphere(xs(x.config, 3)))
        for x in reversed(sb):
            b.tell(x.id, sphere(xs(x.config, 3)))
    assert a._gen == b._gen == 4
    assert a.ask().config == b.ask().config


def test_asks_beyond_lambda_and_never_told_asks():
    s = create("cmaes", box(3), seed=8)
    lam = s._params.lam
    first = [s.ask() for _ in range(3 * lam)]  # more than a generation asked at once
    assert len({json.dumps(x.config, sort_keys=True) for x in first}) == 3 * lam
    assert s._gen == 0
    for x in first[lam:2 * lam]:  # a later block is told; the first block is never told
        s.tell(x.id, sphere(xs(x.config, 3)))
    assert s._gen == 1
    mean_after = s._state.mean.copy()
    for x in first[2 * lam:-1]:  # tells of the old generation join the new one (injected) ...
        s.tell(x.id, sphere(xs(x.config, 3)))
    assert s._gen == 1 and np.array_equal(s._state.mean, mean_after) and len(s._done) == lam - 1
    s.tell(first[-1].id, sphere(xs(first[-1].config, 3)))  # ... and complete it
    assert s._gen == 2 and not np.array_equal(s._state.mean, mean_after)
    assert len(s._stale) == lam  # the never-told first block waits as candidates of generation 0
    values = minimize(s, lambda c: sphere(xs(c, 3)), 400)
    assert min(values) < 1e-6


def test_a_late_candidate_is_injected_with_its_step_for_the_current_distribution():
    s = create("cmaes", box(3), seed=21)
    lam = s._params.lam
    batch = [s.ask() for _ in range(lam + 2)]
    for x in batch[:lam]:
        s.tell(x.id, sphere(xs(x.config, 3)))
    late = batch[lam]
    u = np.array(late.vector)
    state = s._state
    expected = (u - state.mean) / (state.sigma * state.A)
    norm = float(np.linalg.norm((state.B.T @ expected) / state.D))
    limit = math.sqrt(3) + 2 * 3 / 5
    if norm > limit:
        expected = expected * limit / norm
    s.tell(late.id, sphere(u))
    tid, y, _ = s._done[-1]
    assert tid == late.id and np.allclose(y, expected)
    assert np.allclose(core.inject(state, u), expected)


def test_every_evaluation_of_a_batch_counts_when_batches_straddle_generations():
    s = create("cmaes", box(10), seed=3)  # lambda 10, asked 8 at a time
    lam, told = s._params.lam, 0
    assert lam == 10
    for _ in range(5):
        batch = [s.ask() for _ in range(8)]
        for x in batch:
            s.tell(x.id, sphere(xs(x.config, 10)))
            told += 1
    assert s._gen == told // lam == 4 and len(s._done) == told % lam  # none wasted
    assert not s._stale


def test_candidates_of_a_run_before_a_restart_are_not_injected():
    s = create("cmaes", box(2), seed=4)
    lam = s._params.lam
    batch = [s.ask() for _ in range(lam + 3)]
    for x in batch[:lam]:
        s.tell(x.id, sphere(xs(x.config, 2)))
    assert len(s._stale) == 3
    s._restart("test")
    assert not s._stale
    for x in batch[lam:]:
        s.tell(x.id, sphere(xs(x.config, 2)))
    assert not s._done  # recorded in the history only


def test_failures_rank_worst_and_the_search_avoids_them():
    def f(c: dict) -> float:
        x = xs(c, 2)
        return math.nan if x[0] > 0.62 else sphere(x - np.array([0.3, 0.0]))  # optimum (0.6, 0.3)

    s = create("cmaes", box(2), seed=9)
    values = minimize(s, f, 300)
    finite = [v for v in values if math.isfinite(v)]
    assert min(finite) < 1e-6
    assert sum(math.isnan(v) for v in values[-100:]) < 60


def test_flat_fitness_and_failures_trigger_ipop_restarts():
    s = create("cmaes", box(3), seed=10)
    minimize(s, lambda c: math.nan, 150)
    assert s.restarts and s.restarts[0]["reason"] == "flat fitness"
    lam0 = s.lam0
    assert [r["popsize"] for r in s.restarts[:3]] == [lam0, 2 * lam0, 4 * lam0][:len(s.restarts[:3])]
    assert s._lam == 2 * s.restarts[-1]["popsize"]


def test_converged_run_restarts_elsewhere_with_a_larger_population():
    s = create("cmaes", box(2), seed=11)
    minimize(s, lambda c: sphere(xs(c, 2)), 700)
    assert s.restarts, "a converged run must restart"
    assert s.restarts[0]["reason"] in ("tolfun", "tolx", "no effect coordinate", "no effect axis")
    assert s._lam == 2 * s.lam0 * 2 ** (len(s.restarts) - 1)


def test_warm_start_observation_sets_the_initial_mean():
    s = create("cmaes", box(2), seed=12, sigma0=0.01)
    s.add_observation({"x0": 0.9, "x1": 0.1}, 0.0)
    s.add_observation({"x0": 0.2, "x1": 0.2}, 5.0)
    c = s.ask().config
    assert abs(c["x0"] - 0.9) < 0.1 and abs(c["x1"] - 0.1) < 0.1


def test_state_round_trip_mid_generation():
    s = create("cmaes", _int_space(), seed=13)
    minimize(s, _int_objective, 23)
    pending = [s.ask() for _ in range(5)]
    s.tell(pending[3].id, _int_objective(pending[3].config))
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    other = create("cmaes", _int_space(), seed=0, sigma0=0.9)  # options come back from the state
    other.load_state_dict(state)
    assert other.ask().config == s.ask().config
    for x in (s, other):
        for p in pending[:3]:
            x.tell(p.id, _int_objective(p.config))
    assert minimize(s, _int_objective, 40) == minimize(other, _int_objective, 40)
    assert s.state_dict()["extra"] == other.state_dict()["extra"]


def test_state_round_trip_with_late_candidates_of_an_earlier_generation():
    s = create("cmaes", box(4), seed=14)
    lam = s._params.lam
    batch = [s.ask() for _ in range(lam + 3)]
    for x in batch[:lam]:
        s.tell(x.id, sphere(xs(x.config, 4)))
    assert len(s._stale) == 3
    other = create("cmaes", box(4), seed=0)
    other.load_state_dict(json.loads(json.dumps(s.state_dict(), allow_nan=False)))
    for x in (s, other):
        for p in batch[lam:]:
            x.tell(p.id, sphere(xs(p.config, 4)))
    assert s.state_dict()["extra"] == other.state_dict()["extra"]
    assert minimize(s, lambda c: sphere(xs(c, 4)), 30) == minimize(other, lambda c: sphere(xs(c, 4)), 30)


# ---- spaces and options ------------------------------------------------------------------------------
def test_categorical_spaces_are_refused_clearly():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0)), CS.Categorical("act", ["relu", "tanh"])])
    with pytest.raises(SpaceError, match=r"cmaes.*categorical.*'act'.*'tpe'"):
        create("cmaes", cs, seed=0)


def test_conditional_spaces_are_refused_clearly():
    cs = CS.ConfigurationSpace()
    n = CS.Integer("n", (1, 3))
    x = CS.Float("x", (0.0, 1.0))
    cs.add([n, x, CS.EqualsCondition(x, n, 2)])
    with pytest.raises(SpaceError, match=r"cmaes.*conditional"):
        create("cmaes", cs, seed=0)


def test_constant_parameters_are_kept_fixed():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0)), CS.Constant("c", "fixed"), CS.Categorical("one", ["only"])])
    s = create("cmaes", cs, seed=0)
    assert s.n == 1
    for _ in range(10):
        sug = s.ask()
        assert sug.config["c"] == "fixed" and sug.config["one"] == "only"
        s.tell(sug.id, sug.config["x"])


def test_forbidden_configurations_are_never_asked():
    cs = CS.ConfigurationSpace()
    a, b = CS.Integer("a", (0, 5), default=0), CS.Float("x", (0.0, 1.0))
    cs.add([a, b, CS.ForbiddenEqualsClause(a, 2)])
    s = create("cmaes", cs, seed=14)
    for _ in range(120):
        sug = s.ask()
        assert sug.config["a"] != 2
        s.tell(sug.id, (sug.config["a"] - 2) ** 2 + sug.config["x"])


@pytest.mark.parametrize("kw", [{"sigma0": 0}, {"sigma0": 2.0}, {"popsize": 1}, {"x0": "center"},
                                {"max_resample": 0}])
def test_bad_options_are_refused(kw):
    with pytest.raises(ValueError, match="cmaes"):
        create("cmaes", box(2), seed=0, **kw)


def test_x0_default_starts_at_the_default_configuration():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x0", (0.0, 1.0), default=0.8), CS.Float("x1", (0.0, 1.0), default=0.1)])
    s = create("cmaes", cs, seed=0, x0="default", sigma0=1e-3)
    c = s.ask().config
    assert abs(c["x0"] - 0.8) < 0.02 and abs(c["x1"] - 0.1) < 0.02


def test_ask_is_fast_after_a_thousand_tells():
    import time

    s = create("cmaes", box(10), seed=15)
    minimize(s, lambda c: ellipsoid(xs(c, 10)), 1000)
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        s.ask()
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 5e-3  # about 0.3 ms on an idle core; generous for a loaded machine
