"""A name -> class registry whose entries are imported on first use (one module per component)."""
from __future__ import annotations

import importlib


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
