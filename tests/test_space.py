"""SearchSpace: construction from Ray and ConfigSpace, encode/decode round trips, validation."""
from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ray import tune

from tests import spaces
from tunestack.space import SearchSpace, SpaceError


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b and type(a) is type(b)


# ---- Ray param_space ---------------------------------------------------------------------------
RAY_SPACE = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "width": tune.randint(16, 257),
    "drop": tune.quniform(0.0, 0.5, 0.1),
    "wd": tune.qloguniform(1e-5, 1e-2, 1e-5),
    "layers": tune.lograndint(1, 9),
    "batch": tune.qrandint(16, 128, 16),
    "heads": tune.qlograndint(2, 64, 2),
    "act": tune.choice(["relu", "tanh", None, (1, 2)]),
    "flag": tune.choice([True, False, 1]),
    "model": {"depth": tune.uniform(0, 1), "name": "mlp", "inner": {"k": tune.choice([3, 5])}},
    "epochs": 20,
}


def test_ray_space_domains_and_constants():
    s = SearchSpace.create(RAY_SPACE)
    kinds = {p.name: p.kind for p in s.params}
    assert kinds["lr"] == "float" and kinds["width"] == "int" and kinds["act"] == "cat"
    assert kinds["model/depth"] == "float" and kinds["model/inner/k"] == "cat"
    assert s.constants == {"model/name": "mlp", "epochs": 20}
    rng = np.random.default_rng(0)
    for c in s.sample(rng, 200):
        assert c["epochs"] == 20 and c["model"]["name"] == "mlp"
        assert 16 <= c["width"] <= 256  # randint's upper bound is exclusive
        assert c["batch"] % 16 == 0 and 16 <= c["batch"] <= 128  # qrandint's is inclusive
        assert c["heads"] % 2 == 0 and 2 <= c["heads"] <= 64
        assert 1 <= c["layers"] <= 8
        assert round(c["drop"] / 0.1, 6) == round(c["drop"] / 0.1) and 0 <= c["drop"] <= 0.5
        assert c["act"] in ("relu", "tanh", None, (1, 2))
        assert c["flag"] in (True, False, 1) and (c["flag"] is not True or c["flag"] is True)
        assert _same(s.decode(s.encode(c)[0]), c)
    widths = {c["width"] for c in s.sample(rng, 2000)}
    assert 256 in widths and 16 in widths and 257 not in widths


def test_choice_keeps_1_and_true_apart():
    s = SearchSpace.create({"f": tune.choice([True, 1, 1.0])})
    vals = [s.decode(np.array([float(i)]))["f"] for i in range(3)]
    assert [type(v) for v in vals] == [bool, int, float]


@pytest.mark.parametrize("bad,match", [
    ({"x": tune.sample_from(lambda spec: 1)}, "sample_from"),
    ({"x": tune.grid_search([1, 2])}, "grid_search"),
    ({"x": tune.randn(0, 1)}, "unbounded"),
    ({"a": {"x": tune.loguniform(1e-3, 1), "y": tune.uniform(2, 1)}}, "a/y"),
    ({}, "empty"),
    # a domain inside a choice reached the function as a Domain object, unsampled
    ({"opt": tune.choice([{"name": "sgd", "momentum": tune.uniform(0, 0.99)}, {"name": "adam"}])},
     r"'opt': choice 0 holds a search domain \(\['momentum'\]: Float\)"),
    ({"layers": tune.choice([[8, 8], [tune.randint(1, 4)]])}, r"'layers': choice 1 .*\[0\]: Integer"),
])
def test_unsupported_ray_domains_are_refused_by_name(bad, match):
    with pytest.raises(SpaceError, match=match):
        SearchSpace.create(bad)


def test_not_a_space():
    with pytest.raises(SpaceError, match="param_space"):
        SearchSpace.create([1, 2, 3])


# ---- validation ----------------------------------------------------------------------------------
def test_validation_names_the_parameter():
    s = SearchSpace.create(spaces.conditional())
    good = {"opt": "sgd", "momentum": 0.5, "nesterov": True, "lr": 0.01, "width": 8}
    assert s.validate(good) == good
    cases = [
        ({**good, "lr": 2.0}, "'lr'"),
        ({k: v for k, v in good.items() if k != "width"}, "'width' is missing"),
        ({**good, "beta2": 0.95}, "'beta2' .*inactive"),
        ({**good, "bogus": 1}, "bogus"),
        ({"opt": "rmsprop", "beta2": 0.95, "lr": 0.01, "width": 5}, "forbidden"),
        ({**good, "opt": "nadam"}, "'opt'"),
        ({**good, "width": 8.5}, "'width'"),
    ]
    for cfg, match in cases:
        with pytest.raises(SpaceError, match=match):
            s.validate(cfg)


def test_validate_nested_ray_config():
    s = SearchSpace.create({"opt": {"lr": tune.uniform(0, 1)}, "n": 3})
    assert s.validate({"opt": {"lr": 0.5}, "n": 3}) == {"opt": {"lr": 0.5}, "n": 3}
    with pytest.raises(SpaceError, match="opt/lr"):
        s.validate({"opt": {"lr": 5.0}, "n": 3})


