"""Translate a ``ConfigSpace.ConfigurationSpace`` faithfully into each peer optimizer's space.

* Optuna (define-by-run): :func:`optuna_suggest` walks the parameters parents-first and suggests a
  conditional parameter only when its condition holds (log floats/ints keep ``log=True``).
* hyperopt: :func:`hyperopt_space` nests each conditional parameter inside the ``hp.choice`` branch of
  the categorical parent value(s) that activate it; a child active under several values (``InCondition``)
  is one node shared by those branches, so it keeps a single label and a single density.  Integers are
  ``quniform`` / ``qloguniform`` over ``[lo - 0.5, hi + 0.5]`` (equal mass per integer, as the
  ConfigSpace and tunestack encodings give) rounded and clipped; :func:`hyperopt_config` flattens a sample.
* SMAC3 takes the ConfigSpace itself; pycma works in the unit cube of :class:`tunestack.space.SearchSpace`.

Supported conditions: ``EqualsCondition`` / ``InCondition`` on a categorical parent (one condition per
child), which is all the benchmark problems use; anything else raises a ``ValueError`` naming it.
"""
from __future__ import annotations

import math
from typing import Any

import ConfigSpace as CS

__all__ = ["ordered", "parent_of", "is_active", "optuna_suggest", "hyperopt_space", "hyperopt_config"]

_VALUE = "__value__"


def parent_of(cs: CS.ConfigurationSpace, name: str) -> tuple[str, list] | None:
    """(parent name, values that activate ``name``), or ``None`` for an unconditional parameter."""
    conds = cs.parent_conditions_of[name]
    if not conds:
        return None
    if len(conds) > 1 or not isinstance(conds[0], (CS.EqualsCondition, CS.InCondition)):
        raise ValueError(f"parameter {name!r}: only one Equals/In condition per parameter is supported, "
                         f"got {conds}")
    c = conds[0]
    if not isinstance(c.parent, CS.CategoricalHyperparameter):
        raise ValueError(f"parameter {name!r}: the parent {c.parent.name!r} of a condition must be categorical")
    values = list(c.values) if isinstance(c, CS.InCondition) else [c.value]
    return c.parent.name, values


def ordered(cs: CS.ConfigurationSpace) -> list[CS.Hyperparameter]:
    """The parameters, every parent before its children."""
    todo, done, out = list(cs.values()), set(), []
    while todo:
        rest = []
        for hp in todo:
            p = parent_of(cs, hp.name)
            if p is None or p[0] in done:
                out.append(hp)
                done.add(hp.name)
            else:
                rest.append(hp)
        if len(rest) == len(todo):
            raise ValueError(f"cyclic conditions among {[h.name for h in rest]}")
        todo = rest
    return out


def is_active(cs: CS.ConfigurationSpace, name: str, partial: dict[str, Any]) -> bool:
    p = parent_of(cs, name)
    return p is None or (p[0] in partial and partial[p[0]] in p[1])


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


# ---- Optuna ---------------------------------------------------------------------------------------------
def optuna_suggest(trial: Any, cs: CS.ConfigurationSpace) -> dict[str, Any]:
    """The active configuration, suggested parameter by parameter through an ``optuna.Trial``."""
    cfg: dict[str, Any] = {}
    for hp in ordered(cs):
        if not is_active(cs, hp.name, cfg):
            continue
        if isinstance(hp, CS.UniformFloatHyperparameter):
            cfg[hp.name] = trial.suggest_float(hp.name, float(hp.lower), float(hp.upper), log=bool(hp.log))
        elif isinstance(hp, CS.UniformIntegerHyperparameter):
            cfg[hp.name] = trial.suggest_int(hp.name, int(hp.lower), int(hp.upper), log=bool(hp.log))
        elif isinstance(hp, CS.CategoricalHyperparameter):
            cfg[hp.name] = trial.suggest_categorical(hp.name, [_plain(c) for c in hp.choices])
        elif isinstance(hp, CS.Constant):
            cfg[hp.name] = _plain(hp.value)
        else:
            raise ValueError(f"parameter {hp.name!r}: type {type(hp).__name__} has no Optuna translation here")
    return cfg


# ---- hyperopt -------------------------------------------------------------------------------------------
def hyperopt_space(cs: CS.ConfigurationSpace) -> dict[str, Any]:
    """A (nested) hyperopt search space equivalent to ``cs``."""
    children: dict[str, list[str]] = {}
    for hp in cs.values():
        p = parent_of(cs, hp.name)
        if p is not None:
            children.setdefault(p[0], []).append(hp.name)
    nodes: dict[str, Any] = {}

    def node(name: str) -> Any:
        if name not in nodes:
            nodes[name] = _hyperopt_node(cs, name, children, node)
        return nodes[name]

    return {hp.name: node(hp.name) for hp in cs.values() if parent_of(cs, hp.name) is None}


def _hyperopt_node(cs: CS.ConfigurationSpace, name: str, children: dict[str, list[str]], node: Any) -> Any:
    from hyperopt import hp as H

    p = cs[name]
    if isinstance(p, CS.CategoricalHyperparameter):
        choices = [_plain(c) for c in p.choices]
        kids = children.get(name, [])
        if not kids:
            return H.choice(name, choices)
        branches = []
        for c in choices:
            branch = {_VALUE: c}
            branch.update({k: node(k) for k in kids if c in parent_of(cs, k)[1]})
            branches.append(branch)
        return H.choice(name, branches)
    if isinstance(p, CS.UniformFloatHyperparameter):
        lo, hi = float(p.lower), float(p.upper)
        return H.loguniform(name, math.log(lo), math.log(hi)) if p.log else H.uniform(name, lo, hi)
    if isinstance(p, CS.UniformIntegerHyperparameter):
        lo, hi = int(p.lower) - 0.5, int(p.upper) + 0.5
        return H.qloguniform(name, math.log(lo), math.log(hi), 1) if p.log else H.quniform(name, lo, hi, 1)
    if isinstance(p, CS.Constant):
        return _plain(p.value)
    raise ValueError(f"parameter {name!r}: type {type(p).__name__} has no hyperopt translation here")


def hyperopt_config(cs: CS.ConfigurationSpace, sample: dict[str, Any]) -> dict[str, Any]:
    """Flatten a hyperopt sample of :func:`hyperopt_space` into a ConfigSpace-style configuration."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and _VALUE in v:
                out[k] = v[_VALUE]
                walk({kk: vv for kk, vv in v.items() if kk != _VALUE})
            else:
                out[k] = v

    walk(sample)
    for k, v in out.items():
        p = cs[k]
        if isinstance(p, CS.UniformIntegerHyperparameter):
            out[k] = int(min(max(round(float(v)), int(p.lower)), int(p.upper)))
        elif isinstance(p, CS.UniformFloatHyperparameter):
            out[k] = float(min(max(float(v), float(p.lower)), float(p.upper)))
    return out
