"""The TPE searcher: Parzen estimator maths, the trial table, and the searcher's behaviour."""
from __future__ import annotations

import json
import math
import time

import ConfigSpace as CS
import numpy as np
import pytest
from scipy.stats import truncnorm

from benchmarks.searchers.problems import PROBLEMS
from tests import spaces
from tunestack import minimize
from tunestack.searchers import SearcherError, create
from tunestack.searchers.parzen import (Kernels, ParzenEstimator, aitchison_aitken_lambda, neighbour_bandwidths,
                                        scott_bandwidths)
from tunestack.searchers.tpe import TPESearcher
from tunestack.searchers.tpe_dims import Dims
from tunestack.searchers.trial_table import TrialTable
from tunestack.space import SearchSpace


# ---- Parzen estimator ---------------------------------------------------------------------------
def _random_kernels(rng: np.random.Generator, n: int, n_choices: np.ndarray) -> Kernels:
    d = n_choices.size
    mu = rng.random((n, d))
    for j in np.flatnonzero(n_choices):
        mu[:, j] = rng.integers(0, n_choices[j], n)
    mu[rng.random((n, d)) < 0.25] = np.nan  # some inactive dimensions
    sigma = rng.uniform(0.05, 0.4, (n, d))
    lam = rng.uniform(0.0, 0.5, (n, d))
    return Kernels(mu, sigma, lam, rng.uniform(0.5, 2.0, n))


def _naive_kernel(k: Kernels, i: int, x: np.ndarray, n_choices: np.ndarray) -> float:
    p = 1.0
    for j, xj in enumerate(x):
        if np.isnan(xj):
            continue
        c, m = n_choices[j], k.mu[i, j]
        if np.isnan(m):
            p *= 1.0 / c if c else 1.0
        elif c:
            p *= 1 - k.lam[i, j] if xj == m else k.lam[i, j] / (c - 1)
        else:
            s = k.sigma[i, j]
            p *= truncnorm.pdf(xj, -m / s, (1 - m) / s, loc=m, scale=s)
    return p


def _points(rng: np.random.Generator, n: int, n_choices: np.ndarray) -> np.ndarray:
    x = rng.random((n, n_choices.size))
    for j in np.flatnonzero(n_choices):
        x[:, j] = rng.integers(0, n_choices[j], n)
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


def test_multivariate_log_pdf_matches_a_direct_sum_of_product_kernels():
    rng = np.random.default_rng(0)
    n_choices = np.array([0, 3, 0, 2, 0])
    k = _random_kernels(rng, 7, n_choices)
    est = ParzenEstimator(k, n_choices, prior_weight=1.5)
    x = _points(rng, 9, n_choices)
    w = np.append(k.weight, 1.5) / (k.weight.sum() + 1.5)
    for row, got in zip(x, est.log_pdf(x)):
        prior = np.prod([1.0 / c if c else 1.0 for c, v in zip(n_choices, row) if not np.isnan(v)])
        want = sum(w[i] * _naive_kernel(k, i, row, n_choices) for i in range(k.n)) + w[-1] * prior
        assert got == pytest.approx(math.log(want), rel=1e-9, abs=1e-9)


def test_univariate_log_pdf_is_a_product_of_mixtures_over_active_observations():
    rng = np.random.default_rng(1)
    n_choices = np.array([0, 4, 0])
    k = _random_kernels(rng, 6, n_choices)
    est = ParzenEstimator(k, n_choices, prior_weight=1.0, multivariate=False)
    x = _points(rng, 5, n_choices)
    for row, got in zip(x, est.log_pdf(x)):
        want = 0.0
        for j, xj in enumerate(row):
            if np.isnan(xj):
                continue
            act = ~np.isnan(k.mu[:, j])
            one = np.full(1, np.nan)
            dens = [_naive_kernel(Kernels(k.mu[i:i + 1, j:j + 1], k.sigma[i:i + 1, j:j + 1], k.lam[i:i + 1, j:j + 1],
                                          one), 0, np.array([xj]), n_choices[j:j + 1]) for i in np.flatnonzero(act)]
            prior = 1.0 / n_choices[j] if n_choices[j] else 1.0
            total = k.weight[act].sum() + 1.0
            want += math.log((np.dot(k.weight[act], dens) + prior) / total)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_density_integrates_to_one_over_the_unit_square_and_choices():
    rng = np.random.default_rng(2)
    n_choices = np.array([0, 0, 3])
    est = ParzenEstimator(_random_kernels(rng, 5, n_choices), n_choices)
    g = (np.arange(400) + 0.5) / 400
    xx, yy = np.meshgrid(g, g)
    total = 0.0
    for c in range(3):
        pts = np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, c)])
        total += np.exp(est.log_pdf(pts)).mean()
    assert total == pytest.approx(1.0, abs=2e-3)


