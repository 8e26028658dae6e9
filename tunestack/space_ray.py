"""Ray Tune ``param_space`` dicts to ConfigSpace: the conversion behind ``SearchSpace.from_ray``.

Nested dicts become flat names joined with ``/``; plain values become constants; ``sample_from``,
``grid_search`` and unbounded domains are refused with a message naming the parameter.  Ray's
``randint``/``lograndint`` exclude their upper bound, ``qrandint``/``qlograndint`` include it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import ConfigSpace as CS

from .space import SEP, SpaceError

__all__ = ["configspace_from_ray"]


def configspace_from_ray(param_space: Mapping[str, Any]) -> tuple[CS.ConfigurationSpace, dict[str, Any]]:
    """(the ConfigurationSpace of the searched parameters, the constants by flat name)."""
    parts = _RayParts()
    _walk_ray(param_space, "", parts)
    if not parts.params and not parts.constants:
        raise SpaceError("the search space is empty")
    cs = CS.ConfigurationSpace()
    cs.add(parts.params)
    return cs, parts.constants


@dataclass
class _RayParts:
    params: list[CS.Hyperparameter] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)


def _walk_ray(d: Mapping[str, Any], prefix: str, parts: _RayParts) -> None:
    from ray.tune.search import sample as rs  # imported here: pure searchers never need Ray

    for key, v in d.items():
        if not isinstance(key, str) or SEP in key:
            raise SpaceError(f"parameter name {key!r} must be a string without {SEP!r}")
        name = prefix + key
        if isinstance(v, Mapping) and "grid_search" in v:
            raise SpaceError(f"parameter {name!r}: tune.grid_search is not supported by tunestack's "
                             "searchers; use tune.choice for a finite set of values")
        if isinstance(v, Mapping):
            _walk_ray(v, name + SEP, parts)
        elif isinstance(v, rs.Function):
            raise SpaceError(f"parameter {name!r}: tune.sample_from cannot be modelled by a searcher; use "
                             "a ConfigSpace.ConfigurationSpace with conditions for dependent parameters")
        elif isinstance(v, rs.Domain):
            parts.params.append(_ray_domain_to_hp(name, v, rs))
        else:
            parts.constants[name] = v


def _ray_domain_to_hp(name: str, dom: Any, rs: Any) -> CS.Hyperparameter:
    sampler = dom.sampler
    q = None
    if isinstance(sampler, rs.Quantized):
        q = sampler.q
        sampler = sampler.sampler
    sname = type(sampler).__name__
    if isinstance(dom, rs.Categorical):
        cats = list(dom.categories)
        if not cats:
            raise SpaceError(f"parameter {name!r}: tune.choice needs at least one value")
        for i, c in enumerate(cats):
            inner = _domain_inside(c, rs)
            if inner is not None:
                raise SpaceError(
                    f"parameter {name!r}: choice {i} holds a search domain ({inner}); a domain inside "
                    "tune.choice would reach the function unsampled, and a searcher cannot model it: use a "
                    "ConfigSpace.ConfigurationSpace with a condition (e.g. momentum active only when "
                    "optimizer == 'sgd'), or a flat parameter the function ignores where it does not apply")
        if _plain_unique(cats):
            return CS.CategoricalHyperparameter(name, cats)
        return CS.CategoricalHyperparameter(name, [str(i) for i in range(len(cats))], meta={"values": cats})
    if sname == "_Normal" or not (math.isfinite(dom.lower) and math.isfinite(dom.upper)):
        raise SpaceError(f"parameter {name!r}: unbounded domains (tune.randn) are not supported; use "
                         "tune.uniform/loguniform, or a ConfigSpace NormalFloatHyperparameter with bounds")
    log = sname == "_LogUniform"
    meta = {"q": q} if q else None
    if isinstance(dom, rs.Integer):
        lower, upper = int(dom.lower), int(dom.upper)
        if not q:
            upper -= 1  # Ray's randint / lograndint exclude the upper bound; qrandint includes it
        if upper < lower:
            raise SpaceError(f"parameter {name!r}: empty integer range [{dom.lower}, {dom.upper})")
        if log and lower <= 0:
            raise SpaceError(f"parameter {name!r}: a log-scaled integer range must be positive")
        if upper == lower:
            return CS.CategoricalHyperparameter(name, [lower])
        return CS.UniformIntegerHyperparameter(name, lower, upper, log=log, meta=meta)
    if isinstance(dom, rs.Float):
        if not dom.lower < dom.upper:
            raise SpaceError(f"parameter {name!r}: lower bound {dom.lower} must be below upper {dom.upper}")
        if log and dom.lower <= 0:
            raise SpaceError(f"parameter {name!r}: a log-uniform range must be positive")
        return CS.UniformFloatHyperparameter(name, float(dom.lower), float(dom.upper), log=log, meta=meta)
    raise SpaceError(f"parameter {name!r}: unsupported Ray Tune domain {type(dom).__name__}")


def _domain_inside(value: Any, rs: Any, path: str = "") -> str | None:
    """Where a Ray domain (or sample_from) sits inside a choice's value, if anywhere."""
    if isinstance(value, (rs.Domain, rs.Function)):
        return f"{path or 'the choice itself'}: {type(value).__name__}"
    items = value.items() if isinstance(value, Mapping) else (
        enumerate(value) if isinstance(value, (list, tuple)) else ())
    for k, v in items:
        found = _domain_inside(v, rs, f"{path}[{k!r}]")
        if found is not None:
            return found
    return None


def _plain_unique(cats: list) -> bool:
    if not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in cats):
        return False
    return len({(type(c), c) for c in cats}) == len(cats) and len(set(cats)) == len(cats)
