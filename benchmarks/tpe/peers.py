"""Peer TPE runs (Optuna univariate / multivariate / multivariate+group, hyperopt) on the TPE check
problems.  Runs in its own venv (never tunestack's):

    python3 -m venv .bench-venv-tpe
    .bench-venv-tpe/bin/pip install optuna hyperopt numpy scipy ConfigSpace==1.2.2 scikit-learn==1.9.1
    PYTHONPATH=. nice -n 10 .bench-venv-tpe/bin/python -m benchmarks.tpe.peers --seeds 10 --evals 100

Writes best-so-far trajectories to ``benchmarks/tpe/results/peers.json`` (resumable: finished
(optimizer, problem, seed) runs are kept).  Spaces are translated from ConfigSpace faithfully: log,
integer, categorical; Optuna follows conditions define-by-run, hyperopt nests ``hp.choice``.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Callable

import ConfigSpace as CS
import numpy as np

from benchmarks.tpe.problems import check_problems

RESULTS = Path(__file__).parent / "results" / "peers.json"
OPTIMIZERS = ("optuna_uni", "optuna_multi", "optuna_group", "hyperopt")


def _conds(cs: CS.ConfigurationSpace, name: str) -> list:
    return list(cs.parent_conditions_of.get(name, []))


def _active(cs: CS.ConfigurationSpace, name: str, cfg: dict) -> bool:
    return all(c.parent.name in cfg and c.satisfied_by_value(cfg) for c in _conds(cs, name))


# ---- Optuna ---------------------------------------------------------------------------------------
def run_optuna(cs: CS.ConfigurationSpace, fn: Callable[[dict], float], n: int, seed: int, mode: str) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # explicit: since Optuna 5 the default (multivariate=None) means multivariate for one objective
    kw: dict[str, Any] = {"seed": seed, "multivariate": mode != "uni"}
    if mode == "group":
        kw["group"] = True
    sampler = optuna.samplers.TPESampler(**kw)
    study = optuna.create_study(sampler=sampler)

    def objective(trial: Any) -> float:
        cfg: dict = {}
        for hp in cs.values():
            if not _active(cs, hp.name, cfg):
                continue
            if isinstance(hp, CS.CategoricalHyperparameter):
                cfg[hp.name] = trial.suggest_categorical(hp.name, list(hp.choices))
            elif isinstance(hp, CS.UniformIntegerHyperparameter):
                cfg[hp.name] = trial.suggest_int(hp.name, int(hp.lower), int(hp.upper), log=hp.log)
            else:
                cfg[hp.name] = trial.suggest_float(hp.name, float(hp.lower), float(hp.upper), log=hp.log)
        return fn(cfg)

    study.optimize(objective, n_trials=n)
    return [t.value for t in study.trials]


# ---- hyperopt -------------------------------------------------------------------------------------
def _hp_leaf(hp: CS.Hyperparameter, label: str) -> Any:
    from hyperopt import hp as H

    if isinstance(hp, CS.CategoricalHyperparameter):
        return H.choice(label, list(hp.choices))
    lo, hi = float(hp.lower), float(hp.upper)
    if isinstance(hp, CS.UniformIntegerHyperparameter):
        if hp.log:
            return H.qloguniform(label, math.log(lo - 0.5 if lo > 1 else lo), math.log(hi + 0.5), 1)
        return H.quniform(label, lo - 0.5, hi + 0.5, 1)
    return H.loguniform(label, math.log(lo), math.log(hi)) if hp.log else H.uniform(label, lo, hi)


def _hp_node(cs: CS.ConfigurationSpace, hp: CS.Hyperparameter, path: str) -> Any:
    """The hyperopt expression of ``hp`` and (nested under each of its choices) its children."""
    from hyperopt import hp as H

    children = [c for c in cs.values() if any(cond.parent.name == hp.name for cond in _conds(cs, c.name))]
    label = f"{path}{hp.name}"
    if not children or not isinstance(hp, CS.CategoricalHyperparameter):
        return {hp.name: _hp_leaf(hp, label)}
    branches = []
    for v in hp.choices:
        branch: dict[str, Any] = {hp.name: v}
        for ch in children:
            if all(cond.satisfied_by_value({hp.name: v}) for cond in _conds(cs, ch.name)):
                branch.update(_hp_node(cs, ch, f"{label}={v}/"))
        branches.append(branch)
    return {f"__{hp.name}": H.choice(label, branches)}


def _flatten(d: dict, out: dict) -> dict:
    for k, v in d.items():
        if isinstance(v, dict):
            _flatten(v, out)
        else:
            out[k] = v
    return out


def run_hyperopt(cs: CS.ConfigurationSpace, fn: Callable[[dict], float], n: int, seed: int) -> list[float]:
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    roots = [hp for hp in cs.values() if not _conds(cs, hp.name)]
    space: dict[str, Any] = {}
    for hp in roots:
        space.update(_hp_node(cs, hp, ""))
    ints = {hp.name for hp in cs.values() if isinstance(hp, CS.UniformIntegerHyperparameter)}
    values: list[float] = []

    def objective(sample: dict) -> dict:
        cfg = _flatten(sample, {})
        cfg = {k: (int(round(v)) if k in ints else v) for k, v in cfg.items()}
        for hp in cs.values():
            if hp.name in ints and hp.name in cfg:
                cfg[hp.name] = int(min(max(cfg[hp.name], hp.lower), hp.upper))
        v = fn(cfg)
        values.append(v)
        return {"loss": v, "status": STATUS_OK}

    fmin(objective, space, algo=tpe.suggest, max_evals=n, trials=Trials(), rstate=np.random.default_rng(seed),
         show_progressbar=False)
    return values


def best_so_far(values: list[float]) -> list[float]:
    return np.minimum.accumulate(np.array([v if math.isfinite(v) else np.inf for v in values])).tolist()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--problems", nargs="*")
    ap.add_argument("--optimizers", nargs="*", default=list(OPTIMIZERS))
    args = ap.parse_args()
    problems = check_problems(args.problems)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for opt in args.optimizers:
        for name, prob in problems.items():
            if opt == "optuna_group" and not any(prob.space.parent_conditions_of.get(h) for h in prob.space):
                continue  # group=True only differs from multivariate on conditional spaces
            for seed in range(args.seeds):
                slot = results.setdefault(opt, {}).setdefault(name, {})
                if len(slot.get(str(seed), [])) >= args.evals:
                    continue
                if opt == "hyperopt":
                    vals = run_hyperopt(prob.space, prob.fn, args.evals, seed)
                else:
                    vals = run_optuna(prob.space, prob.fn, args.evals, seed, opt.split("_")[1])
                slot[str(seed)] = best_so_far(vals)
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                RESULTS.write_text(json.dumps(results))
                print(opt, name, seed, slot[str(seed)][-1], flush=True)


if __name__ == "__main__":
    main()
