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
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import ConfigSpace as CS
import numpy as np
from ConfigSpace.types import NotSet

__all__ = ["Param", "SearchSpace", "SpaceError"]

SEP = "/"  # joins the keys of nested Ray param_space dicts into one flat name
_MAX_REJECTIONS = 1000


class SpaceError(ValueError):
    """A search space or a configuration is not valid; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter, in the form the encoders need."""

    name: str
    kind: str  # "float" | "int" | "cat" | "ordinal"
    lower: float = 0.0
    upper: float = 1.0
    log: bool = False
    q: float | None = None
    choices: tuple = ()
    default: Any = None
    prior: tuple | None = None  # ("normal", mu, sigma) in the encoded [0, 1] scale, or None (uniform)

    @property
    def is_categorical(self) -> bool:
        return self.kind == "cat"

    @property
    def n_choices(self) -> int:
        return len(self.choices) if self.kind in ("cat", "ordinal") else 0

    # ---- unit value <-> parameter value (numeric kinds) -------------------------------------------
    def _scaled_bounds(self) -> tuple[float, float]:
        lo, hi = self.lower, self.upper
        if self.kind == "int":
            lo, hi = lo - 0.5, hi + 0.5  # equal cells around each integer (log ints have lower >= 1)
        if self.log:
            return math.log(lo), math.log(hi)
        return lo, hi

    def to_unit(self, value: Any) -> float:
        if self.kind == "cat":
            return float(_index_of(self.choices, value))
        if self.kind == "ordinal":
            n = len(self.choices)
            return (_index_of(self.choices, value) + 0.5) / n
        lo, hi = self._scaled_bounds()
        v = math.log(value) if self.log else float(value)
        if hi == lo:
            return 0.5
        return min(1.0, max(0.0, (v - lo) / (hi - lo)))

    def from_unit(self, u: float) -> Any:
        if self.kind == "cat":
            return self.choices[int(min(max(round(u), 0), len(self.choices) - 1))]
        if self.kind == "ordinal":
            n = len(self.choices)
            return self.choices[int(min(max(math.floor(u * n), 0), n - 1))]
        u = min(1.0, max(0.0, float(u)))
        lo, hi = self._scaled_bounds()
        v = lo + u * (hi - lo)
        if self.log:
            v = math.exp(v)
        if self.kind == "int":
            v = int(round(v))
            if self.q:
                v = int(round(v / self.q) * self.q)
                while v > self.upper:
                    v -= int(self.q)
                while v < self.lower:
                    v += int(self.q)
            return int(min(max(v, int(self.lower)), int(self.upper)))
        if self.q:
            v = round(v / self.q) * self.q
            v = float(np.round(v, 12))
        return float(min(max(v, self.lower), self.upper))

    def snap(self, u: float) -> float:
        """The unit value of the parameter value that ``u`` decodes to (rounding, quantization)."""
        return self.to_unit(self.from_unit(u))

    def is_legal(self, value: Any) -> bool:
        if self.kind in ("cat", "ordinal"):
            return _index_of(self.choices, value, missing=-1) >= 0
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        if not math.isfinite(float(value)):
            return False
        if self.kind == "int" and float(value) != int(value):
            return False
        return self.lower - 1e-12 * max(1.0, abs(self.lower)) <= float(value) <= self.upper + 1e-12 * max(
            1.0, abs(self.upper)
        )

    def describe(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind in ("cat", "ordinal"):
            d["choices"] = [_jsonable(c) for c in self.choices]
        else:
            d.update(lower=self.lower, upper=self.upper, log=self.log)
            if self.q:
                d["q"] = self.q
        d["default"] = _jsonable(self.default)
        if self.prior:
            d["prior"] = list(self.prior)
        return d


def _index_of(choices: Sequence, value: Any, missing: int | None = None) -> int:
    for i, c in enumerate(choices):
        if c is value or (type(c) is type(value) and c == value):
            return i
    for i, c in enumerate(choices):  # numpy scalars, 1 vs 1.0
        try:
            if not isinstance(c, bool) and not isinstance(value, bool) and c == value:
                return i
        except Exception:  # noqa: BLE001 - arbitrary user objects may fail to compare
            continue
    if missing is not None:
        return missing
    raise SpaceError(f"{value!r} is not one of the choices {list(choices)!r}")


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return repr(v)


def _plain(v: Any) -> Any:
    """Numpy scalars to plain Python values."""
    if isinstance(v, np.generic):
        return v.item()
    return v


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


# ---- helpers: ConfigSpace -> Param --------------------------------------------------------------
def _check_supported(hp: CS.Hyperparameter) -> None:
    if isinstance(hp, (CS.BetaFloatHyperparameter, CS.BetaIntegerHyperparameter)):
        raise SpaceError(f"parameter {hp.name!r}: Beta priors are not supported; use a uniform or normal "
                         "hyperparameter")
    if isinstance(hp, CS.Constant):
        return
    if not isinstance(hp, (CS.UniformFloatHyperparameter, CS.UniformIntegerHyperparameter,
                           CS.NormalFloatHyperparameter, CS.NormalIntegerHyperparameter,
                           CS.CategoricalHyperparameter, CS.OrdinalHyperparameter)):
        raise SpaceError(f"parameter {hp.name!r}: unsupported hyperparameter type {type(hp).__name__}")


def _param_from_hp(hp: CS.Hyperparameter) -> Param:
    meta = dict(hp.meta or {})
    if isinstance(hp, CS.Constant):
        return Param(hp.name, "cat", choices=(hp.value,), default=hp.value)
    if isinstance(hp, CS.CategoricalHyperparameter):
        choices = tuple(meta["values"]) if "values" in meta else tuple(hp.choices)
        default = choices[list(hp.choices).index(hp.default_value)]
        return Param(hp.name, "cat", choices=choices, default=default)
    if isinstance(hp, CS.OrdinalHyperparameter):
        return Param(hp.name, "ordinal", choices=tuple(hp.sequence), default=hp.default_value)
    is_int = isinstance(hp, (CS.UniformIntegerHyperparameter, CS.NormalIntegerHyperparameter))
    p = Param(hp.name, "int" if is_int else "float", lower=float(hp.lower), upper=float(hp.upper),
              log=bool(hp.log), q=meta.get("q"), default=_plain(hp.default_value))
    if isinstance(hp, (CS.NormalFloatHyperparameter, CS.NormalIntegerHyperparameter)):
        # express mu and sigma in the unit scale of the encoding
        lo, hi = p._scaled_bounds()
        mu = (math.log(hp.mu) if hp.log else hp.mu)
        p = Param(**{**p.__dict__, "prior": ("normal", (mu - lo) / (hi - lo), hp.sigma / (hi - lo))})
    return p


def _cs_value_map(hp: CS.Hyperparameter):
    meta = dict(hp.meta or {})
    if isinstance(hp, CS.CategoricalHyperparameter) and "values" in meta:
        values, keys = list(meta["values"]), list(hp.choices)
        return lambda v: keys[_index_of(values, v)]
    return None


def _truncated_normal_unit(rng: np.random.Generator, mu: float, sigma: float) -> float:
    for _ in range(100):
        x = rng.normal(mu, sigma)
        if 0.0 <= x <= 1.0:
            return float(x)
    return float(min(1.0, max(0.0, mu)))


def _cell_width(p: Param) -> float:
    if p.kind == "int":
        lo, hi = p._scaled_bounds()
        step = p.q or 1.0
        if p.log:
            mid = p.from_unit(0.5)
            return abs(math.log(mid + step) - math.log(mid)) / (hi - lo)
        return step / (hi - lo)
    if p.kind == "ordinal":
        return 1.0 / max(1, len(p.choices))
    if p.q:
        lo, hi = p._scaled_bounds()
        return (p.q / (math.exp(hi) - math.exp(lo)) if p.log else p.q / (hi - lo))
    return 0.0
