"""The multi-fidelity learning-curve benchmarks (benchmarks/mf): data, objective, surrogate, tables."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.mf import generate_forest, generate_gbm, generate_mlp_digits
from benchmarks.mf.benchmarks import BenchmarkError, MFBenchmark, load
from benchmarks.mf.surrogate import CurveSurrogate, SurrogateSettings
from benchmarks.mf.table import WorkLog, load_table, pack, round_sig
from tunestack.space import SearchSpace

# name -> (min configs, min budgets, conditional child, parent, parent values that activate the child)
SHAPES = {
    "mlp_digits": (1000, 50, "momentum", "optimizer", {"sgd"}),
    "gbm": (500, 100, "max_depth", "tree_shape", {"depth"}),
    "forest": (500, 64, "max_samples", "bootstrap", {True}),  # the third family, a check
}


@pytest.fixture(scope="module", params=list(SHAPES))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def tab(name: str) -> MFBenchmark:
    return load(name, mode="tabular")


@pytest.fixture(scope="module")
def sur(name: str) -> MFBenchmark:
    return load(name, mode="surrogate", seed=0)


# ---- data -----------------------------------------------------------------------------------------
def test_table_shapes(tab: MFBenchmark, name: str) -> None:
    n_min, b_min, *_ = SHAPES[name]
    t = tab.table
    assert t.n_configs >= n_min and t.n_budgets >= b_min
    assert (tab.min_budget, tab.max_budget) == (1, t.n_budgets)
    for m, arr in t.metrics.items():
        assert arr.shape == (t.n_configs, t.n_budgets), m
    assert np.all(np.isfinite(tab.values)) and np.all((tab.values >= 0) & (tab.values <= 1))
    assert np.all(np.isfinite(tab.step_costs)) and np.all(tab.step_costs > 0)
    assert len({tuple(sorted(c.items())) for c in t.configs}) == t.n_configs  # distinct configurations
    assert len(set(t.meta["seeds"])) == t.n_configs


def test_configs_match_the_generators_design(tab: MFBenchmark, name: str) -> None:
    gen = {"mlp_digits": generate_mlp_digits, "gbm": generate_gbm, "forest": generate_forest}[name]
    assert tab.table.configs[:16] == gen.design(16)
    assert tab.table.meta["seeds"][:16] == [gen.config_seed(i) for i in range(16)]


def test_conditional_parameter_active_only_under_its_parent(tab: MFBenchmark, name: str) -> None:
    *_, child, parent, on = SHAPES[name]
    assert child in [c.child.name for c in tab.space.conditions]
    active = [child in c for c in tab.table.configs]
    expected = [c[parent] in on for c in tab.table.configs]
    assert active == expected
    assert 0 < sum(active) < len(active)  # both cases occur
    for c in tab.table.configs[:50]:
        vec, mask = tab.search_space.encode(c)
        assert mask[tab.search_space.names.index(child)] == (c[parent] in on)


def test_the_table_has_signal(tab: MFBenchmark) -> None:
    final = tab.values[:, -1]
    assert tab.optimum == final.min()
    assert np.std(final) > 0.01                              # configurations differ
    assert np.median(tab.values[:, 0]) > np.median(final)     # training helps, on the whole


# ---- objective --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["tabular", "surrogate"])
def test_cost_accounting_is_cumulative_and_monotone(tab: MFBenchmark, sur: MFBenchmark, mode: str) -> None:
    bench = tab if mode == "tabular" else sur
    for config in bench.sample_configs(5, seed=1):
        values, costs = bench.curves(config)
        assert values.shape == costs.shape == (bench.max_budget,)
        got = [bench.objective(config, b) for b in range(1, bench.max_budget + 1)]
        assert [v for v, _ in got] == values.tolist()
        cost = np.array([c for _, c in got])
        assert np.all(cost > 0) and np.all(np.diff(cost) > 0)
        assert bench.objective(config, 2.3) == bench.objective(config, 3)  # rounds up to whole steps
        assert bench.objective(config, 0.2) == bench.objective(config, 1)


def test_tabular_lookup_is_exact(tab: MFBenchmark) -> None:
    rows = [0, 7, tab.table.n_configs - 1]
    for r in rows:
        config = tab.table.configs[r]
        for b in (1, 5, tab.max_budget):
            value, cost = tab.objective(dict(config), b)
            assert value == tab.values[r, b - 1]
            assert cost == pytest.approx(tab.step_costs[r, :b].sum(), rel=1e-12)


def test_tabular_rejects_configs_not_in_the_table(tab: MFBenchmark) -> None:
    config = tab.search_space.sample(np.random.default_rng(5))
    with pytest.raises(BenchmarkError, match="not in the"):
        tab.objective(config, 1)


def test_sample_configs(tab: MFBenchmark, sur: MFBenchmark) -> None:
    a = tab.sample_configs(20, seed=3)
    assert a == tab.sample_configs(20, seed=3) and a != tab.sample_configs(20, seed=4)
    table_keys = {tuple(sorted(c.items())) for c in tab.table.configs}
    assert all(tuple(sorted(c.items())) in table_keys for c in a)
    assert len({tuple(sorted(c.items())) for c in a}) == 20
    with pytest.raises(BenchmarkError, match="asked for"):
        tab.sample_configs(tab.table.n_configs + 1)
    for c in sur.sample_configs(20, seed=3):
        sur.search_space.validate(c)


def test_bad_budget_and_config_are_named(tab: MFBenchmark) -> None:
    config = tab.table.configs[0]
    for budget in (0, -1, tab.max_budget + 1, float("nan"), "x"):
        with pytest.raises(BenchmarkError, match="budget"):
            tab.objective(config, budget)
    bad = dict(config)
    first = tab.search_space.names[0]
    bad[first] = 1e9 if isinstance(bad[first], float) else "nope"
    with pytest.raises(BenchmarkError, match=first):
        tab.objective(bad, 1)
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load("nope")
    with pytest.raises(BenchmarkError, match="metric"):
        load(tab.name, mode="tabular", metric="accuracy")


# ---- surrogate --------------------------------------------------------------------------------------
def test_surrogate_predictions_are_within_the_observed_range(sur: MFBenchmark) -> None:
    lo, hi = sur.values.min(0), sur.values.max(0)
    for config in sur.sample_configs(30, seed=11):
        values, costs = sur.curves(config)
        assert np.all(values >= lo - 1e-9) and np.all(values <= hi + 1e-9)
        assert np.all(np.diff(costs) > 0)
        assert sur.objective(config, sur.max_budget)[0] >= sur.optimum - 1e-12  # regret never negative


def test_surrogate_is_deterministic_and_seeded(tab: MFBenchmark) -> None:
    rows = np.arange(0, tab.table.n_configs, 4)  # a quarter of the table keeps the fits fast
    X, Y, S = tab.table_vectors()[rows], tab.values[rows], tab.step_costs[rows]
    settings = SurrogateSettings(n_trees=16)
    a = CurveSurrogate(settings, seed=3).fit(X, Y, S)
    b = CurveSurrogate(settings, seed=3).fit(X, Y, S)
    c = CurveSurrogate(settings, seed=4).fit(X, Y, S)
    Xq = tab.search_space.sample_vectors(np.random.default_rng(0), 40)
    np.testing.assert_array_equal(a.predict(Xq)[0], b.predict(Xq)[0])
    np.testing.assert_array_equal(a.predict(Xq)[1], b.predict(Xq)[1])
    assert not np.array_equal(a.predict(Xq)[0], c.predict(Xq)[0])


def test_surrogate_follows_the_table_on_held_out_configs(tab: MFBenchmark) -> None:
    """A weak but real check of generalization: rank correlation of final values on held-out rows."""
    n = tab.table.n_configs
    train, test = np.arange(n) % 5 != 0, np.arange(n) % 5 == 0
    X = tab.table_vectors()
    model = CurveSurrogate(SurrogateSettings(n_trees=16), seed=0).fit(X[train], tab.values[train],
                                                                       tab.step_costs[train])
    pred = model.predict(X[test])[0][:, -1]
    truth = tab.values[test, -1]
    rho = np.corrcoef(np.argsort(np.argsort(pred)), np.argsort(np.argsort(truth)))[0, 1]
    assert rho > 0.5


def test_gp_surrogate_follows_the_table_and_has_no_trees(tab: MFBenchmark) -> None:
    """The Gaussian-process surrogate (a check of the tree surrogate, not the reported one): deterministic,
    within the observed range, ranks held-out final values; noisy mode (one tree) is refused."""
    n = tab.table.n_configs
    train, test = np.arange(n) % 4 == 1, np.arange(n) % 4 == 0  # a quarter to fit keeps it fast
    X = tab.table_vectors()
    settings = SurrogateSettings(kind="gp", target="logit")
    fit = [CurveSurrogate(settings, seed=0).fit(X[train], tab.values[train], tab.step_costs[train])
           for _ in range(2)]
    pred, secs = fit[0].predict(X[test])
    np.testing.assert_array_equal(pred, fit[1].predict(X[test])[0])
    assert pred.shape == tab.values[test].shape and np.all(secs > 0)
    lo, hi = tab.values[train].min(0), tab.values[train].max(0)  # clipped: no value beyond the observed ones
    assert np.all(pred >= lo - 1e-12) and np.all(pred <= hi + 1e-12)
    rho = np.corrcoef(np.argsort(np.argsort(pred[:, -1])), np.argsort(np.argsort(tab.values[test, -1])))[0, 1]
    assert rho > 0.5
    with pytest.raises(ValueError, match="no trees"):
        fit[0].n_trees
    with pytest.raises(ValueError, match="unknown surrogate kind"):
        SurrogateSettings(kind="knn").forest(0)


def test_noisy_mode_is_reproducible_per_seed(name: str, sur: MFBenchmark) -> None:
    noisy = load(name, mode="surrogate", seed=0, noise=True)
    configs = noisy.sample_configs(10, seed=2)
    first = [noisy.objective(c, noisy.max_budget) for c in configs]
    assert first == [noisy.objective(c, noisy.max_budget) for c in configs]
    other = [noisy.objective(c, noisy.max_budget, seed=1) for c in configs]
    assert first != other
    assert [f[1] for f in first] == [sur.objective(c, sur.max_budget)[1] for c in configs]  # costs: no noise
    half = load(name, mode="surrogate", seed=0, noise=True, noise_scale=0.5)
    for c in configs[:3]:
        mean, tree = sur.curves(c)[0], noisy.curves(c)[0]
        np.testing.assert_allclose(half.curves(c)[0], mean + 0.5 * (tree - mean), rtol=0, atol=1e-12)
    with pytest.raises(BenchmarkError, match="noise"):
        load(name, mode="tabular", noise=True)
    with pytest.raises(BenchmarkError, match="noise_scale"):
        load(name, noise=True, noise_scale=0.0)


# ---- storage and generators ------------------------------------------------------------------------
def test_pack_and_load_round_trip(tmp_path) -> None:
    log = WorkLog(tmp_path / "w.jsonl")
    log.append({"index": 1, "seed": 11, "config": {"a": 0.5}, "m": [0.123456, float("nan")]})  # diverged
    log.append({"index": 0, "seed": 10, "config": {"a": 0.25}, "m": [0.5, 0.25]})
    with (tmp_path / "w.jsonl").open("a") as f:
        f.write('{"index": 2, "se')  # a line cut short by a kill
    assert log.done() == {0, 1}
    out = pack("toy", log.records(), ["m"], [1, 2], {"x": 1}, tmp_path / "toy.json.gz")
    t = load_table(out)
    assert t.configs == [{"a": 0.25}, {"a": 0.5}] and t.meta["seeds"] == [10, 11]
    np.testing.assert_array_equal(t.metrics["m"], [[0.5, 0.25], [0.1235, np.nan]])
    assert round_sig([123456.0, -0.00012345, math.inf], 3) == [123000.0, -0.000123, None]


def test_gbm_generator_records_a_curve() -> None:
    config = {"learning_rate": 0.1, "max_features": 0.3, "min_samples_leaf": 8, "subsample": 0.5,
              "tree_shape": "depth", "max_depth": 1}
    SearchSpace.from_configspace(generate_gbm.config_space()).validate(config)  # a config of the space
    data = generate_gbm.load_data()
    curves = generate_gbm.fit_curve(config, 0, data)
    assert set(curves) == set(generate_gbm.METRICS)
    assert all(len(v) == generate_gbm.N_ITER for v in curves.values())
    assert all(s > 0 for s in curves["seconds"])


def test_forest_generator_records_a_curve_one_tree_per_step() -> None:
    config = {"max_features": 0.3, "depth_limit": "limited", "max_depth": 4, "min_samples_split": 4,
              "min_samples_leaf": 2, "bootstrap": True, "max_samples": 0.5, "criterion": "gini"}
    SearchSpace.from_configspace(generate_forest.config_space()).validate(config)  # a config of the space
    curves = generate_forest.fit_curve(config, 0, generate_forest.load_data())
    assert set(curves) == set(generate_forest.METRICS)
    assert all(len(v) == generate_forest.N_TREES for v in curves.values())
    assert all(0.0 <= e <= 1.0 for e in curves["val_error"]) and all(s > 0 for s in curves["cpu_seconds"])
    # the running mean of 64 trees predicts better than the first tree alone on this problem
    assert curves["val_logloss"][-1] < curves["val_logloss"][0]


@pytest.mark.slow  # importing torch takes seconds (tens on a loaded machine)
def test_mlp_generator_records_a_curve() -> None:
    pytest.importorskip("torch")
    config = {**generate_mlp_digits.design(2)[0], "width": 16, "batch_size": 128}
    curves = generate_mlp_digits.train_curve(config, 0, generate_mlp_digits.load_data(), epochs=2)
    assert set(curves) == set(generate_mlp_digits.METRICS)
    assert all(len(v) == 2 for v in curves.values())
    assert 0.0 <= curves["val_error"][-1] <= 1.0 and curves["seconds"][0] > 0
