"""The multi-fidelity benchmark harness (benchmarks/multifidelity): budget accounting, the pipe protocol
to peer workers, the space description, the tunestack runners and the report, on a small synthetic
learning-curve benchmark (no surrogate fit, no peer package needed; peer parts are skipped unless
installed)."""
from __future__ import annotations

import importlib.util
import json
import math
import sys

import ConfigSpace as CS
import numpy as np
import pytest

from benchmarks.multifidelity import optimizers as opt
from benchmarks.multifidelity import report
from benchmarks.multifidelity.common import Evaluator, Ledger, best_at, improvements, space_spec
from tunestack.space import SearchSpace


class FakeBench:
    """Learning curves value(b) = final(config) + 0.5 / b on budgets 1..27; cost 1 s per step."""

    min_budget, max_budget = 1, 27

    def __init__(self) -> None:
        cs = CS.ConfigurationSpace(seed=0)
        kind = CS.Categorical("kind", ["a", "b"])
        depth = CS.Integer("depth", (1, 4))
        cs.add([CS.Float("x", (0.0, 1.0)), CS.Float("lr", (1e-3, 1.0), log=True), kind, depth,
                CS.OrdinalHyperparameter("batch", [16, 32, 64])])
        cs.add(CS.EqualsCondition(depth, kind, "b"))
        self.space = cs
        self.search_space = SearchSpace.from_configspace(cs)
        self.optimum = 0.0
        self.calls = 0

    def final(self, c: dict) -> float:
        return (c["x"] - 0.3) ** 2 + 0.1 * abs(math.log10(c["lr"]) + 1) + (0.05 if c["kind"] == "a" else 0.0)

    def curves(self, c: dict) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        b = np.arange(1, 28, dtype=float)
        return self.final(c) + 0.5 / b, np.cumsum(np.ones(27))

    def budget_index(self, budget: float) -> int:
        return max(1, min(27, math.ceil(float(budget) - 1e-9)))


@pytest.fixture
def ev() -> Evaluator:
    return Evaluator("fake", bench=FakeBench())


CFG = {"x": 0.3, "lr": 0.1, "kind": "b", "depth": 2, "batch": 32}


def test_evaluator_rounds_budgets_up_and_caches_curves(ev):
    assert ev.value(CFG, 3) == pytest.approx(0.5 / 3)
    assert ev.value(CFG, 2.2) == pytest.approx(0.5 / 3), "budget 2.2 trains 3 whole epochs"
    assert ev.budget_objective(CFG, 2.2) == (pytest.approx(0.5 / 3), 3.0)
    assert ev.bench.calls == 1


def test_ledger_charges_increments_and_records_full_values(ev):
    led = Ledger(ev, limit=2.0)
    led.evaluate(CFG, 3)                     # 3 epochs
    led.evaluate(CFG, 9)                     # resumed: +6
    led.evaluate({**CFG, "x": 0.5}, 9)       # another config from scratch: +9
    assert led.used == pytest.approx(18 / 27) and not led.exhausted
    led.evaluate(CFG, 27)                    # +18: 36 epochs = 1.333 full evaluations
    assert led.used == pytest.approx(36 / 27)
    led.evaluate(CFG, 27)                    # the same again costs nothing
    assert led.used == pytest.approx(36 / 27) and led.n_evals == 5
    assert led.full_values == [(pytest.approx(36 / 27), pytest.approx(0.5 / 27))] * 2
    led.evaluate({**CFG, "x": 0.9}, 27, key="trial-7")
    assert led.exhausted and led.used == pytest.approx(63 / 27)
    assert [x for x, _ in led.improvements()] == [pytest.approx(36 / 27)], "a worse value is no improvement"


def test_improvements_and_best_at():
    imps = improvements([(1.0, 0.5), (2.0, float("nan")), (3.0, 0.6), (4.0, 0.2)])
    assert imps == [[1.0, 0.5], [4.0, 0.2]]
    assert best_at(imps, 0.5) == math.inf and best_at(imps, 3.9) == 0.5 and best_at(imps, 100) == 0.2


