"""The conformance suite every registered searcher joins (DESIGN.md, searcher contract).

Lifecycle, determinism (also across processes), state round trip, failures, pending asks, conditional
spaces and the refusal of unsupported spaces.  Parametrized over ``tunestack.searchers.available()``.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import spaces
from tunestack.searchers import SearcherError, available, create
from tunestack.searchers.base import Searcher
from tunestack.space import SearchSpace, SpaceError

NAMES = available()
SPACES = {"continuous": spaces.continuous, "mixed": spaces.mixed, "conditional": spaces.conditional}


def _cls(name: str) -> type[Searcher]:
    return type(create(name, spaces.continuous(), seed=0))


def _supports(name: str, space_name: str) -> bool:
    cls = _cls(name)
    if space_name == "mixed":
        return cls.supports_categorical
    if space_name == "conditional":
        return cls.supports_categorical and cls.supports_conditional
    return True


def _cases():
    for n in NAMES:
        for sp in SPACES:
            yield pytest.param(n, sp, id=f"{n}-{sp}")


def _run(s: Searcher, n: int, fail_every: int = 0) -> list[dict]:
    configs = []
    for i in range(n):
        sug = s.ask()
        configs.append(sug.config)
        value = math.nan if fail_every and i % fail_every == 0 else spaces.objective(sug.config)
        s.tell(sug.id, value)
    return configs


def test_all_issue_searchers_are_registered():
    assert "random" in NAMES


@pytest.mark.parametrize("name,space_name", list(_cases()))
def test_lifecycle(name, space_name):
    if not _supports(name, space_name):
        with pytest.raises(SpaceError, match=name):
            create(name, SPACES[space_name](), seed=0)
        return
    space = SearchSpace.create(SPACES[space_name]())
    s = create(name, space, seed=0)
    ids, values = set(), []
    for _ in range(30):
        sug = s.ask()
        assert sug.id not in ids
        ids.add(sug.id)
        space.validate(sug.config)  # legal, no inactive parameter set, not forbidden
        assert all(not isinstance(v, np.generic) for v in sug.config.values()), "plain Python values"
        v = spaces.objective(sug.config)
        values.append(v)
        s.tell(sug.id, v)
    best_id, best_value = s.best()
    assert best_value == pytest.approx(min(values))
    assert not s.pending


@pytest.mark.parametrize("name", NAMES)
def test_inactive_parameters_never_appear(name):
    if not _supports(name, "conditional"):
        pytest.skip("searcher refuses conditional spaces (checked in test_lifecycle)")
    space = SearchSpace.create(spaces.conditional())
    s = create(name, space, seed=3)
    seen_opts = set()
    for _ in range(40):
        sug = s.ask()
        c = sug.config
        seen_opts.add(c["opt"])
        assert ("momentum" in c) == (c["opt"] == "sgd")
        assert ("nesterov" in c) == (c["opt"] == "sgd")
        assert ("beta2" in c) == (c["opt"] in ("adam", "rmsprop"))
        assert not (c["opt"] == "rmsprop" and c["width"] in (4, 5, 6, 7)), "forbidden clause violated"
        s.tell(sug.id, spaces.objective(c))
    assert len(seen_opts) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_asks(name):
    a = create(name, spaces.continuous(), seed=42)
    b = create(name, spaces.continuous(), seed=42)
    assert _run(a, 25) == _run(b, 25)
    c = create(name, spaces.continuous(), seed=43)
    assert _run(c, 25) != _run(create(name, spaces.continuous(), seed=42), 25)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_asks_in_a_fresh_process(name):
    code = textwrap.dedent(f"""
        import json, math
        from tests import spaces
        from tunestack.searchers import create
        s = create({name!r}, spaces.continuous(), seed=7)
        out = []
        for i in range(20):
            sug = s.ask()
            out.append(sug.config)
            s.tell(sug.id, spaces.objective(sug.config))
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert proc.returncode == 0, proc.stderr
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    here = json.loads(json.dumps(_run(create(name, spaces.continuous(), seed=7), 20)))
    assert there == here


