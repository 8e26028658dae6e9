"""The pieces of a search space: one hyperparameter (``Param``) and its unit-cube encoding.

``Param`` maps a parameter's value to a unit value in ``[0, 1]`` and back (log scale where the parameter
is log; integers in equal-width cells; a categorical's unit value is its choice's index).  The helpers
below turn a ConfigSpace hyperparameter into a ``Param``.  ``SearchSpace`` (``space.py``) is built on them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import ConfigSpace as CS
import numpy as np

__all__ = ["Param", "SpaceError"]


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
