"""The problems the TPE checks run on: the continuous suite of ``benchmarks/searchers/problems.py``,
the synthetic conditional problem of :mod:`benchmarks.tpe.conditional` and the CASH problems of
``benchmarks/searchers/cash.py`` (optimum unknown: regret is measured against the best value any
optimizer in the table reached)."""
from __future__ import annotations

from benchmarks.searchers.problems import PROBLEMS, Problem
from benchmarks.tpe.conditional import conditional_problem

__all__ = ["check_problems"]


def check_problems(names: list[str] | None = None) -> dict[str, Problem]:
    out = dict(PROBLEMS)
    out["conditional"] = conditional_problem()
    try:
        from benchmarks.searchers.cash import cash_problems
        out.update(cash_problems())
    except ImportError:
        pass
    if names:
        missing = [n for n in names if n not in out]
        if missing:
            raise SystemExit(f"unknown problems {missing}; available: {sorted(out)}")
        out = {n: out[n] for n in names}
    return out
