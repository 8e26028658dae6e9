"""Every optimizer of the one-worker multi-fidelity benchmark behind one signature:
``run_optimizer(name, evaluator, seed, limit) -> Ledger-like record`` of the best full-budget value
against the budget consumed (full-evaluation equivalents, see :mod:`.common`).

* tunestack (``bohb``, ``hyperband``, ``asha``, ``sh``, ``rf_hyperband``, and ``random`` = FIFO with
  random search): :func:`tunestack.platform.simulator.simulate` with one worker, eta = 3, the
  benchmark's ``min_budget``/``max_budget``, and cost = whole budget trained, so that simulated time /
  ``max_budget`` is the budget consumed; the run ends at ``limit`` full evaluations.
* ``dehb`` (``dehb`` package, ask/tell) and ``hpbandster_bohb`` (HpBandSter's ``BOHB``): in
  ``.bench-venv-mf`` (numpy 1.x), through :mod:`.peer_worker`, which asks this process for every
  evaluation over a pipe; eta = 3, same budgets.
* ``smac_mf``: SMAC3's ``MultiFidelityFacade`` (its default Hyperband intensifier, eta = 3,
  ``incumbent_selection="highest_budget"``), ask/tell; its random forest with the same two speed
  settings as the searcher benchmark (``n_jobs=1``, ``max_leaf_nodes=None``: the same model).
* ``optuna_hb``: Optuna ``TPESampler(seed=)`` (its defaults) + ``HyperbandPruner(min_resource,
  max_resource, reduction_factor=3)``; a trial reports its value at every whole budget and stops when
  pruned, so it is charged the budget it trained.
"""
from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .common import Evaluator, Ledger, improvements, space_spec

if TYPE_CHECKING:  # annotations only: the peers live in .bench-venv, not in the project's venv
    import ConfigSpace as CS
    import optuna