# ---- conditional spaces, forbidden clauses -----------------------------------------------------
def test_conditional_sampling_respects_conditions_and_forbidden():
    s = SearchSpace.create(spaces.conditional())
    rng = np.random.default_rng(1)
    vecs = s.sample_vectors(rng, 500)
    opt = s.names.index("opt")
    mom = s.names.index("momentum")
    for v in vecs:
        c = s.decode(v)
        s.validate(c)
        assert np.isnan(v[mom]) == (c["opt"] != "sgd")
    assert {s.decode(v)["opt"] for v in vecs} == {"sgd", "adam", "rmsprop"}
    assert set(np.unique(vecs[:, opt])) == {0.0, 1.0, 2.0}


def test_neighbours_change_one_parameter_and_stay_valid():
    s = SearchSpace.create(spaces.conditional())
    rng = np.random.default_rng(2)
    base = s.sample_vectors(rng, 1)[0]
    nb = s.neighbours(base, rng, 20)
    assert len(nb) == 20
    for v in nb:
        s.validate(s.decode(v))
        assert not np.array_equal(np.nan_to_num(v, nan=-1), np.nan_to_num(base, nan=-1))


def test_integer_neighbours_move_at_least_one_step():
    s = SearchSpace.create({"n": tune.randint(0, 1000)})
    rng = np.random.default_rng(0)
    base = s.encode({"n": 500})[0]
    nb = s.neighbours(base, rng, 10, scale=1e-6)
    assert len(nb) == 10 and all(s.decode(v)["n"] in (499, 501) for v in nb)


def test_default_and_normal_prior():
    cs = CS.ConfigurationSpace()
    cs.add(CS.NormalFloatHyperparameter("x", mu=0.8, sigma=0.05, lower=0.0, upper=1.0))
    s = SearchSpace.create(cs)
    assert s.default() == {"x": 0.8}
    xs = [c["x"] for c in s.sample(np.random.default_rng(0), 300)]
    assert abs(np.mean(xs) - 0.8) < 0.02


def test_beta_prior_refused():
    cs = CS.ConfigurationSpace()
    cs.add(CS.BetaFloatHyperparameter("b", alpha=2, beta=2, lower=0, upper=1))
    with pytest.raises(SpaceError, match="'b'"):
        SearchSpace.create(cs)


# ---- property tests: round trips ---------------------------------------------------------------
@st.composite
def ray_spaces(draw):
    space = {}
    n = draw(st.integers(1, 6))
    for i in range(n):
        kind = draw(st.sampled_from(["u", "lu", "q", "ri", "lri", "qri", "ch", "const"]))
        lo = draw(st.floats(0.001, 10.0, allow_nan=False))
        width = draw(st.floats(0.01, 100.0, allow_nan=False))
        ilo = draw(st.integers(1, 50))
        iw = draw(st.integers(1, 300))
        space[f"p{i}"] = {
            "u": tune.uniform(lo, lo + width),
            "lu": tune.loguniform(lo, lo + width),
            "q": tune.quniform(0.25 * ilo, 0.25 * (ilo + iw), 0.25),
            "ri": tune.randint(ilo, ilo + iw + 1),
            "lri": tune.lograndint(ilo, ilo + iw + 1),
            "qri": tune.qrandint(ilo, ilo + iw, 3),
            "ch": tune.choice(draw(st.lists(st.text(max_size=3), min_size=1, max_size=5, unique=True))),
            "const": draw(st.integers()),
        }[kind]
    if all(not hasattr(v, "sampler") for v in space.values()):
        space["extra"] = tune.uniform(0, 1)
    return space


@settings(max_examples=60, deadline=None)
@given(ray_spaces(), st.integers(0, 2**31))
def test_ray_encode_decode_round_trip(param_space, seed):
    s = SearchSpace.create(param_space)
    rng = np.random.default_rng(seed)
    for v in s.sample_vectors(rng, 10):
        c = s.decode(v)
        s.validate(c)
        v2, active = s.encode(c)
        assert active.all()
        assert _same(s.decode(v2), c)
        np.testing.assert_allclose(s.normalize(v2), v2, atol=1e-12)
    # any point of the unit cube decodes to a valid configuration
    for u in rng.random((10, s.dim)):
        s.validate(s.decode(s.from_unit(u)[0]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_conditional_encode_decode_round_trip(seed, a, b, c):
    s = SearchSpace.create(spaces.conditional())
    rng = np.random.default_rng(seed)
    vec = s.sample_vectors(rng, 1)[0]
    cfg = s.decode(vec)
    v2, active = s.encode(cfg)
    assert (active == ~np.isnan(vec)).all()
    assert _same(s.decode(v2), cfg)
    # arbitrary values in inactive dimensions are ignored
    noisy = vec.copy()
    noisy[np.isnan(noisy)] = a
    assert _same(s.decode(noisy), cfg)
    u = s.from_unit(np.array([a, b, c, a, b, c]))[0]
    if not s.is_forbidden(s.decode_flat(u)):  # the cube covers forbidden corners; sampling skips them
        s.validate(s.decode(u))
