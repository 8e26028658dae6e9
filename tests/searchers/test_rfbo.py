"""Tests of the random-forest BO searcher (rfbo) and its parts: forest, log-EI, neighbourhood."""
from __future__ import annotations

import math
import time

import ConfigSpace as CS
import numpy as np
import pytest

from tests import spaces
from tunestack.searchers import SearcherError, create
from tunestack.searchers.acquisition import log_expected_improvement, transform_targets
from tunestack.searchers.forest import ForestConfig, RandomForestSurrogate
from tunestack.searchers.neighbourhood import Neighbourhood
from tunestack.searchers.rfbo import RFBOSearcher
from tunestack.space import SearchSpace


def _branin(c: dict) -> float:
    x1, x2 = c["x0"], c["x1"]
    return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def _branin_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x0", (-5.0, 10.0)), CS.Float("x1", (0.0, 15.0))])
    return cs


def _mixed_fn(c: dict) -> float:
    """Minimum 0 at x=0.8, n=15, act=gelu, size=l (the ``tests.spaces.mixed`` space)."""
    return ((c["x"] - 0.8) ** 2 + ((c["n"] - 15) / 20) ** 2 + {"relu": 0.2, "tanh": 0.1, "gelu": 0.0}[c["act"]]
            + 0.1 * abs("smlx".index(c["size"][0]) - 2))


def _best_after(searcher: str, space, fn, n: int, seed: int) -> float:  # noqa: ANN001
    s = create(searcher, space, seed=seed)
    best = math.inf
    for _ in range(n):
        sug = s.ask()
        v = fn(sug.config)
        best = min(best, v)
        s.tell(sug.id, v)
    return best


# ---- the parts ---------------------------------------------------------------------------------------
def test_forest_fits_a_step_and_is_deterministic():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = np.where(X[:, 0] > 0.5, 1.0, 0.0)
    m = RandomForestSurrogate(ForestConfig()).fit(X, y, seed=1)
    mean, var = m.predict(np.array([[0.1, 0.5, 0.5], [0.9, 0.5, 0.5]]))
    assert mean[0] < 0.2 and mean[1] > 0.8
    assert np.all(var > 0)
    again = RandomForestSurrogate(ForestConfig()).fit(X, y, seed=1).predict(X[:5])
    assert np.array_equal(again[0], m.predict(X[:5])[0])


def test_forest_variance_is_larger_where_targets_disagree():
    rng = np.random.default_rng(1)
    X = rng.random((300, 2))
    noise = np.where(X[:, 1] > 0.5, 1.0, 0.01)  # noisy targets in the upper half only
    y = rng.normal(0, noise)
    m = RandomForestSurrogate(ForestConfig()).fit(X, y, seed=0)
    _, var = m.predict(np.array([[0.5, 0.1], [0.5, 0.9]]))
    assert var[1] > 10 * var[0]


def test_forest_imputes_inactive_dimensions():
    X = np.array([[0.1, np.nan], [0.2, np.nan], [0.8, 0.5], [0.9, 0.4]] * 5)
    y = np.array([0.0, 0.0, 1.0, 1.0] * 5)
    mean, _ = RandomForestSurrogate(ForestConfig(min_samples_leaf=1, min_samples_split=2)).fit(X, y, 0).predict(
        np.array([[0.15, np.nan], [0.85, 0.45]]))
    assert mean[0] < 0.3 and mean[1] > 0.7


def test_log_ei_matches_the_closed_form_and_stays_finite():
    from scipy.stats import norm

    mean = np.array([0.0, 0.5, 1.0, 3.0])
    var = np.array([1.0, 0.25, 4.0, 0.01])
    best = 0.2
    s = np.sqrt(var)
    u = (best - mean) / s
    ei = s * (norm.pdf(u) + u * norm.cdf(u))
    assert np.allclose(log_expected_improvement(mean, var, best), np.log(ei), rtol=1e-9, atol=1e-9)
    far = log_expected_improvement(np.array([10.0, 100.0, 1e4]), np.full(3, 1e-2), 0.0)
    assert np.all(np.isfinite(far)) and far[0] > far[1] > far[2]