__all__ = ["TUNESTACK", "PEERS", "OPTIMIZERS", "SUBPROCESS_PEERS", "run_optimizer", "peer_python", "ETA"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ETA = 3.0
TUNESTACK = ("bohb", "hyperband", "asha", "sh", "rf_hyperband", "random")
PEERS = ("dehb", "smac_mf", "optuna_hb", "hpbandster_bohb")
OPTIMIZERS = TUNESTACK + PEERS
SUBPROCESS_PEERS = ("dehb", "hpbandster_bohb")
PEER_VENV = ROOT / ".bench-venv-mf"

Runner = Callable[[Evaluator, int, float], dict]


def peer_python() -> Path:
    return Path(os.environ.get("TUNESTACK_MF_PEER_PYTHON", PEER_VENV / "bin" / "python"))


# ---- tunestack through the simulator --------------------------------------------------------------------
def _tunestack(scheduler: str | None) -> Runner:
    def run(ev: Evaluator, seed: int, limit: float) -> dict:
        from tunestack.platform.simulator import simulate

        searcher = "random" if scheduler is None else None
        res = simulate(ev.budget_objective, ev.bench.search_space, searcher=searcher, scheduler=scheduler,
                       min_budget=ev.min_budget, max_budget=ev.max_budget, eta=ETA, workers=1,
                       max_time=limit * ev.max_budget, seed=seed)
        full = [(h["time"] / ev.max_budget, h["value"]) for h in res.history
                if h["budget"] >= ev.max_budget * (1 - 1e-9)]
        return {"improvements": improvements(full), "n_evals": len(res.history),
                "budget_used": res.time / ev.max_budget, "ended": res.ended}

    return run


# ---- SMAC3 ----------------------------------------------------------------------------------------------
def _smac_mf(ev: Evaluator, seed: int, limit: float) -> dict:
    from smac import MultiFidelityFacade, Scenario
    from smac.intensifier.hyperband import Hyperband
    from smac.runhistory.dataclasses import TrialValue

    ledger = Ledger(ev, limit)
    with tempfile.TemporaryDirectory(prefix="smac-mf-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = Scenario(copy.deepcopy(ev.bench.space), deterministic=True, n_trials=10 ** 6, seed=seed,
                            min_budget=ev.min_budget, max_budget=ev.max_budget, output_directory=Path(tmp))
        model = MultiFidelityFacade.get_model(scenario)
        model._rf_opts["n_jobs"] = 1
        model._rf_opts["max_leaf_nodes"] = None
        intensifier = Hyperband(scenario, eta=int(ETA), incumbent_selection="highest_budget")
        smac = MultiFidelityFacade(scenario, _never_called, model=model, intensifier=intensifier,
                                   overwrite=True, logging_level=40)
        while not ledger.exhausted:
            info = smac.ask()
            v = ledger.evaluate(dict(info.config), info.budget)
            smac.tell(info, TrialValue(cost=v if math.isfinite(v) else 1.0))
    return _ledger_record(ledger)


def _never_called(config: object, seed: int = 0, budget: float = 0.0) -> float:
    raise RuntimeError("the benchmark drives SMAC by ask/tell; the target function is never called")


# ---- Optuna ---------------------------------------------------------------------------------------------
def _optuna_hb(ev: Evaluator, seed: int, limit: float) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ledger = Ledger(ev, limit)
    lo, hi = int(ev.min_budget), int(ev.max_budget)

    def objective(trial: "optuna.Trial") -> float:
        config = optuna_config(trial, ev.bench.space)
        v = math.nan
        for b in range(lo, hi + 1):
            v = ledger.evaluate(config, b, key=trial.number)
            trial.report(v if math.isfinite(v) else 1.0, b)
            if ledger.exhausted:
                break
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v if math.isfinite(v) else 1.0

    def stop_when_spent(study: "optuna.Study", trial: object) -> None:
        if ledger.exhausted:
            study.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a named study: HyperbandPruner puts a trial in a bracket by a CRC of the study's name and the
        # trial's number, and the default name is a fresh UUID, so unnamed runs were not reproducible
        study = optuna.create_study(direction="minimize", study_name=f"optuna_hb-seed{seed}",
                                    sampler=optuna.samplers.TPESampler(seed=seed),
                                    pruner=optuna.pruners.HyperbandPruner(min_resource=lo, max_resource=hi,
                                                                          reduction_factor=int(ETA)))
        study.optimize(objective, n_trials=10 ** 6, callbacks=[stop_when_spent])
    return _ledger_record(ledger)


def optuna_config(trial: "optuna.Trial", cs: "CS.ConfigurationSpace") -> dict:
    """The active configuration, suggested parents first (the searcher benchmark's translation, plus
    ordinal parameters as categoricals over their sequence)."""
    import ConfigSpace as CS

    from benchmarks.searchers.spaces import is_active, ordered

    cfg: dict = {}
    for hp in ordered(cs):
        if not is_active(cs, hp.name, cfg):
            continue
        if isinstance(hp, CS.OrdinalHyperparameter):
            cfg[hp.name] = trial.suggest_categorical(hp.name, [_item(v) for v in hp.sequence])
        elif isinstance(hp, CS.UniformFloatHyperparameter):
            cfg[hp.name] = trial.suggest_float(hp.name, float(hp.lower), float(hp.upper), log=bool(hp.log))
        elif isinstance(hp, CS.UniformIntegerHyperparameter):
            cfg[hp.name] = trial.suggest_int(hp.name, int(hp.lower), int(hp.upper), log=bool(hp.log))
        elif isinstance(hp, CS.CategoricalHyperparameter):
            cfg[hp.name] = trial.suggest_categorical(hp.name, [_item(c) for c in hp.choices])
        else:
            raise ValueError(f"parameter {hp.name!r}: no Optuna translation for {type(hp).__name__}")
    return cfg


def _item(v: object) -> object:
    return v.item() if hasattr(v, "item") else v


# ---- DEHB and HpBandSter in their own venv --------------------------------------------------------------
def _subprocess_peer(name: str) -> Runner:
    def run(ev: Evaluator, seed: int, limit: float) -> dict:
        py = peer_python()
        if not py.exists():
            raise RuntimeError(f"{name} needs {py} (bash benchmarks/multifidelity/setup_peers.sh)")
        settings = {"optimizer": name, "seed": int(seed), "space": space_spec(ev.bench.space),
                    "min_budget": float(ev.min_budget), "max_budget": float(ev.max_budget), "eta": ETA}
        ledger = Ledger(ev, limit)
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([str(py), str(HERE / "peer_worker.py"), json.dumps(settings)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                    bufsize=1, cwd=tempfile.gettempdir(),
                                    env={**os.environ, "PYTHONHASHSEED": "0"})
            info = _serve(proc, ledger)
            rc = proc.wait(timeout=120)
            if info is None or rc != 0:
                err.seek(0)
                raise RuntimeError(f"{name} worker exited with {rc}: {err.read()[-3000:]}")
        rec = _ledger_record(ledger)
        rec["worker"] = info
        return rec

    return run


def _serve(proc: subprocess.Popen, ledger: Ledger) -> dict | None:
    """Answer the worker's evaluation requests until it says done (or dies)."""
    assert proc.stdin is not None and proc.stdout is not None
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("done"):
            proc.stdin.close()
            return msg
        v = ledger.evaluate(msg["config"], msg["budget"])
        proc.stdin.write(json.dumps({"value": v if math.isfinite(v) else None,
                                     "stop": ledger.exhausted}) + "\n")
        proc.stdin.flush()
    return None


def _ledger_record(ledger: Ledger) -> dict:
    return {"improvements": ledger.improvements(), "n_evals": ledger.n_evals, "budget_used": ledger.used}


_RUNNERS: dict[str, Runner] = {
    "bohb": _tunestack("bohb"), "hyperband": _tunestack("hyperband"), "asha": _tunestack("asha"),
    "sh": _tunestack("sh"), "rf_hyperband": _tunestack("rf_hyperband"), "random": _tunestack(None),
    "dehb": _subprocess_peer("dehb"), "hpbandster_bohb": _subprocess_peer("hpbandster_bohb"),
    "probe": _subprocess_peer("probe"),  # the pipe protocol alone, for the harness's tests
    "smac_mf": _smac_mf, "optuna_hb": _optuna_hb,
}


def run_optimizer(name: str, ev: Evaluator, seed: int, limit: float) -> dict:
    if name not in _RUNNERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {list(_RUNNERS)}")
    return _RUNNERS[name](ev, seed, limit)


if __name__ == "__main__":  # pragma: no cover - a quick manual check
    sys.exit("use benchmarks/multifidelity/run.py")
