"""The searcher benchmark's problem definitions: known optima reproduce, CASH evaluates deterministically,
and the trajectory encoding of the harness round-trips."""
from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np
import pytest

from benchmarks.searchers.problems import PROBLEMS, all_problems, conditional_problems, continuous_problems
from tunestack.space import SearchSpace

KNOWN = sorted(PROBLEMS)


@pytest.mark.parametrize("name", KNOWN)
def test_known_optimum_reproduces_at_argmin(name):
    p = PROBLEMS[name]
    assert p.argmin is not None and p.optimum is not None
    CS.Configuration(p.space, values=p.argmin).check_valid_configuration()  # argmin lies in the space
    assert p.fn(p.argmin) == pytest.approx(p.optimum, abs=1e-9 * max(1.0, abs(p.optimum)))


@pytest.mark.parametrize("name", KNOWN)
def test_no_sampled_configuration_beats_the_optimum(name):
    p = PROBLEMS[name]
    space = SearchSpace.create(p.space)
    for vec in space.sample_vectors(np.random.default_rng(0), 150):
        v = p.fn(space.decode(vec))
        assert math.isfinite(v) and v >= p.optimum - 1e-9


@pytest.mark.parametrize("name", KNOWN)
def test_optimum_is_a_local_minimum(name):
    """Small moves of each float away from the argmin do not go below the optimum."""
    p = PROBLEMS[name]
    for k, x in p.argmin.items():
        hp = p.space[k]
        if not isinstance(hp, CS.UniformFloatHyperparameter):
            continue
        for step in (-1e-3, 1e-3):
            y = min(max(x + step * (hp.upper - hp.lower), hp.lower), hp.upper)
            assert p.fn({**p.argmin, k: y}) >= p.optimum - 1e-9


def test_continuous_flags():
    assert all(p.continuous for p in continuous_problems().values())
    cond = conditional_problems()["cond_synth"]
    assert not cond.continuous and cond.space.conditions


def test_cond_synth_branches_are_traps_with_known_floors():
    p = PROBLEMS["cond_synth"]
    shared = {"s_float": 0.7, "s_int": 13, "s_cat": "y"}
    quad = {"branch": "quad", "q_x": 1.3, "q_lr": 10 ** -2.5, "q_n": 5, **shared}
    bran = {"branch": "branin", "b_x0": math.pi, "b_x1": 2.275, "b_act": "relu", **shared}
    assert p.fn(quad) == pytest.approx(0.03)
    assert p.fn(bran) == pytest.approx(0.06, abs=1e-9)
    assert p.fn({**p.argmin, "h_mode": "plain"}) == pytest.approx(0.1)  # the nested condition matters
    # the optimum is not at a ConfigSpace default, which some optimizers try first
    assert p.fn(dict(p.space.get_default_configuration())) > 0.5


# ---- CASH -------------------------------------------------------------------------------------------------
ONE_PER_CLASSIFIER = [
    {"classifier": "svm", "svm_C": 1.0, "svm_kernel": "rbf", "svm_gamma": 0.01},
    {"classifier": "svm", "svm_C": 10.0, "svm_kernel": "poly", "svm_gamma": 0.05, "svm_degree": 2},
    {"classifier": "svm", "svm_C": 0.1, "svm_kernel": "linear"},
    {"classifier": "rf", "rf_n_estimators": 4, "rf_max_features": 0.3, "rf_min_samples_leaf": 2,
     "rf_criterion": "gini"},
    {"classifier": "knn", "knn_n_neighbors": 5, "knn_weights": "distance", "knn_metric": "l1"},
    {"classifier": "logreg", "lr_C": 1.0, "lr_class_weight": "balanced"},
    {"classifier": "gb", "gb_learning_rate": 0.3, "gb_max_iter": 4, "gb_max_leaf_nodes": 4,
     "gb_min_samples_leaf": 8, "gb_l2_regularization": 1e-3},
]


@pytest.fixture(scope="module")
def cash():
    return {k: v for k, v in all_problems().items() if k.startswith("cash_")}


def test_cash_problems_exist_without_optimum(cash):
    assert set(cash) == {"cash_digits", "cash_breast_cancer"}
    for p in cash.values():
        assert p.optimum is None and not p.continuous
        with pytest.raises(ValueError, match="no known optimum"):
            p.regret(0.1)


@pytest.mark.parametrize("config", ONE_PER_CLASSIFIER, ids=lambda c: f"{c['classifier']}-{c.get('svm_kernel', '')}")
def test_cash_evaluates_every_classifier_deterministically(cash, config):
    from benchmarks.searchers.cash import _evaluate

    CS.Configuration(cash["cash_breast_cancer"].space, values=config).check_valid_configuration()
    a = _evaluate("breast_cancer", config)
    b = _evaluate("breast_cancer", config)  # a second fit, not the memo
    assert a == b
    assert 0.0 <= a < 0.2  # every classifier here beats guessing the majority class (37% error)


def test_cash_digits_is_learnable_and_memoized(cash):
    p = cash["cash_digits"]
    knn = ONE_PER_CLASSIFIER[4]
    v = p.fn(knn)
    assert 0.0 <= v < 0.1 and p.fn(dict(knn)) == v


def test_cash_conditions_follow_the_svm_kernel(cash):
    space = cash["cash_digits"].space
    for c in space.sample_configuration(100):
        c = dict(c)
        if c["classifier"] != "svm":
            assert not any(k.startswith("svm_") for k in c)
        else:
            assert ("svm_gamma" in c) == (c["svm_kernel"] in ("rbf", "poly"))
            assert ("svm_degree" in c) == (c["svm_kernel"] == "poly")


def test_cash_unknown_dataset_is_a_clear_error():
    from benchmarks.searchers.cash import _data

    with pytest.raises(ValueError, match="unknown CASH dataset 'iris'"):
        _data("iris")


# ---- the harness's encodings ------------------------------------------------------------------------------
def test_trajectory_round_trip():
    from benchmarks.searchers.report import trajectory
    from benchmarks.searchers.run import improvements

    values = [5.0, 6.0, 3.0, 3.0, 4.0, 1.0, 2.0]
    run = {"n": len(values), "improvements": improvements(values)}
    assert run["improvements"] == [[0, 5.0], [2, 3.0], [5, 1.0]]
    assert trajectory(run).tolist() == list(np.minimum.accumulate(values))


def test_parent_first_order_and_activity():
    from benchmarks.searchers.cash import cash_space
    from benchmarks.searchers.spaces import is_active, ordered

    cs = cash_space()
    names = [hp.name for hp in ordered(cs)]
    assert names.index("classifier") < names.index("svm_kernel") < names.index("svm_gamma")
    assert is_active(cs, "svm_gamma", {"classifier": "svm", "svm_kernel": "poly"})
    assert not is_active(cs, "svm_gamma", {"classifier": "svm", "svm_kernel": "linear"})
    assert not is_active(cs, "svm_kernel", {"classifier": "rf"})


@pytest.mark.parametrize("name", ["cond_synth", "branin"])
def test_hyperopt_translation_samples_valid_configurations(name):
    pytest.importorskip("hyperopt")  # the peers live in .bench-venv only
    from hyperopt import pyll

    from benchmarks.searchers.spaces import hyperopt_config, hyperopt_space

    p = PROBLEMS[name]
    space = hyperopt_space(p.space)
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = hyperopt_config(p.space, pyll.stochastic.sample(space, rng=rng))
        CS.Configuration(p.space, values=c).check_valid_configuration()