def test_samples_follow_the_density():
    n_choices = np.array([0, 3])
    k = Kernels(np.array([[0.1, 2.0], [0.7, np.nan]]), np.array([[0.2, 1.0], [0.05, 1.0]]),
                np.array([[0.0, 0.3], [0.0, 0.0]]), np.array([1.0, 3.0]))
    est = ParzenEstimator(k, n_choices, prior_weight=0.0)
    s = est.sample(np.random.default_rng(4), 40000)
    edges = np.linspace(0, 1, 11)
    hist = np.histogram(s[:, 0], edges)[0] / len(s)
    mids = (np.arange(1000) + 0.5) / 1000
    pdf = np.exp(est.log_pdf(np.column_stack([mids, np.full(1000, np.nan)])))
    want = np.add.reduceat(pdf / 1000, np.arange(0, 1000, 100))
    assert np.abs(hist - want).max() < 0.01
    # component 0 (weight 1/4) keeps choice 2 with prob 0.7; component 1 is inactive: uniform
    p2 = np.mean(s[:, 1] == 2)
    assert p2 == pytest.approx(0.25 * 0.7 + 0.75 / 3, abs=0.01)
    assert np.exp(est.log_pdf(np.array([[np.nan, 2.0]])))[0] == pytest.approx(0.25 * 0.7 + 0.75 / 3)


def test_scott_bandwidths_match_the_formula_and_skip_nan():
    rng = np.random.default_rng(5)
    X = rng.random((30, 3))
    X[:27, 2] = np.nan  # three values left in column 2
    X[:, 1] = 0.4  # no spread
    h = scott_bandwidths(X, n_dims=3)
    for j, n in ((0, 30), (2, 3)):
        v = X[~np.isnan(X[:, j]), j]
        iqr = (np.percentile(v, 75) - np.percentile(v, 25)) / 1.349
        spread = min(np.std(v, ddof=1), iqr)
        assert h[j] == pytest.approx(spread * n ** (-1 / 7))
    assert h[1] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(scott_bandwidths(np.array([[0.2], [np.nan]]), 1)[0])


def test_neighbour_bandwidths_are_the_larger_gap_to_sorted_neighbours():
    X = np.array([[0.5, 0.3], [0.1, np.nan], [0.2, np.nan], [0.9, np.nan]])
    h = neighbour_bandwidths(X)
    # column 0 sorted: 0.1 0.2 0.5 0.9; the ends use their inner gap only
    assert np.allclose(h[:, 0], [0.4, 0.1, 0.3, 0.4])
    # a single value: the distance to the farther end of the unit interval
    assert h[0, 1] == pytest.approx(0.7) and np.isnan(h[1:, 1]).all()


def test_aitchison_aitken_smoothing_shrinks_and_stays_in_range():
    lams = [aitchison_aitken_lambda(n, 4, 1.0) for n in (0, 1, 5, 50)]
    assert lams == sorted(lams, reverse=True)
    assert lams[0] == pytest.approx(0.75) and 0 < lams[-1] < 0.15
    assert aitchison_aitken_lambda(10, 1, 1.0) == 0.0


def test_an_inactive_observation_says_nothing_about_that_dimension():
    n_choices = np.array([0, 0])
    mu = np.array([[0.2, np.nan], [0.8, np.nan]])
    k = Kernels(mu, np.full((2, 2), 0.1), np.zeros((2, 2)), np.ones(2))
    est = ParzenEstimator(k, n_choices, prior_weight=1.0)
    base = est.log_pdf(np.array([[0.2, np.nan]]))[0]
    for y in (0.0, 0.3, 0.99):  # flat in the dimension nobody observed
        assert est.log_pdf(np.array([[0.2, y]]))[0] == pytest.approx(base)


