"""An incremental, array-backed view of a searcher's trial history.

``Searcher.data`` and ``Searcher.model_budget`` walk every trial record in Python on each call; a
model-based searcher that refits after every tell on thousands of observations pays for that on every
ask.  :class:`TrialTable` keeps the same information up to date as trials are asked and told, and
answers the same questions with the same results (same rows, same order, same failure imputation),
so a searcher can switch to it without changing a single ask.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .base import TrialRecord, budget_order

__all__ = ["TrialTable"]


class TrialTable:
    """Vectors of all trials (rows in creation order), values by budget, finite counts and pending rows."""

    def __init__(self, dim: int):
        self.dim = dim
        self._vectors = np.empty((16, dim))
        self._rows: dict[str, int] = {}
        self._values: dict[float | None, dict[int, float | None]] = {}
        self._finite: dict[float | None, int] = {}
        self._pending: set[int] = set()

    @classmethod
    def from_records(cls, dim: int, records: Iterable[TrialRecord]) -> "TrialTable":
        table = cls(dim)
        for rec in records:
            table.update(rec)
        return table

    def __len__(self) -> int:
        return len(self._rows)

    def update(self, rec: TrialRecord) -> None:
        """Record a new trial or the current results of a known one."""
        row = self._rows.get(rec.id)
        if row is None:
            row = len(self._rows)
            if row == len(self._vectors):
                self._vectors = np.concatenate([self._vectors, np.empty_like(self._vectors)])
            self._vectors[row] = rec.vector
            self._rows[rec.id] = row
        for b, v in rec.results.items():
            slot = self._values.setdefault(b, {})
            before = slot.get(row, None) is not None
            slot[row] = v
            self._finite[b] = self._finite.get(b, 0) + (v is not None) - before
        if rec.pending:
            self._pending.add(row)
        else:
            self._pending.discard(row)

    def model_budget(self, min_points: int) -> float | None | bool:
        """As :meth:`Searcher.model_budget`: the largest budget (final counts as the largest) with at
        least ``min_points`` finite values, else ``False``."""
        for b in sorted(self._finite, key=budget_order, reverse=True):
            if self._finite[b] >= min_points:
                return b
        return False

    def data(self, budget: float | None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`Searcher.data` with ``impute_failures=True`` at one budget: finite rows in
        creation order, then failed rows with the worst finite value."""
        slot = self._values.get(budget, {})
        rows = sorted(slot)
        ok = [r for r in rows if slot[r] is not None]
        failed = [r for r in rows if slot[r] is None] if ok else []
        y = np.array([slot[r] for r in ok], dtype=float)
        if failed:
            y = np.concatenate([y, np.full(len(failed), y.max())])
        idx = np.array(ok + failed, dtype=int)
        return self._vectors[idx].reshape(-1, self.dim), y

    def pending(self) -> np.ndarray:
        """Vectors of the asked trials without any result, in creation order."""
        return self._vectors[sorted(self._pending)].reshape(-1, self.dim)