@pytest.mark.parametrize("kind", ["log", "copula", "none"])
def test_transforms_keep_the_order(kind):
    y = np.array([3.0, -2.0, 100.0, 0.5, -1.9, 7.0])
    z = transform_targets(y, kind)
    assert np.array_equal(np.argsort(z), np.argsort(y))
    with pytest.raises(ValueError, match="transform"):
        transform_targets(y, "bogus")


def test_neighbours_change_exactly_one_parameter_and_are_normalized():
    space = SearchSpace.create(spaces.mixed())
    hood = Neighbourhood(space)
    rng = np.random.default_rng(0)
    base = space.sample_vectors(rng, 4)
    nb, parent = hood.neighbours(base, 30, np.full(4, 0.2), rng)
    assert len(nb) > 100
    for row, k in zip(nb, parent):
        assert np.count_nonzero(row != base[k]) == 1
        assert np.allclose(row, space.normalize(row), atol=1e-12)
    # integers and ordinals move by at least one step even with a tiny scale
    nb, parent = hood.neighbours(base, 30, np.full(4, 1e-6), rng)
    assert np.all(np.any(nb != base[parent], axis=1))


def test_unit_mapping_matches_the_space():
    space = SearchSpace.create(spaces.mixed())
    U = np.random.default_rng(3).random((50, space.dim))
    assert np.allclose(Neighbourhood(space).from_unit(U), space.from_unit(U), atol=1e-12)


def test_conditional_neighbours_are_valid_and_allowed():
    space = SearchSpace.create(spaces.conditional())
    hood = Neighbourhood(space)
    rng = np.random.default_rng(0)
    base = space.sample_vectors(rng, 5)
    nb, _ = hood.neighbours(base, 20, np.full(5, 0.2), rng)
    opts = set()
    for row in nb:
        c = space.decode(row)
        space.validate(c)  # right parameters active, not forbidden
        opts.add(c["opt"])
    assert len(opts) == 3


# ---- the searcher --------------------------------------------------------------------------------------
def test_beats_random_search_on_branin_and_a_mixed_space():
    for fn, space in ((_branin, _branin_space()), (_mixed_fn, spaces.mixed())):
        rf = [_best_after("rfbo", space, fn, 30, s) for s in range(3)]
        rnd = [_best_after("random", space, fn, 30, s) for s in range(3)]
        assert np.median(rf) < 0.5 * np.median(rnd), (rf, rnd)


def test_conditional_and_forbidden_space():
    space = SearchSpace.create(spaces.conditional())
    s = create("rfbo", space, seed=4)
    values = []
    for _ in range(35):
        sug = s.ask()
        space.validate(sug.config)  # raises on an inactive parameter set or a forbidden combination
        values.append(spaces.objective(sug.config))
        s.tell(sug.id, values[-1])
    n0 = s.n_initial
    assert min(values[n0:]) < min(values[:n0])  # the model-based asks improve on the design


