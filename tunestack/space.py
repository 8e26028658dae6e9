"""SearchSpace: the one search-space type of tunestack.

Built from a Ray Tune ``param_space`` dict or from a ``ConfigSpace.ConfigurationSpace``; both become one
internal form backed by ConfigSpace.  Models work on a vector encoding:

* numeric dimensions (float, int, ordinal) lie in ``[0, 1]`` (log scale where the parameter is log);
  integers occupy equal-width cells so that rounding a unit value gives each integer the same mass;
* a categorical dimension holds the index of its choice (``0 .. n-1``);
* an inactive conditional dimension holds ``nan`` and is ``False`` in the active mask.

``decode`` turns a vector back into the user's configuration (nested dicts and constants restored),
``encode`` the reverse.  Sampling draws from the searcher's own ``numpy.random.Generator``.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Mapping, Sequence

import ConfigSpace as CS
import numpy as np
from ConfigSpace.types import NotSet

from .space_param import (Param, SpaceError, _cell_width, _check_supported, _cs_value_map, _jsonable,
                          _param_from_hp, _plain, _truncated_normal_unit)

__all__ = ["Param", "SearchSpace", "SpaceError"]

SEP = "/"  # joins the keys of nested Ray param_space dicts into one flat name
_MAX_REJECTIONS = 1000


class SearchSpace:
    """A search space over flat parameter names, with conditions and forbidden clauses.

    Create it with :meth:`create` from a Ray ``param_space`` dict, a ``ConfigurationSpace`` or another
    ``SearchSpace``.
    """

    def __init__(self, cs: CS.ConfigurationSpace, constants: Mapping[str, Any] | None = None,
                 nested: bool = False):
        self.configspace = cs
        self.constants: dict[str, Any] = dict(constants or {})
        self.nested = nested
        self.params: list[Param] = [_param_from_hp(hp) for hp in cs.values()]
        self.names: list[str] = [p.name for p in self.params]
        self._index = {n: i for i, n in enumerate(self.names)}
        self._conditions = [list(cs.parent_conditions_of.get(n, [])) for n in self.names]
        self._forbidden = list(cs.forbidden_clauses)
        self.cat_sizes = np.array([p.n_choices if p.kind == "cat" else 0 for p in self.params], dtype=int)
        self.is_categorical = self.cat_sizes > 0
        self.is_conditional = any(self._conditions)
        self.has_forbidden = bool(self._forbidden)
        self._cs_values = [_cs_value_map(hp) for hp in cs.values()]

    # ---- construction ------------------------------------------------------------------------------
    @classmethod
    def create(cls, space: Any) -> "SearchSpace":
        if isinstance(space, SearchSpace):
            return space
        if isinstance(space, CS.ConfigurationSpace):
            return cls.from_configspace(space)
        if isinstance(space, Mapping):
            return cls.from_ray(space)
        raise SpaceError(
            f"cannot build a search space from {type(space).__name__}: pass a Ray Tune param_space dict "
            "(tune.uniform, tune.choice, ...) or a ConfigSpace.ConfigurationSpace"
        )

    @classmethod
    def from_configspace(cls, cs: CS.ConfigurationSpace) -> "SearchSpace":
        for hp in cs.values():
            _check_supported(hp)
        return cls(cs)

    @classmethod
    def from_ray(cls, param_space: Mapping[str, Any]) -> "SearchSpace":
        from .space_ray import configspace_from_ray

        cs, constants = configspace_from_ray(param_space)
        return cls(cs, constants, nested=True)

    # ---- sizes and descriptions --------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.params)

    def __len__(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return f"SearchSpace({', '.join(p.name + ':' + p.kind for p in self.params)})"

    def describe(self) -> dict:
        """A JSON-serializable description (for artifacts and logs)."""
        return {
            "params": [p.describe() for p in self.params],
            "constants": {k: _jsonable(v) for k, v in self.constants.items()},
            "conditions": [str(c) for c in self.configspace.conditions],
            "forbidden": [str(f) for f in self._forbidden],
        }

    def comparable(self) -> dict:
        """:meth:`describe` as it reads back from JSON, without the memory addresses in objects' reprs (a
        function as a constant), which differ by process: what a saved run's space is compared with."""
        return json.loads(re.sub(r" at 0x[0-9a-fA-F]+", "", json.dumps(self.describe(), default=str)))

    # ---- activity and forbidden clauses ---------------------------------------------------------
    def _cs_value(self, i: int, value: Any) -> Any:
        """The value as ConfigSpace knows it (Ray categoricals may be stored by index)."""
        m = self._cs_values[i]
        return m(value) if m else value

    def _active(self, i: int, values: dict[str, Any]) -> bool:
        return all(c.satisfied_by_value(values) for c in self._conditions[i])

    def is_forbidden(self, config: Mapping[str, Any]) -> bool:
        """Whether a flat configuration (active parameters only) hits a forbidden clause."""
        if not self._forbidden:
            return False
        vals = self._cs_dict(config)
        return any(f.is_forbidden_value(vals) for f in self._forbidden)

    def _cs_dict(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        return {n: (self._cs_value(i, flat[n]) if n in flat else NotSet) for i, n in enumerate(self.names)}

    # ---- encode / decode -----------------------------------------------------------------------
    def flatten(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A user configuration (nested or flat) as a flat dict over parameter and constant names."""
        flat: dict[str, Any] = {}

        def walk(d: Mapping[str, Any], prefix: str) -> None:
            for k, v in d.items():
                name = f"{prefix}{k}"
                if isinstance(v, Mapping) and name not in self._index and name not in self.constants:
                    walk(v, name + SEP)
                else:
                    flat[name] = v

        walk(config, "")
        return flat

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        if not self.nested:
            return dict(flat)
        out: dict[str, Any] = {}
        for name, v in flat.items():
            keys = name.split(SEP)
            d = out
            for k in keys[:-1]:
                d = d.setdefault(k, {})
            d[keys[-1]] = v
        return out

    def encode(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(vector, active mask) of a configuration; inactive dimensions are ``nan``."""
        flat = self.validate(config, flat=True)
        vec = np.full(self.dim, np.nan)
        for i, p in enumerate(self.params):
            if p.name in flat:
                vec[i] = p.to_unit(flat[p.name])
        return vec, ~np.isnan(vec)

    def encode_many(self, configs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        return np.array([self.encode(c)[0] for c in configs]).reshape(-1, self.dim)

    def decode_flat(self, vector: Sequence[float]) -> dict[str, Any]:
        """Flat active values of a vector (inactive dimensions are dropped whatever they hold)."""
        vec = np.asarray(vector, dtype=float)
        if vec.shape != (self.dim,):
            raise SpaceError(f"vector of shape {vec.shape} does not match a space of dimension {self.dim}")
        cs_vals: dict[str, Any] = {n: NotSet for n in self.names}
        flat: dict[str, Any] = {}
        for i, p in enumerate(self.params):
            if not self._active(i, cs_vals):
                continue
            u = vec[i]
            if not math.isfinite(u):
                u = p.to_unit(p.default)
            value = _plain(p.from_unit(u))
            flat[p.name] = value
            cs_vals[p.name] = self._cs_value(i, value)
        return flat

    def decode(self, vector: Sequence[float]) -> dict[str, Any]:
        """The user configuration (nested dicts and constants restored) of a vector."""
        flat = self.decode_flat(vector)
        flat.update(self.constants)
        return self.unflatten(flat)

    def normalize(self, vector: Sequence[float]) -> np.ndarray:
        """Round a vector to the values it decodes to; inactive dimensions become ``nan``."""
        flat = self.decode_flat(vector)
        out = np.full(self.dim, np.nan)
        for i, p in enumerate(self.params):
            if p.name in flat:
                out[i] = p.to_unit(flat[p.name])
        return out

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of the plain unit cube (all dims in [0, 1)) to normalized vectors.

        A categorical dimension takes choice ``floor(u * n)``.  Use it to turn Sobol or uniform draws
        into valid vectors.
        """
        u = np.atleast_2d(np.asarray(u, dtype=float)).copy()
        for i in np.flatnonzero(self.is_categorical):
            n = self.cat_sizes[i]
            u[:, i] = np.minimum(np.floor(u[:, i] * n), n - 1)
        return np.array([self.normalize(row) for row in u]).reshape(-1, self.dim)

    # ---- sampling and neighbours -----------------------------------------------------------------
    def sample_vectors(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` normalized vectors drawn from the prior (uniform unless a parameter sets one)."""
        out = np.empty((n, self.dim))
        for k in range(n):
            for _ in range(_MAX_REJECTIONS):
                u = rng.random(self.dim)
                for i, p in enumerate(self.params):
                    if p.prior is not None:
                        _, mu, sigma = p.prior
                        u[i] = _truncated_normal_unit(rng, mu, sigma)
                vec = self.from_unit(u)[0]
                if not self.is_forbidden(self.decode_flat(vec)):
                    out[k] = vec
                    break
            else:
                raise SpaceError(f"no allowed configuration found in {_MAX_REJECTIONS} draws: the forbidden "
                                 "clauses exclude (almost) the whole space")
        return out

    def sample(self, rng: np.random.Generator, n: int | None = None) -> dict | list[dict]:
        """One configuration (``n=None``) or a list of ``n`` configurations."""
        vecs = self.sample_vectors(rng, 1 if n is None else n)
        configs = [self.decode(v) for v in vecs]
        return configs[0] if n is None else configs

    def default_vector(self) -> np.ndarray:
        vec = np.array([p.to_unit(p.default) for p in self.params], dtype=float)
        return self.normalize(vec)

    def default(self) -> dict[str, Any]:
        return self.decode(self.default_vector())

    def neighbours(self, vector: Sequence[float], rng: np.random.Generator, n: int = 8,
                   scale: float = 0.2) -> np.ndarray:
        """``n`` normalized one-exchange neighbours of a vector, as in SMAC's local search.

        Each neighbour changes one active parameter: a numeric one by a Gaussian step of ``scale`` in
        the unit scale (integers move by at least one step), a categorical one to another choice.
        Parameters that become active take their default value.
        """
        base = self.normalize(vector)
        active = np.flatnonzero(~np.isnan(base))
        out = []
        tries = 0
        while len(out) < n and tries < 20 * n + 20:
            tries += 1
            if active.size == 0:
                break
            i = int(rng.choice(active))
            p = self.params[i]
            cand = base.copy()
            if p.kind == "cat":
                if p.n_choices < 2:
                    continue
                others = [c for c in range(p.n_choices) if c != int(base[i])]
                cand[i] = float(rng.choice(others))
                for j in np.flatnonzero(np.isnan(cand)):
                    cand[j] = self.params[j].to_unit(self.params[j].default)
            else:
                step = rng.normal(0.0, scale)
                cand[i] = min(1.0, max(0.0, base[i] + step))
                if self.params[i].snap(cand[i]) == self.params[i].snap(base[i]):
                    width = _cell_width(p)
                    if width:
                        cand[i] = min(1.0, max(0.0, base[i] + math.copysign(width, step)))
            cand = self.normalize(cand)
            if np.array_equal(np.nan_to_num(cand, nan=-1), np.nan_to_num(base, nan=-1)):
                continue
            if self.is_forbidden(self.decode_flat(cand)):
                continue
            out.append(cand)
        return np.array(out).reshape(-1, self.dim)

    # ---- validation ---------------------------------------------------------------------------------
    def validate(self, config: Mapping[str, Any], flat: bool = False) -> dict[str, Any]:
        """Check a configuration; return it (flat active parameters if ``flat``, else the user's form).

        Raises :class:`SpaceError` naming the first parameter that is missing, unknown, out of range,
        set although inactive, or part of a forbidden combination.
        """
        if not isinstance(config, Mapping):
            raise SpaceError(f"a configuration must be a dict, got {type(config).__name__}")
        given = self.flatten(config)
        values: dict[str, Any] = {}
        cs_vals: dict[str, Any] = {n: NotSet for n in self.names}
        for i, p in enumerate(self.params):
            active = self._active(i, cs_vals)
            if p.name not in given:
                if active:
                    raise SpaceError(f"parameter {p.name!r} is missing from the configuration")
                continue
            v = _plain(given[p.name])
            if not active:
                raise SpaceError(f"parameter {p.name!r} is set to {v!r} but is inactive under the conditions "
                                 f"{[str(c) for c in self._conditions[i]]}")
            if not p.is_legal(v):
                raise SpaceError(f"parameter {p.name!r} = {v!r} is outside its domain {p.describe()}")
            if p.kind == "int":
                v = int(v)
            elif p.kind == "float":
                v = float(v)
            values[p.name] = v
            cs_vals[p.name] = self._cs_value(i, v)
        unknown = [k for k in given if k not in self._index and k not in self.constants]
        if unknown:
            raise SpaceError(f"unknown parameter(s) {unknown} (the space has {self.names})")
        if self.is_forbidden(values):
            raise SpaceError(f"configuration {values} is forbidden by {[str(f) for f in self._forbidden]}")
        if flat:
            return values
        full = dict(values)
        full.update(self.constants)
        return self.unflatten(full)
