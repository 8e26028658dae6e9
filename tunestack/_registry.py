"""A name -> class registry whose entries are imported on first use (one module per component)."""
from __future__ import annotations

import importlib
import inspect
import numbers
from typing import Any, Mapping

import numpy as np


def is_whole(v: Any) -> bool:
    """An int (numpy's too), or a float with no fraction (a JSON-loaded 20.0); not a bool."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real) and float(v).is_integer()


def resolve_seed(seed: Any, error: type[Exception]) -> int:
    """A component's seed: a whole number >= 0 as given, or a fresh one for ``None``."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if not is_whole(seed) or seed < 0:
        raise error(f"seed must be a whole number >= 0 or None, got {seed!r}")
    return int(seed)


class Registry:
    """Maps names to classes or ``"module:Class"`` paths; ``kind`` names the component in errors."""

    def __init__(self, kind: str, entries: dict[str, str | type], error: type[Exception]):
        self.kind, self._entries, self._error = kind, dict(entries), error

    def register(self, name: str, cls: str | type) -> None:
        self._entries[name] = cls

    def names(self) -> list[str]:
        return list(self._entries)

    def resolve(self, name: str) -> type:
        if name not in self._entries:
            raise self._error(f"unknown {self.kind} {name!r}; available: {sorted(self._entries)}")
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            try:
                target = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as e:
                raise self._error(f"{self.kind} {name!r} is registered but cannot be loaded: {e}") from e
        return target

    def check_options(self, name: str, cls: type, kwargs: Mapping[str, Any]) -> None:
        """An option ``cls`` (``name``'s class) does not take is the registry's error, naming the options
        it does take (not a bare ``TypeError`` from deep inside a tuning job)."""
        try:
            params = inspect.signature(cls).parameters
        except (TypeError, ValueError):  # no introspectable signature: let the call speak
            return
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(k for k in kwargs if k not in params)
        if unknown:
            options = sorted(k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
            raise self._error(f"{self.kind} {name!r} has no option {', '.join(map(repr, unknown))}; "
                              f"its options: {options}")

    def available(self) -> list[str]:
        """Names whose modules import."""
        out = []
        for n in self._entries:
            try:
                self.resolve(n)
            except self._error:
                continue
            out.append(n)
        return out
