"""Report of the searcher quality benchmark: markdown table, mean ranks and a regret plot.

Reads the JSON that :mod:`.run` writes and writes ``<stem>.md`` and ``<stem>.png`` next to it::

    .bench-venv/bin/python benchmarks/searchers/report.py benchmarks/searchers/results/quality.json

Regret is ``best-so-far value - optimum``; for problems without a known optimum (CASH) the reference is
the best value any optimizer reached on that problem in the same file (the table says which).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["load", "trajectory", "references", "write_report"]

LONG_BUDGETS = (200, 500)


def budgets(meta: dict) -> list[int]:
    """Half and all of ``--evals`` (50, 100 by default), then 200 / 500 / ``--long-evals`` for CMA runs."""
    e, le = int(meta["evals"]), int(meta["long_evals"])
    extra = [b for b in LONG_BUDGETS if e < b <= le] + ([le] if le > e else [])
    return sorted({e // 2, e, *extra})


def load(path: str | Path) -> tuple[dict, list[dict]]:
    data = json.loads(Path(path).read_text())
    return data["meta"], data["runs"]


def trajectory(run: dict) -> np.ndarray:
    """Best-so-far value after each of the run's ``n`` evaluations."""
    out = np.empty(run["n"])
    imps = run["improvements"]
    for j, (i, v) in enumerate(imps):
        end = imps[j + 1][0] if j + 1 < len(imps) else run["n"]
        out[int(i):int(end)] = v
    return out


def references(meta: dict, runs: list[dict]) -> dict[str, tuple[float, str]]:
    """problem -> (reference value, "optimum" | "best seen")."""
    refs = {}
    for name, info in meta["problems"].items():
        if info["optimum"] is not None:
            refs[name] = (float(info["optimum"]), "optimum")
        else:
            finals = [r["improvements"][-1][1] for r in runs if r["problem"] == name]
            refs[name] = (min(finals) if finals else float("nan"), "best seen")
    return refs


def regret_curves(meta: dict, runs: list[dict]) -> dict[str, dict[str, dict[int, np.ndarray]]]:
    """problem -> optimizer -> seed -> regret after each evaluation."""
    refs = references(meta, runs)
    out: dict[str, dict[str, dict[int, np.ndarray]]] = {}
    for r in runs:
        out.setdefault(r["problem"], {}).setdefault(r["optimizer"], {})[r["seed"]] = (
            trajectory(r) - refs[r["problem"]][0])
    return out


def _matrix(by_seed: dict[int, np.ndarray]) -> np.ndarray:
    """seeds x evaluations (seeds sorted; cut to the shortest run)."""
    n = min(len(t) for t in by_seed.values())
    return np.array([by_seed[s][:n] for s in sorted(by_seed)])


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def _cell(by_seed: dict[int, np.ndarray], budget: int, n_seeds: int) -> str:
    curves = _matrix(by_seed)
    if curves.shape[1] < budget:
        return ""
    q25, med, q75 = np.percentile(curves[:, budget - 1], [25, 50, 75])
    few = f" ({len(by_seed)} seeds)" if len(by_seed) != n_seeds else ""
    return f"{_fmt(med)} [{_fmt(q25)}, {_fmt(q75)}]{few}"


def mean_ranks(curves: dict[str, dict[str, dict[int, np.ndarray]]], at: int) -> dict[str, dict[str, float]]:
    """problem -> optimizer -> mean rank by regret after ``at`` evaluations (1 = best; ties share the
    average rank).  Each seed ranks the optimizers that ran it; an optimizer's ranks are averaged over
    the seeds it ran (an optimizer run on fewer seeds is ranked on those)."""
    from scipy.stats import rankdata

    out: dict[str, dict[str, float]] = {}
    for p, by_opt in curves.items():
        per_opt: dict[str, list[float]] = {}
        seeds = sorted({s for by_seed in by_opt.values() for s in by_seed})
        for s in seeds:
            present = [o for o, by_seed in by_opt.items() if s in by_seed and len(by_seed[s]) >= at]
            ranks = rankdata([by_opt[o][s][at - 1] for o in present])
            for o, rk in zip(present, ranks):
                per_opt.setdefault(o, []).append(float(rk))
        if per_opt:
            out[p] = {o: float(np.mean(r)) for o, r in per_opt.items()}
    return out