# ---- encoding helpers ---------------------------------------------------------------------------
def test_cells_of_discrete_dimensions():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Integer("n", (1, 4)), CS.Integer("w", (8, 512), log=True), CS.Float("x", (0.0, 1.0)),
            CS.OrdinalHyperparameter("o", ["a", "b", "c", "d", "e"])])
    space = SearchSpace.create(cs)
    dims = Dims(space)
    at = {"n": 2, "w": 8, "x": 0.3, "o": "c"}
    u = np.array([[p.to_unit(at[p.name]) for p in space.params]])
    cells = dict(zip(space.names, dims.cell_width(u)[0]))
    assert cells["n"] == pytest.approx(0.25)
    assert cells["w"] == pytest.approx((math.log(8.5) - math.log(7.5)) / (math.log(512.5) - math.log(7.5)))
    assert cells["x"] == 0.0 and cells["o"] == pytest.approx(0.2)
    raw = np.random.default_rng(0).random((50, 4))
    snapped = dims.snap(raw)
    assert np.allclose(snapped, [space.normalize(r) for r in raw], atol=1e-12)


# ---- the trial table ----------------------------------------------------------------------------
def test_trial_table_answers_like_the_base_class():
    s = create("random", spaces.continuous(), seed=0)
    rng = np.random.default_rng(0)
    for i in range(40):
        sug = s.ask()
        if i % 5 == 4:
            continue  # pending
        for b in (1, 3, 9):
            if rng.random() < 0.3 and b > 1:
                break
            s.tell(sug.id, math.nan if rng.random() < 0.15 else float(rng.random()), budget=b)
    s.add_observation(s.space.default(), 0.5)
    table = TrialTable.from_records(s.space.dim, s.trials.values())
    for b in (1.0, 3.0, 9.0, None):
        X, y = s.data(b, impute_failures=True)
        tX, ty = table.data(b)
        assert np.array_equal(np.nan_to_num(X, nan=-7), np.nan_to_num(tX, nan=-7)) and np.array_equal(y, ty)
    for m in (1, 5, 20, 30, 100):
        assert table.model_budget(m) == s.model_budget(m)
    assert np.array_equal(table.pending(), np.array([r.vector for r in s.pending]))


# ---- the searcher ----------------------------------------------------------------------------------
def _median_regret(problem: str, searcher: str, seeds: range, n: int, **kw) -> float:
    p = PROBLEMS[problem]
    return float(np.median([p.regret(minimize(p.fn, p.space, searcher=searcher, n_trials=n, seed=s,
                                              **kw).best_value) for s in seeds]))


@pytest.mark.parametrize("problem", ["branin", "hartmann3"])
def test_beats_random_search_clearly(problem):
    tpe = _median_regret(problem, "tpe", range(5), 60)
    rnd = _median_regret(problem, "random", range(5), 60)
    assert tpe < 0.5 * rnd, (tpe, rnd)


def test_univariate_mode_also_beats_random_search():
    assert _median_regret("branin", "tpe", range(5), 60, multivariate=False) < 0.5 * _median_regret(
        "branin", "random", range(5), 60)


def test_conditional_space_concentrates_on_the_best_branch():
    def objective(c: dict) -> float:  # adam branch is best; sgd's momentum barely matters
        base = (math.log10(c["lr"]) + 2.0) ** 2 + abs(c["width"] - 40) / 40
        branch = {"sgd": lambda: 1.0 + 0.1 * c["momentum"], "adam": lambda: (c["beta2"] - 0.99) ** 2 * 1e3,
                  "rmsprop": lambda: 0.6}
        return base + branch[c["opt"]]()

    s = create("tpe", spaces.conditional(), seed=0)
    space = SearchSpace.create(spaces.conditional())
    opts = []
    for _ in range(60):
        sug = s.ask()
        space.validate(sug.config)
        opts.append(sug.config["opt"])
        s.tell(sug.id, objective(sug.config))
    assert opts[-20:].count("adam") >= 14, opts[-20:]
    assert s.best()[1] < 0.3


