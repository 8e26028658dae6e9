"""Plots saved as job artifacts (matplotlib, no display needed)."""
from __future__ import annotations

import math

from .coordinator import Coordinator

__all__ = ["plot_best_value"]


def plot_best_value(coord: Coordinator, path: str) -> None:
    """Each finished trial's value and the best value so far, in the order trials finished."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sign = 1.0 if coord.mode == "min" else -1.0
    xs, vals, best_x, best_y = [], [], [], []
    best = math.inf
    for i, rid in enumerate(coord.finished_order, start=1):
        t = coord.trials[rid]
        if t.last_value is None or t.outcome.startswith("failed"):
            continue
        xs.append(i)
        vals.append(t.last_value)
        best = min(best, sign * t.last_value)
        best_x.append(i)
        best_y.append(sign * best)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(xs, vals, s=12, alpha=0.5, label=f"trial {coord.metric}")
    ax.step(best_x, best_y, where="post", color="C3", label="best so far")
    ax.set_xlabel("trials finished")
    ax.set_ylabel(coord.metric)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