def test_space_spec_rebuilds_the_same_space_for_peer_workers():
    from benchmarks.multifidelity import peer_worker

    cs = FakeBench().space
    spec = json.loads(json.dumps(space_spec(cs)))
    rebuilt = peer_worker.build_space(spec, seed=1)
    assert sorted(rebuilt) == sorted(cs)
    assert isinstance(rebuilt["batch"], CS.OrdinalHyperparameter)
    assert [c.child.name for c in rebuilt.conditions] == ["depth"]
    as_int = peer_worker.build_space(spec, seed=1, ordinal_as_int=True)
    assert isinstance(as_int["batch"], CS.UniformIntegerHyperparameter)
    assert peer_worker.decode(spec, {"batch": 2, "x": np.float64(0.5)}, True) == {"batch": 64, "x": 0.5}
    for c in rebuilt.sample_configuration(20):  # the same conditional structure
        assert ("depth" in c) == (c["kind"] == "b")


def test_pipe_protocol_with_a_probe_worker(ev, monkeypatch):
    """The parent answers a worker process's requests, charges them and tells it to stop."""
    monkeypatch.setenv("TUNESTACK_MF_PEER_PYTHON", sys.executable)
    rec = opt.run_optimizer("probe", ev, seed=3, limit=5.0)
    assert rec["worker"]["done"] and rec["worker"]["n"] == rec["n_evals"]
    # the probe trains each config to 1 epoch then to 27: 27 epochs = 1 full evaluation per config
    assert rec["budget_used"] == pytest.approx(5.0) and rec["n_evals"] == 10
    assert [x for x, _ in rec["improvements"]] == sorted(x for x, _ in rec["improvements"])
    assert all(x == pytest.approx(round(x)) for x, _ in rec["improvements"])


@pytest.mark.parametrize("name", ["bohb", "hyperband", "sh", "asha", "random"])
def test_tunestack_runners_stop_at_the_budget_and_count_it_like_the_ledger(ev, name):
    rec = opt.run_optimizer(name, ev, seed=0, limit=6.0)
    assert rec["improvements"], "a full-budget evaluation within 6 full-evaluation equivalents"
    assert 5.0 <= rec["budget_used"] <= 6.0 + 1e-9
    xs = [x for x, _ in rec["improvements"]]
    vs = [v for _, v in rec["improvements"]]
    assert xs == sorted(xs) and vs == sorted(vs, reverse=True) and xs[-1] <= 6.0 + 1e-9
    again = opt.run_optimizer(name, ev, seed=0, limit=6.0)
    assert again["improvements"] == rec["improvements"], "deterministic per seed"


def test_random_search_uses_whole_evaluations(ev):
    rec = opt.run_optimizer("random", ev, seed=1, limit=4.0)
    assert rec["n_evals"] == 4 and rec["improvements"][0][0] == pytest.approx(1.0)


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="optuna is not installed here")
def test_optuna_hyperband_is_charged_the_epochs_it_trained(ev):
    rec = opt.run_optimizer("optuna_hb", ev, seed=0, limit=3.0)
    assert rec["budget_used"] == pytest.approx(3.0) and rec["n_evals"] == 81


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="optuna is not installed here")
def test_optuna_hyperband_runs_are_reproducible(ev):
    """Its pruner picks a trial's bracket by a CRC of the study's name, a fresh UUID unless named."""
    runs = [opt.run_optimizer("optuna_hb", ev, seed=3, limit=12.0)["improvements"] for _ in range(2)]
    assert runs[0] == runs[1]


def _fake_results() -> tuple[dict, list[dict]]:
    meta = {"budget": 100.0, "seeds": 3, "optimizers": ["bohb", "random", "dehb"],
            "data": {"b1": {"optimum": 0.1}, "b2": {"optimum": 0.0}}}
    runs = []
    for b in ("b1", "b2"):
        off = meta["data"][b]["optimum"]
        for s in range(3):
            runs += [{"benchmark": b, "optimizer": "bohb", "seed": s, "n_evals": 9,
                      "improvements": [[4.0, off + 0.3], [8.0, off + 0.05 + 0.01 * s]]},
                     {"benchmark": b, "optimizer": "random", "seed": s, "n_evals": 100,
                      "improvements": [[1.0, off + 0.5], [60.0, off + 0.06 + 0.01 * s]]},
                     {"benchmark": b, "optimizer": "dehb", "seed": s, "n_evals": 50,
                      "improvements": [[20.0, off + 0.04]]}]
    return meta, runs