@pytest.mark.parametrize("name,space_name", list(_cases()))
def test_state_round_trip_gives_identical_next_asks(name, space_name):
    if not _supports(name, space_name):
        pytest.skip("unsupported space")
    s = create(name, SPACES[space_name](), seed=5)
    _run(s, 15, fail_every=7)
    pending = [s.ask() for _ in range(3)]
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))  # strict JSON
    other = create(name, SPACES[space_name](), seed=999)
    other.load_state_dict(state)
    assert len(other.pending) == 3
    for p in pending:  # both finish the pending asks the same way, then ask on
        for x in (s, other):
            x.tell(p.id, spaces.objective(p.config))
    assert _run(s, 6) == _run(other, 6)


@pytest.mark.parametrize("name", NAMES)
def test_state_of_another_searcher_is_refused(name):
    s = create(name, spaces.continuous(), seed=0)
    state = s.state_dict()
    state["searcher"] = "something-else"
    with pytest.raises(SearcherError):
        s.load_state_dict(state)


@pytest.mark.parametrize("name", NAMES)
def test_failures_never_crash(name):
    s = create(name, spaces.continuous(), seed=1)
    bad = [math.nan, math.inf, -math.inf, None, RuntimeError("diverged"), "not a number"]
    for i in range(30):
        sug = s.ask()
        s.tell(sug.id, bad[i % len(bad)] if i % 2 == 0 else spaces.objective(sug.config))
    failed = [r for r in s.trials.values() if r.failed]
    assert len(failed) == 15
    # all failures: still asks valid configurations
    t = create(name, spaces.continuous(), seed=2)
    for _ in range(12):
        sug = t.ask()
        t.tell(sug.id, math.nan)
    assert t.best() is None
    SearchSpace.create(spaces.continuous()).validate(t.ask().config)


@pytest.mark.parametrize("name", NAMES)
def test_32_pending_asks_are_distinct(name):
    s = create(name, spaces.continuous(), seed=11)
    _run(s, 12)
    pend = [s.ask() for _ in range(32)]
    keys = {json.dumps(p.config, sort_keys=True) for p in pend}
    assert len(keys) == 32
    assert len(s.pending) == 32


@pytest.mark.parametrize("name", NAMES)
def test_mode_max_flips_once(name):
    s = create(name, spaces.continuous(), mode="max", seed=0)
    vals = []
    for _ in range(15):
        sug = s.ask()
        v = -spaces.objective(sug.config)
        vals.append(v)
        s.tell(sug.id, v)
    assert s.best()[1] == pytest.approx(max(vals))


@pytest.mark.parametrize("name", NAMES)
def test_budget_tells(name):
    s = create(name, spaces.continuous(), seed=0)
    for i in range(20):
        sug = s.ask()
        for b in (1, 3, 9):
            if i % 3 == 0 and b == 9:
                continue  # some trials stop early
            s.tell(sug.id, spaces.objective(sug.config) / b, budget=b)
    assert s.model_budget(5) == 9.0
    assert s.budgets()[1.0] == 20
    SearchSpace.create(spaces.continuous()).validate(s.ask().config)
    with pytest.raises(SearcherError):
        s.tell("0", 1.0, budget=-1)
    with pytest.raises(SearcherError):
        s.tell("no-such-id", 1.0)


def test_a_bad_seed_is_refused_by_searchers_and_schedulers():
    # -1 gave numpy's "expected non-negative integer"; 2.5 was cut to 2 without a word
    from ray import tune

    from tunestack.schedulers import SchedulerError
    from tunestack.schedulers import create as create_scheduler

    space = {"x": tune.uniform(0, 1)}
    for bad in (-1, 2.5, True, "7"):
        with pytest.raises(SearcherError, match="seed must be a whole number >= 0 or None"):
            create("random", space, seed=bad)
        with pytest.raises(SchedulerError, match="seed must be a whole number >= 0 or None"):
            create_scheduler("asha", max_budget=9, seed=bad)
    assert create("tpe", space, seed=np.int64(3)).seed == 3 and create("tpe", space, seed=4.0).seed == 4