def markdown(meta: dict, runs: list[dict]) -> str:
    curves = regret_curves(meta, runs)
    refs = references(meta, runs)
    opts = [o for o in meta["optimizers"] if any(o in c for c in curves.values())]
    lines = ["# Searcher quality benchmark\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}, "
             f"{meta['seeds']} seeds" + (f" ({meta['seeds_for']})" if meta.get("seeds_for") else "") + f", wall time of this invocation {meta['wall_s_this_invocation']:.0f} s).\n",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".\n"]
    if meta.get("skipped"):
        lines.append("Not run: " + "; ".join(f"{o} ({w})" for o, w in meta["skipped"].items()) + ".\n")
    if meta.get("failed"):
        lines.append(f"FAILED runs (left out): {meta['failed']}.\n")
    lines.append("Final regret (best-so-far minus reference): median [25th, 75th percentile] over seeds. "
                 "Reference 'best seen' = the best value any optimizer reached on that problem in this run "
                 "(the optimum is unknown).\n")
    for p, by_opt in curves.items():
        ref, kind = refs[p]
        bs = [b for b in budgets(meta) if any(_matrix(c).shape[1] >= b for c in by_opt.values())]
        lines.append(f"\n## {p} (reference: {kind} = {ref:.10g})\n")
        lines.append("| optimizer | " + " | ".join(f"regret @{b}" for b in bs) + " |")
        lines.append("|---|" + "---|" * len(bs))
        for o in opts:
            if o in by_opt:
                lines.append(f"| {o} | " + " | ".join(_cell(by_opt[o], b, meta["seeds"]) for b in bs) + " |")
    at = int(meta["evals"])
    lines.append(_rank_table(mean_ranks(curves, at), at, opts,
                             {p: i["continuous"] for p, i in meta["problems"].items()}))
    return "\n".join(lines) + "\n"


def _rank_table(ranks: dict[str, dict[str, float]], at: int, opts: list[str], continuous: dict[str, bool]) -> str:
    probs = list(ranks)
    lines = [f"\n## Mean rank by regret after {at} evaluations (1 = best)\n",
             "Per problem and seed the optimizers run on it are ranked (ties share the average rank), then "
             "averaged over the seeds each optimizer ran (fewer for those marked in the tables above).  'all' averages a row over the problems it ran on; cmaes and cma run on "
             "the continuous problems only (9 competitors there, 7 on the others), so compare them in the "
             "'continuous' column.\n",
             "| optimizer | " + " | ".join(probs) + " | continuous | all |",
             "|---|" + "---|" * (len(probs) + 2)]
    for o in opts:
        row = [ranks[p].get(o) for p in probs]
        cont = [ranks[p][o] for p in probs if continuous.get(p) and o in ranks[p]]
        every = [x for x in row if x is not None]
        cells = ["–" if x is None else f"{x:.2f}" for x in row]
        cells += [f"{np.mean(cont):.2f}" if cont else "–", f"{np.mean(every):.2f}" if every else "–"]
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(meta: dict, runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = regret_curves(meta, runs)
    refs = references(meta, runs)
    probs = list(curves)
    ncols = 4
    nrows = -(-len(probs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    colors = dict(zip(meta["optimizers"], plt.get_cmap("tab10").colors))
    for ax, p in zip(axes.flat, probs):
        for o, by_seed in curves[p].items():
            med = np.median(_matrix(by_seed), axis=0)
            x = np.arange(1, len(med) + 1)
            style = "-" if o in ("rfbo", "tpe", "cmaes", "random") else "--"
            ax.plot(x, np.maximum(med, 1e-10), style, color=colors.get(o), label=o, lw=1.4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{p} (ref: {refs[p][1]})", fontsize=9)
        ax.set_xlabel("evaluations", fontsize=8)
        ax.set_ylabel("median regret (floor 1e-10)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    for ax in list(axes.flat)[len(probs):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 9), fontsize=8)
    fig.suptitle(f"Median regret over {meta['seeds']} seeds (solid: tunestack, dashed: peers)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(json_path: str | Path) -> str:
    json_path = Path(json_path)
    meta, runs = load(json_path)
    md = markdown(meta, runs)
    json_path.with_suffix(".md").write_text(md)
    plot(meta, runs, json_path.with_suffix(".png"))
    print(md)
    print(f"wrote {json_path.with_suffix('.md')} and {json_path.with_suffix('.png')}")
    return md


if __name__ == "__main__":
    write_report(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "quality.json")