def test_report_regrets_ranks_and_targets():
    meta, runs = _fake_results()
    seeds, mat = report.regret_matrix(meta, runs, "b1", "bohb", np.array([5.0, 10.0, 100.0]))
    assert seeds == [0, 1, 2]
    assert mat[:, 0] == pytest.approx([0.3] * 3) and mat[:, 2] == pytest.approx([0.05, 0.06, 0.07])
    _, none_yet = report.regret_matrix(meta, runs, "b1", "dehb", np.array([10.0]))
    assert np.all(np.isinf(none_yet)), "no incumbent before the first full-budget evaluation"
    ranks = report.mean_ranks(meta, runs, 100.0)
    assert ranks["b1"]["dehb"] == 1.0 and ranks["b1"]["bohb"] == pytest.approx(2.0)
    assert ranks["overall"]["random"] == 3.0
    ranks10 = report.mean_ranks(meta, runs, 10.0)
    assert ranks10["b2"]["dehb"] == 3.0, "no incumbent ranks last"
    t = report.targets(meta, runs)
    # random's median final regret 0.07; bohb's median curve reaches 0.06 at x = 8 <= 10
    assert t["b1"]["random_final_median"] == pytest.approx(0.07)
    assert t["b1"]["bohb_budget_to_reach"] == pytest.approx(8.0, rel=0.05) and t["b1"]["met"]
    assert t["overall"]["best_mean_rank"] == "dehb" and not t["overall"]["bohb_best"]
    meta.update(command="x", git_commit="0", date="d", wall_s_this_invocation=1.0, versions={})
    for d in meta["data"].values():
        d.update(configs=1, budgets=[1, 2], sha256_16="h")
    md = report.markdown(meta, runs)
    assert "| dehb | - [-, -] (3 none yet)" in md and "**met**" in md and "**missed**" in md


def test_a_shared_first_place_is_named_as_a_tie_and_does_not_meet_the_rank_target():
    assert report._best({"bohb": 2.5, "smac_mf": 2.5, "random": 4.0}) == "bohb = smac_mf"
    assert report._best({"smac_mf": 3.0, "bohb": 2.5}) == "bohb" and report._best({}) is None
    meta, runs = _fake_results()
    for r in runs:  # bohb's runs become dehb's, seed by seed: the two tie on every benchmark
        if r["optimizer"] == "bohb":
            r["improvements"] = next(q["improvements"] for q in runs if q["optimizer"] == "dehb"
                                     and q["benchmark"] == r["benchmark"] and q["seed"] == r["seed"])
    t = report.targets(meta, runs)
    assert " = " in t["overall"]["best_mean_rank"] and not t["overall"]["bohb_best"]


def test_ranks_use_only_the_seeds_every_optimizer_ran():
    meta, runs = _fake_results()
    before = report.mean_ranks(meta, runs, 100.0)
    # a 4th seed that dehb (the best) lacks must not rank bohb and random among fewer competitors
    runs += [{"benchmark": b, "optimizer": o, "seed": 3, "n_evals": 9, "improvements": [[50.0, 0.0]]}
             for b in ("b1", "b2") for o in ("bohb", "random")]
    assert report.common_seeds(meta, runs, "b1") == [0, 1, 2]
    assert report.mean_ranks(meta, runs, 100.0) == before


def test_merge_joins_results_files_of_different_benchmarks_and_refuses_overlaps(tmp_path):
    meta, runs = _fake_results()
    parts = []
    for b in ("b1", "b2"):  # one file per benchmark, as two run.py invocations write them
        m = {**meta, "data": {b: meta["data"][b]}, "git_commit": f"c{b}"}
        parts.append(tmp_path / f"{b}.json")
        parts[-1].write_text(json.dumps({"meta": m, "runs": [r for r in runs if r["benchmark"] == b]}))
    out = report.merge(tmp_path / "both.json", [str(p) for p in parts])
    m2, r2 = report.load(out)
    assert set(m2["data"]) == {"b1", "b2"} and len(r2) == len(runs)
    assert report.mean_ranks(m2, r2, 100.0) == report.mean_ranks(meta, runs, 100.0)
    assert any("cb2" in n for n in m2["notes"]), "each source is named with its commit"
    assert "load" not in m2 and m2["wall_s_this_invocation"] == 0.0, "no invocation figures of one source"
    with pytest.raises(SystemExit, match="b1"):
        report.merge(tmp_path / "again.json", [str(parts[0]), str(parts[0])])