def _nearest_distances(vectors: list) -> np.ndarray:
    """Each vector's distance to its nearest neighbour among the others."""
    v = np.array(vectors)
    d = np.sqrt(((v[:, None] - v[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


@pytest.mark.parametrize("problem", ["branin", "hartmann3", "hartmann6"])
def test_constant_liar_spreads_parallel_asks(problem):
    """8 pending asks are distinct, no two of them close, and kept apart by their liars where the
    greedy batch construction would crowd them: in 2 and 3 dimensions, against the same construction
    whose liars are too narrow to penalize anything (``liar_bandwidth=1e-3``), the closest pair of a
    batch is farther apart and the batch as a whole more spread out.  (In 6 dimensions the draws from
    ``l`` rarely come close and the liars seldom change an ask.)"""
    p = PROBLEMS[problem]
    spread = {0.5: [], 1e-3: []}
    closest = {0.5: [], 1e-3: []}
    for width in spread:
        for seed in range(4):
            s = create("tpe", p.space, seed=seed, liar_bandwidth=width)
            for _ in range(30):
                sug = s.ask()
                s.tell(sug.id, p.fn(sug.config))
            batch = [s.ask() for _ in range(8)]
            assert len({json.dumps(b.config, sort_keys=True) for b in batch}) == 8
            nearest = _nearest_distances([b.vector for b in batch])
            spread[width].append(float(nearest.mean()))
            closest[width].append(float(nearest.min()))
    assert min(closest[0.5]) > 0.05, closest
    assert all(a >= b for a, b in zip(closest[0.5], closest[1e-3])), closest
    if problem in ("branin", "hartmann3"):
        assert np.median(closest[0.5]) > 2 * np.median(closest[1e-3]), closest
        assert np.median(spread[0.5]) > 1.5 * np.median(spread[1e-3]), spread


@pytest.mark.parametrize("grow", [True, False])
def test_each_pending_ask_draws_from_a_pool_that_grows_with_the_batch(monkeypatch, grow):
    p = PROBLEMS["hartmann3"]
    s = create("tpe", p.space, seed=1, grow_candidates=grow)
    for _ in range(20):
        sug = s.ask()
        s.tell(sug.id, p.fn(sug.config))
    draws = []
    real = ParzenEstimator.sample
    monkeypatch.setattr(ParzenEstimator, "sample", lambda self, rng, n: draws.append(n) or real(self, rng, n))
    for _ in range(4):
        s.ask()
    assert draws == [s.n_candidates * (k + 1 if grow else 1) for k in range(4)]


def _parallel_start(seed: int, n_cands: list[int] | None = None):
    """A 10-dimensional sphere, asked 8 at a time: 8 design points told, then asks with 2 pending."""
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(10)])
    s = create("tpe", cs, seed=seed)

    def f(c: dict) -> float:
        return sum((c[f"x{i}"] - 0.2) ** 2 for i in range(10))

    first = [s.ask() for _ in range(8)]
    for sug in first:
        s.tell(sug.id, f(sug.config))
    design_rest = [s.ask() for _ in range(2)]  # the rest of the startup design, pending
    return s, f, first, design_rest


def test_a_parallel_start_fits_the_model_on_the_results_there_are():
    s, f, first, _ = _parallel_start(0)
    assert s.min_points == 10 and s._fit() is None  # not enough results for the sequential rule
    models = s._fit_while_pending()
    assert models is not None and models[0].l.n - 1 == models[0].n_good(8)  # good kernels + the prior
    # the asks that follow exploit that model: better than the random search they replace
    model_asks, random_asks = [], []
    for seed in range(6):
        s, f, first, _ = _parallel_start(seed)
        model_asks += [f(s.ask().config) for _ in range(6)]
        rng = np.random.default_rng(seed)
        random_asks += [float(np.sum((rng.random(10) - 0.2) ** 2)) for _ in range(6)]
    assert np.median(model_asks) < 0.8 * np.median(random_asks), (np.median(model_asks), np.median(random_asks))


def test_the_parallel_start_rule_needs_pending_asks_and_final_results():
    s, f, first, rest = _parallel_start(0)
    for sug in rest:
        s.tell(sug.id, f(sug.config))
    assert s._fit_while_pending() is None  # nothing pending: the sequential rule alone decides
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(10)])
    b = create("tpe", cs, seed=0)
    for sug in [b.ask() for _ in range(8)]:
        b.tell(sug.id, 1.0 + sug.config["x0"], budget=3)
    b.ask()
    assert b._fit() is None and b._fit_while_pending() is None  # budget tells: BOHB's rule, untouched


