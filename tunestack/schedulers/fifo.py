"""FIFO: no early stopping; every trial runs to ``max_budget``."""
from __future__ import annotations

from .base import Scheduler

__all__ = ["FIFOScheduler"]


class FIFOScheduler(Scheduler):
    """Every trial runs to ``max_budget``; a free worker always starts a new trial."""

    name = "fifo"