def test_harness_fingerprint_ignores_docstrings_annotations_and_type_checking_imports(tmp_path, monkeypatch):
    from benchmarks.multifidelity import run

    monkeypatch.setattr(run, "ROOT", tmp_path)
    f = tmp_path / "m.py"

    def h(src: str) -> str:
        f.write_text(src)
        return run.code_hash([f])

    base = h("from __future__ import annotations\nfrom typing import Callable\n\n"
             "def g(x: 'np.ndarray', n: int = 2) -> float:\n    return x * n  # double\n")
    same = h('"""Doc."""\nfrom __future__ import annotations\nfrom typing import TYPE_CHECKING, Callable\n\n'
             "if TYPE_CHECKING:\n    import numpy as np\n\n"
             'def g(x: np.ndarray, n: int = 2) -> float:\n    """Twice x."""\n    return x * n\n')
    assert same == base
    assert h("from __future__ import annotations\nfrom typing import Callable\n\n"
             "def g(x: 'np.ndarray', n: int = 3) -> float:\n    return x * n\n") != base, "a default changed"
    assert h("from __future__ import annotations\nfrom typing import Callable\n\n"
             "def g(x: 'np.ndarray', n: int = 2) -> float:\n    return x + n\n") != base, "the code changed"


def test_replace_runs_swaps_one_optimizers_runs_and_notes_it(tmp_path):
    from benchmarks.multifidelity.run import replace_runs

    def run(o, b, s, v):
        return {"optimizer": o, "benchmark": b, "seed": s, "improvements": [[1.0, v]]}

    old = {"meta": {"command": "first", "notes": ["earlier note"]},
           "runs": [run(o, b, s, 0.5) for o in ("bohb", "dehb") for b in ("gbm", "mlp") for s in (0, 1)]}
    path = tmp_path / "one_worker.json"
    path.write_text(json.dumps(old))
    new_meta = {"date": "D", "git_commit": "abc", "uncommitted_tunestack_files": [], "command": "again"}
    head, runs = replace_runs(path, new_meta, [run("bohb", b, s, 0.1) for b in ("gbm", "mlp") for s in (0, 1)],
                              ["bohb"])
    assert len(runs) == 8
    assert {r["improvements"][0][1] for r in runs if r["optimizer"] == "bohb"} == {0.1}
    assert {r["improvements"][0][1] for r in runs if r["optimizer"] == "dehb"} == {0.5}
    assert head["command"] == "first" and head["notes"][0] == "earlier note"
    assert "git abc" in head["notes"][1] and "`again`" in head["notes"][1] and "other 4 runs" in head["notes"][1]


def test_add_runs_adds_new_seeds_and_refuses_runs_it_has(tmp_path):
    from benchmarks.multifidelity.run import add_runs, refuse_overlap

    def run(o, s, v):
        return {"optimizer": o, "benchmark": "gbm", "seed": s, "improvements": [[1.0, v]]}

    path = tmp_path / "one_worker.json"
    path.write_text(json.dumps({"meta": {"command": "first", "seeds": 2, "notes": []},
                                "runs": [run(o, s, 0.5) for o in ("bohb", "dehb") for s in (0, 1)]}))
    new_meta = {"date": "D", "git_commit": "abc", "uncommitted_tunestack_files": [], "command": "more",
                "versions": {"dehb": "0.1.2"}, "seed_from": 2, "seeds": 4, "wall_s_this_invocation": 7.0}
    head, runs = add_runs(path, new_meta, [run(o, s, 0.1) for o in ("bohb", "dehb") for s in (2, 3)])
    assert len(runs) == 8 and head["seeds"] == 4 and head["seeds_first"] == 2 and head["command"] == "first"
    assert sorted({(r["seed"], r["improvements"][0][1]) for r in runs}) == [(0, 0.5), (1, 0.5), (2, 0.1), (3, 0.1)]
    assert "seeds 2-3" in head["notes"][0] and "`more`" in head["notes"][0] and "dehb" in head["notes"][0]
    assert head["added"] == [{"command": "more", "git_commit": "abc", "date": "D", "wall_s_this_invocation": 7.0,
                              "versions": {"dehb": "0.1.2"}, "seeds": "2-3"}]
    for refused in (lambda: refuse_overlap(path, {("gbm", "bohb", 1)}),
                    lambda: add_runs(path, new_meta, [run("bohb", 1, 0.1)])):
        with pytest.raises(SystemExit, match="already has runs"):
            refused()
    assert refuse_overlap(path, {("gbm", "bohb", 2)})["meta"]["command"] == "first"