def test_budget_aware_models_the_largest_budget_with_enough_points():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0))])
    s = TPESearcher(cs, seed=0, n_startup=10, min_points=6)
    ids = [s.ask().id for _ in range(30)]
    for i in ids:  # at budget 1 small x looks good; at budget 9 large x is good
        x = s.space.decode_flat(s.trials[i].vector)["x"]
        s.tell(i, x, budget=1)
    for i in ids[:5]:
        x = s.space.decode_flat(s.trials[i].vector)["x"]
        s.tell(i, 1 - x, budget=9)
    assert s._table.model_budget(s.min_points) == 1.0  # five points at budget 9 are not enough
    low = [s.space.decode_flat(s.ask().vector)["x"] for _ in range(10)]
    for i in ids[5:12]:
        x = s.space.decode_flat(s.trials[i].vector)["x"]
        s.tell(i, 1 - x, budget=9)
    assert s._table.model_budget(s.min_points) == 9.0
    t = TPESearcher(cs, seed=0, n_startup=10, min_points=6)
    t.load_state_dict(s.state_dict())
    t.pending.clear()
    high = []
    for _ in range(10):
        sug = t.ask()
        high.append(t.space.decode_flat(sug.vector)["x"])
        t.tell(sug.id, 1 - high[-1], budget=9)
    assert np.median(low) < 0.35 < 0.65 < np.median(high), (low, high)


def test_failures_count_as_bad():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x", (0.0, 1.0)), CS.Float("y", (0.0, 1.0))])

    def late_asks_below(fail: bool) -> int:  # small x is good, but fails below 0.3 when fail is set
        res = minimize(lambda c: math.nan if fail and c["x"] < 0.3 else c["x"] + 0.1 * c["y"], cs,
                       searcher="tpe", n_trials=50, seed=0)
        return sum(h["config"]["x"] < 0.3 for h in res.history[25:])

    assert late_asks_below(True) < 0.5 * late_asks_below(False)


def test_discrete_and_tiny_spaces_stay_valid():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Integer("n", (1, 3)), CS.Categorical("c", ["a", "b"])])
    s = create("tpe", cs, seed=0, n_startup=3)
    space = SearchSpace.create(cs)
    seen = set()
    for _ in range(12):  # only 6 configurations exist
        sug = s.ask()
        space.validate(sug.config)
        seen.add((sug.config["n"], sug.config["c"]))
        s.tell(sug.id, sug.config["n"] + (sug.config["c"] == "b"))
    assert len(seen) == 6


@pytest.mark.parametrize("bad", [{"gamma": 1.5}, {"n_candidates": 0}, {"min_bandwidth": -1.0},
                                 {"n_startup": 2.5}, {"min_bandwidth": 0.6, "max_bandwidth": 0.5},
                                 {"bandwidth": "silverman"}, {"random_fraction": 1.0},
                                 {"random_fraction": -0.1}, {"sample_bandwidth_factor": 0.5},
                                 {"min_good": 0}, {"good_weights": "ei"}])
def test_bad_options_are_named(bad):
    with pytest.raises(SearcherError, match=next(iter(bad))):
        create("tpe", spaces.continuous(), seed=0, **bad)