def _batch_after_tells(exclusion: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(observed vectors, 8 pending asks) after 15 Branin tells."""
    s = create("rfbo", _branin_space(), seed=seed, exclusion=exclusion)
    X = []
    for _ in range(15):
        sug = s.ask()
        s.tell(sug.id, _branin(sug.config))
        X.append(sug.vector)
    return np.array(X), np.array([s.ask().vector for _ in range(8)])


def _spacing_ratio(X: np.ndarray, pend: np.ndarray) -> float:
    """Smallest distance of a later pending ask to an earlier one, in units of the earlier one's distance
    to its nearest observation (the radius of its exclusion ball with ``exclusion=1``)."""
    nearest_obs = np.sqrt(((pend[:, None, :] - X[None]) ** 2).sum(-1)).min(axis=1)
    d = np.sqrt(((pend[:, None, :] - pend[None, :, :]) ** 2).sum(-1))
    return min(d[i, j] / nearest_obs[i] for i in range(len(pend)) for j in range(i + 1, len(pend)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pending_asks_spread_out(seed):
    X, pend = _batch_after_tells(1.0, seed)
    assert len({tuple(v) for v in pend}) == 8
    assert _spacing_ratio(X, pend) >= 0.99  # each ask keeps out of the earlier asks' balls
    X0, pend0 = _batch_after_tells(0.0, seed)
    assert _spacing_ratio(X0, pend0) < 0.9  # without the balls later asks crowd the earlier ones


def test_model_uses_the_largest_budget_with_enough_points():
    s = create("rfbo", spaces.continuous(), seed=0, min_points=6, random_every=0)
    for i in range(12):
        sug = s.ask()
        s.tell(sug.id, spaces.objective(sug.config), budget=1)
        if i < 8:
            s.tell(sug.id, spaces.objective(sug.config) / 3, budget=3)
        if i < 4:
            s.tell(sug.id, spaces.objective(sug.config) / 9, budget=9)
    s.ask()
    assert s.last_model_budget == 3.0
    for sug in [s.ask() for _ in range(2)]:
        s.tell(sug.id, spaces.objective(sug.config) / 9, budget=9)
    s.ask()
    assert s.last_model_budget == 9.0


def test_failures_are_imputed_and_the_search_goes_on():
    s = create("rfbo", _branin_space(), seed=2)
    for i in range(25):
        sug = s.ask()
        fails = sug.config["x0"] > 5  # a region that always fails
        s.tell(sug.id, math.nan if fails else _branin(sug.config))
    later = [s.ask().config["x0"] > 5 for _ in range(6)]
    assert sum(later) <= 3  # the model learned that the failing region is bad


def test_bad_settings_are_refused_with_their_name():
    with pytest.raises(SearcherError, match="transform"):
        RFBOSearcher(spaces.continuous(), transform="sqrt")
    with pytest.raises(SearcherError, match="random_every"):
        RFBOSearcher(spaces.continuous(), random_every=-1)
    with pytest.raises(SearcherError, match="n_trees"):
        RFBOSearcher(spaces.continuous(), forest={"n_trees": 0})
    with pytest.raises(SearcherError, match="liar"):
        RFBOSearcher(spaces.continuous(), liar="sometimes")


def test_one_ask_after_many_tells_is_fast():
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(10)])
    s = create("rfbo", cs, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(500):
        x = rng.random(10)
        s.add_observation({f"x{i}": float(x[i]) for i in range(10)}, float(np.sum((x - 0.3) ** 2)))
    s.ask()  # warm up
    t = time.perf_counter()
    s.ask()
    assert time.perf_counter() - t < 2.0  # generous: the target is 200 ms at 1,000 tells on a quiet machine


def test_vectorized_activity_matches_the_space():
    space = SearchSpace.create(spaces.conditional())
    hood = Neighbourhood(space)
    assert hood._rules is not None  # conditions on a categorical parent are handled vectorized
    rng = np.random.default_rng(5)
    U = rng.random((200, space.dim))
    mine = hood.from_unit(U)
    theirs = space.from_unit(U)
    allowed = [not space.is_forbidden(space.decode_flat(v)) for v in theirs]
    assert np.allclose(np.nan_to_num(mine, nan=-7), np.nan_to_num(theirs[allowed], nan=-7), atol=1e-12)
    nb, _ = hood.neighbours(space.sample_vectors(rng, 5), 40, np.full(5, 0.2), rng)
    assert np.allclose(np.nan_to_num(nb, nan=-7), np.nan_to_num([space.normalize(v) for v in nb], nan=-7),
                       atol=1e-12)


def test_exclusion_can_be_turned_off():
    s = create("rfbo", _branin_space(), seed=1, exclusion=0)
    for _ in range(8):
        sug = s.ask()
        s.tell(sug.id, _branin(sug.config))
    pend = [s.ask() for _ in range(3)]
    assert len({tuple(p.vector) for p in pend}) == 3