def test_ask_after_1000_tells_in_10_dims_is_fast():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (-5.0, 10.0)) for i in range(10)])
    s = create("tpe", cs, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(1000):
        cfg = {f"x{j}": float(v) for j, v in enumerate(rng.uniform(-5, 10, 10))}
        s.add_observation(cfg, sum(v * v for v in cfg.values()))
    times = []
    for _ in range(7):
        t = time.process_time()
        sug = s.ask()
        times.append(time.process_time() - t)
        s.tell(sug.id, 1.0)
    assert np.median(times) < 0.05, times  # generous: the target on an idle machine is 10 ms


def test_random_fraction_interleaves_prior_draws_evenly(monkeypatch):
    """With ``random_fraction=0.25`` exactly one ask in four after the startup design skips the model
    (BOHB's random fraction), evenly spaced; the choice follows the trial count, so a restored searcher
    asks what the original asks.  With 0 every ask after the startup uses the model."""
    fits = []
    real_fit = TPESearcher._fit

    def counting_fit(self):
        fits.append(len(self.trials))
        return real_fit(self)

    monkeypatch.setattr(TPESearcher, "_fit", counting_fit)

    def run(fraction, n=40):
        s = create("tpe", spaces.continuous(), seed=1, n_startup=5, random_fraction=fraction)
        for _ in range(n):
            sug = s.ask()
            s.tell(sug.id, float(np.sum(np.square(np.asarray(sug.vector) - 0.3))))
        return s

    fits.clear()
    run(0.25)
    model_asks = set(fits)
    random_asks = [i for i in range(5, 40) if i not in model_asks]
    assert len(random_asks) == 35 // 4 and np.all(np.diff(random_asks) == 4), random_asks
    fits.clear()
    run(0.0)
    assert sorted(set(fits)) == list(range(5, 40)), "without a random fraction the model makes every ask"

    a = run(0.25, n=17)
    b = create("tpe", spaces.continuous(), seed=1, n_startup=5, random_fraction=0.25)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for _ in range(8):
        sa, sb = a.ask(), b.ask()
        assert sa.config == sb.config
        a.tell(sa.id, 1.0)
        b.tell(sb.id, 1.0)


def test_sample_bandwidth_factor_widens_the_draws_not_the_scores(monkeypatch):
    """BOHB's b_w: candidates come from ``l`` with every bandwidth times the factor (numeric ones capped
    at the unit width, categorical smoothing at the uniform), the acquisition uses ``l`` and ``g`` as
    they are; factor 1 draws from ``l`` itself."""
    import dataclasses

    from tunestack.searchers.tpe_model import TPEModel

    s = create("tpe", spaces.mixed(), seed=4, sample_bandwidth_factor=3.0)
    for i in range(25):
        sug = s.ask()
        s.tell(sug.id, float(np.random.default_rng(i).random()))
    (wide,) = s._fit()
    s.config, s._cache = dataclasses.replace(s.config, sample_bandwidth_factor=1.0), None
    (plain,) = s._fit()  # the same data, factor 1
    assert plain.l_sample is plain.l and wide.l_sample is not wide.l
    k_plain, k_wide, k_draw = (m._blocks[1].k for m in (plain.l, wide.l, wide.l_sample))
    np.testing.assert_array_equal(k_plain.sigma, k_wide.sigma)  # the scores' l is unwidened
    np.testing.assert_array_equal(k_plain.lam, k_wide.lam)
    num, cat = wide.n_choices == 0, wide.n_choices > 0
    gb = wide.good_bw[0][:, num]
    cell = np.where(k_wide.sigma[:, num] > gb, k_wide.sigma[:, num], 0.0)  # a discrete cell's floor
    np.testing.assert_allclose(k_draw.sigma[:, num], np.maximum(np.minimum(3.0 * gb, 1.0), cell))
    assert (k_draw.sigma[:, num] > 1.5 * k_wide.sigma[:, num]).any()
    cap = (wide.n_choices[cat] - 1) / wide.n_choices[cat]
    np.testing.assert_allclose(k_draw.lam[:, cat], np.minimum(3.0 * k_wide.lam[:, cat], cap))
    assert (k_draw.lam[:, cat] > k_wide.lam[:, cat]).any()
    drawn = []
    real = ParzenEstimator.sample
    monkeypatch.setattr(ParzenEstimator, "sample", lambda self, rng, n: drawn.append(self) or real(self, rng, n))
    TPEModel.propose(wide, np.random.default_rng(0), 8, np.empty((0, k_wide.mu.shape[1])), lambda x: x)
    assert drawn == [wide.l_sample]


def test_min_good_floors_the_good_set_and_none_means_min_points():
    """The good set is ``min(ceil(gamma n), max_good)``, at least ``min_good`` (``None``: ``min_points``,
    BOHB's d + 1), always leaving one bad observation."""
    space = spaces.continuous()
    plain = create("tpe", space, seed=0)
    floor4 = create("tpe", space, seed=0, min_good=4)
    bohb_like = create("tpe", space, seed=0, min_good=None)
    assert bohb_like.config.min_good == bohb_like.min_points == min(bohb_like.space.dim + 1, 10)
    for s in (plain, floor4, bohb_like):
        for _ in range(30):
            sug = s.ask()
            s.tell(sug.id, float(sum(v for v in sug.config.values() if isinstance(v, float))))
    sizes = {name: [m.n_good(n) for n in (2, 5, 10, 30, 400)]
             for name, m in (("plain", plain._fit()[0]), ("floor4", floor4._fit()[0]),
                             ("bohb", bohb_like._fit()[0]))}
    assert sizes["plain"] == [1, 1, 2, 5, 25]
    assert sizes["floor4"] == [1, 4, 4, 5, 25]
    k = bohb_like.min_points
    assert sizes["bohb"] == [1, min(k, 4), min(k, 9), max(k, 5), 25]


def test_improvement_weights_are_the_improvements_on_the_split_point_with_mean_one():
    from tunestack.searchers.tpe_model import improvement_weights

    np.testing.assert_allclose(improvement_weights(np.array([0.1, 0.2]), 0.4), [1.2, 0.8])
    np.testing.assert_allclose(improvement_weights(np.array([-3.0, -1.0, 0.0]), 1.0), [12 / 7, 6 / 7, 3 / 7])
    assert improvement_weights(np.array([0.5, 0.5]), 0.5) is None, "no spread: no weights"
    assert improvement_weights(np.array([0.1, np.inf]), 0.5) is None
    assert improvement_weights(np.array([]), 0.5) is None


def test_good_weights_improvement_weighs_l_by_improvement_and_changes_nothing_else():
    """With ``good_weights="improvement"`` the good kernels of ``l`` (and of the draws) weigh their
    improvement on the split point, scaled to mean 1 (the prior keeps its share); bandwidths, the good
    set and ``g`` are those of the uniform model.  The model then proposes nearer the best result."""
    import dataclasses

    s = create("tpe", spaces.continuous(), seed=3, good_weights="improvement")
    rng = np.random.default_rng(0)
    for _ in range(40):
        sug = s.ask()
        s.tell(sug.id, float(rng.random()))
    (w,) = s._fit()
    s.config, s._cache = dataclasses.replace(s.config, good_weights="uniform"), None
    (u,) = s._fit()
    _, y = s._table.data(None)
    ys = np.sort(y)
    k = u.n_good(len(y))
    expected = (ys[k] - ys[:k]) / np.mean(ys[k] - ys[:k])
    kw, ku = w.l._blocks[1].k, u.l._blocks[1].k
    np.testing.assert_allclose(kw.weight, expected)
    np.testing.assert_array_equal(ku.weight, np.ones(k))
    np.testing.assert_array_equal(kw.mu, ku.mu)
    np.testing.assert_array_equal(kw.sigma, ku.sigma)
    np.testing.assert_array_equal(w.g._blocks[1].k.weight, u.g._blocks[1].k.weight)
    assert w.l_sample is w.l
    assert w.l.weight[0] == u.l.weight[0] == s.config.prior_weight  # the prior component
    best = kw.mu[0][None]  # the best good result: l puts more density there than the uniform l
    assert w.l.log_pdf(best)[0] > u.l.log_pdf(best)[0]


def test_good_weights_improvement_minimizes_in_both_modes_and_round_trips():
    """A maximized objective is minimized as its negative: the weights favour the largest values;
    the option survives the searcher's state round trip (asks after a restore are the same)."""
    a = create("tpe", spaces.continuous(), mode="max", seed=5, good_weights="improvement", n_startup=5)
    for _ in range(20):
        sug = a.ask()
        a.tell(sug.id, -float(np.sum(np.square(np.asarray(sug.vector) - 0.7))))
    b = create("tpe", spaces.continuous(), mode="max", seed=5, good_weights="improvement", n_startup=5)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for _ in range(5):
        sa, sb = a.ask(), b.ask()
        assert sa.config == sb.config
        v = -float(np.sum(np.square(np.asarray(sa.vector) - 0.7)))
        a.tell(sa.id, v)
        b.tell(sb.id, v)
    (m,) = a._fit()
    kern = m.l._blocks[1].k
    _, y = a._table.data(None)  # minimized internally: the best (largest) objective is the smallest y
    order = np.argsort(y, kind="stable")[: kern.n]
    assert np.all(np.diff(kern.weight) <= 1e-12), "the best good result weighs most"
    assert np.isclose(kern.weight.mean(), 1.0) and order.size == kern.n
