"""Report of the one-worker multi-fidelity benchmark: markdown table, mean ranks, the two targets and a
plot of median regret against the budget consumed.  Reads what :mod:`.run` writes::

    .bench-venv/bin/python benchmarks/multifidelity/report.py benchmarks/multifidelity/results/one_worker.json
    .bench-venv/bin/python benchmarks/multifidelity/report.py --merge OUT.json A.json B.json   # ranks over both

Regret after ``x`` full-evaluation equivalents = best value at ``max_budget`` reached by then minus the
benchmark's optimum (the best final value in its table); before an optimizer's first full-budget
evaluation it has no incumbent and its regret counts as infinite (shown as ``-`` in the table, ranked
last).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.multifidelity.common import best_at  # noqa: E402

__all__ = ["AT", "regret_matrix", "mean_ranks", "targets", "markdown", "write_report"]

AT = (10.0, 30.0, 100.0)
REFERENCE = "random"
BOHB = "bohb"


def load(path: str | Path) -> tuple[dict, list[dict]]:
    data = json.loads(Path(path).read_text())
    return data["meta"], data["runs"]


def grid(limit: float, n: int = 200) -> np.ndarray:
    return np.unique(np.concatenate([np.geomspace(1.0, limit, n), [a for a in AT if a <= limit]]))


def regret_matrix(meta: dict, runs: list[dict], benchmark: str, optimizer: str, xs: np.ndarray
                  ) -> tuple[list[int], np.ndarray]:
    """(seeds, seeds x len(xs) regrets) of one optimizer on one benchmark."""
    opt = meta["data"][benchmark]["optimum"]
    rs = sorted((r for r in runs if r["benchmark"] == benchmark and r["optimizer"] == optimizer),
                key=lambda r: r["seed"])
    mat = np.array([[best_at(r["improvements"], x) - opt for x in xs] for r in rs]).reshape(len(rs), len(xs))
    return [r["seed"] for r in rs], mat


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def _cell(col: np.ndarray) -> str:
    q25, med, q75 = np.percentile(col, [25, 50, 75], method="linear") if np.all(np.isfinite(col)) else \
        np.percentile(np.where(np.isfinite(col), col, np.inf), [25, 50, 75], method="lower")
    none = int(np.sum(~np.isfinite(col)))
    tail = f" ({none} none yet)" if none else ""
    return f"{_fmt(med)} [{_fmt(q25)}, {_fmt(q75)}]{tail}"


def common_seeds(meta: dict, runs: list[dict], benchmark: str) -> list[int]:
    """The seeds that every optimizer with a run on ``benchmark`` ran (the slow peers may have fewer)."""
    sets = [{r["seed"] for r in runs if r["benchmark"] == benchmark and r["optimizer"] == o}
            for o in meta["optimizers"]]
    sets = [x for x in sets if x]
    return sorted(set.intersection(*sets)) if sets else []


def mean_ranks(meta: dict, runs: list[dict], at: float) -> dict[str, dict[str, float]]:
    """benchmark -> optimizer -> mean over seeds of its rank by regret at ``at`` (1 = best, ties share
    the average rank), over the seeds every optimizer ran (:func:`common_seeds`: a seed that an optimizer
    lacks would rank the others among fewer competitors); plus ``"overall"``: the mean of the
    per-benchmark mean ranks."""
    from scipy.stats import rankdata

    out: dict[str, dict[str, float]] = {}
    for b in meta["data"]:
        per: dict[str, dict[int, float]] = {}
        for o in meta["optimizers"]:
            seeds, mat = regret_matrix(meta, runs, b, o, np.array([at]))
            if seeds:
                per[o] = dict(zip(seeds, mat[:, 0]))
        ranks: dict[str, list[float]] = {}
        for s in common_seeds(meta, runs, b):
            present = list(per)
            for o, rk in zip(present, rankdata([per[o][s] for o in present])):
                ranks.setdefault(o, []).append(float(rk))
        out[b] = {o: float(np.mean(r)) for o, r in ranks.items()}
    opts = [o for o in meta["optimizers"] if all(o in out[b] for b in meta["data"])]
    out["overall"] = {o: float(np.mean([out[b][o] for b in meta["data"]])) for o in opts}
    return out


def first_reach(xs: np.ndarray, curve: np.ndarray, target: float) -> float:
    hit = np.nonzero(curve <= target + 1e-12)[0]
    return float(xs[hit[0]]) if len(hit) else math.inf


def _best(ranks: dict[str, float]) -> str | None:
    """The optimizer with the smallest mean rank; a tie names all of them ("bohb = smac_mf"), so that a
    shared first place never reads as a lead (nor meets a "best mean rank" target)."""
    if not ranks:
        return None
    low = min(ranks.values())
    return " = ".join(o for o, r in ranks.items() if r <= low + 1e-9)


def targets(meta: dict, runs: list[dict]) -> dict[str, dict]:
    """Per benchmark: random search's median regret at the full budget, the budget at which BOHB's
    median regret curve first reaches it (target: <= 1/10 of the budget), and the best mean rank."""
    limit = float(meta["budget"])
    xs = grid(limit, 400)
    out: dict[str, dict] = {}
    ranks = mean_ranks(meta, runs, limit)
    for b in meta["data"]:
        d: dict = {}
        if REFERENCE in meta["optimizers"] and BOHB in meta["optimizers"]:
            _, rand = regret_matrix(meta, runs, b, REFERENCE, np.array([limit]))
            ref = float(np.median(rand[:, 0]))
            _, bohb = regret_matrix(meta, runs, b, BOHB, xs)
            x = first_reach(xs, np.median(bohb, axis=0), ref)
            d.update(random_final_median=ref, bohb_budget_to_reach=x, fraction=x / limit,
                     met=bool(x <= limit / 10 + 1e-9))
        d["best_mean_rank"] = _best(ranks[b])
        out[b] = d
    ov = ranks["overall"]
    out["overall"] = {"best_mean_rank": _best(ov), "bohb_best": _best(ov) == BOHB}
    return out


def markdown(meta: dict, runs: list[dict]) -> str:
    limit = float(meta["budget"])
    at = [a for a in AT if a <= limit] or [limit]
    lines = ["# Multi-fidelity benchmark: one worker, budget in full-evaluation equivalents\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}, "
             f"{meta.get('seeds_first', meta['seeds'])} seeds, {limit:g} full-evaluation equivalents per run, "
             f"wall time of this invocation {meta['wall_s_this_invocation']:.0f} s).\n",
             *[f"Seeds {a['seeds']} added: `{a['command']}` (git {a['git_commit']}, {a['date']}, wall time "
               f"{a['wall_s_this_invocation']:.0f} s); {meta['seeds']} seeds in all.\n" for a in meta.get("added", [])],
             "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".\n",
             "Data (surrogate mode): " + "; ".join(
                 f"`{b}` {d['configs']} configs, budgets {d['budgets'][0]}..{d['budgets'][1]}, optimum "
                 f"{d['optimum']:.5g}, table sha256 {d['sha256_16']}" for b, d in meta["data"].items()) + ".\n"]
    if meta.get("load"):
        ld = meta["load"]
        lines.append(f"Machine: {ld['cpus']} CPUs shared with other engineers' jobs; 1-minute load average "
                     f"over this invocation's {ld['samples']} samples (start, and after each run not from the "
                     f"cache) min {ld.get('load1_min', math.nan):.1f}, median {ld.get('load1_median', math.nan):.1f}, "
                     f"max {ld.get('load1_max', math.nan):.1f}. Load changes the wall times, not the results "
                     "(the x-axis is budget, every run is seeded).\n")
    if "runs_from_cache" in meta:
        cs = meta.get("compute_s", {})
        lines.append(f"{meta['runs_from_cache']} of the {len(runs)} runs came from the cache (`_work/cache/`, "
                     "reused only where the fingerprint of the code and data they depend on matches); the "
                     f"runs' own wall time adds up to {cs.get('wall', math.nan):.0f} s "
                     f"({cs.get('cpu', math.nan):.0f} CPU s).\n")
    restamped = sum("fingerprint_before" in r for r in runs)
    if restamped:
        lines.append(f"{restamped} of these runs were made while the harness fingerprint was a byte hash of the "
                     "harness files; when it became a syntax-tree hash (`run.code_hash`), the only change to "
                     "those files was a lint fix (`if TYPE_CHECKING:` imports for two annotations), which "
                     "leaves the syntax-tree hash unchanged, so their fingerprints were re-stamped rather than "
                     "the runs redone (the old one is kept as `fingerprint_before` in the JSON).\n")
    per_seed = {o: sorted({r["seed"] for r in runs if r["optimizer"] == o}) for o in meta["optimizers"]}
    lines.append("Seeds per optimizer (every benchmark): " + ", ".join(
        f"{o} {len(s)}" for o, s in per_seed.items()) + ".\n")
    if meta.get("uncommitted_tunestack_files"):
        lines.append("The simulated tunestack runs used the working tree, where these tunestack files differed "
                     "from the commit above (other engineers' work in progress): "
                     + ", ".join(f"`{f}`" for f in meta["uncommitted_tunestack_files"]) + ".\n")
    if meta.get("uncommitted_harness_files"):
        lines.append("The harness files used were those of the working tree, where these differed from the "
                     "commit above: " + ", ".join(f"`{f}`" for f in meta["uncommitted_harness_files"]) + ".\n")
    for note in meta.get("notes", []):
        lines.append(f"Note: {note}\n")
    if meta.get("surrogate_code"):
        lines.append(f"`benchmarks/mf/surrogate.py`: {meta['surrogate_code']}.\n")
    if meta.get("stale"):
        lines.append(f"Runs made with code or data that changed later in the run: {meta['stale']}.\n")
    if meta.get("skipped"):
        lines.append("Not run: " + "; ".join(f"{o} ({w})" for o, w in meta["skipped"].items()) + ".\n")
    if meta.get("failed"):
        lines.append(f"FAILED runs (left out): {meta['failed']}.\n")
    lines.append("Regret = best validation error at max_budget so far - the table's optimum; median "
                 "[25th, 75th percentile] over seeds after 10 / 30 / 100 full-evaluation equivalents "
                 "(budget trained / max_budget, resumed training counted once).  `-`: no full-budget "
                 "evaluation yet.\n")
    ranks = {a: mean_ranks(meta, runs, a) for a in at}
    for b in meta["data"]:
        lines += [f"\n## {b}\n", "| optimizer | " + " | ".join(f"regret @ {a:g}" for a in at) +
                  f" | mean rank @ {at[-1]:g} | evals | seeds |", "|---" * (len(at) + 4) + "|"]
        for o in sorted(meta["optimizers"], key=lambda o: ranks[at[-1]][b].get(o, math.inf)):
            seeds, mat = regret_matrix(meta, runs, b, o, np.array(at))
            if not seeds:
                continue
            ev = int(np.median([r["n_evals"] for r in runs if r["benchmark"] == b and r["optimizer"] == o]))
            lines.append(f"| {o} | " + " | ".join(_cell(mat[:, j]) for j in range(len(at))) +
                         f" | {ranks[at[-1]][b][o]:.2f} | {ev} | {len(seeds)} |")
    common = {b: common_seeds(meta, runs, b) for b in meta["data"]}
    lines += ["\n## Mean rank (1 = best; by regret at each budget; overall = mean over the benchmarks)\n",
              "Ranks are over the seeds every optimizer ran: " + ", ".join(
                  f"{b} {len(s)} seeds" for b, s in common.items()) + ".\n",
              "| optimizer | " + " | ".join(f"{b} @ {a:g}" for a in at for b in meta["data"]) +
              " | " + " | ".join(f"overall @ {a:g}" for a in at) + " |",
              "|---" * (1 + len(at) * (len(meta["data"]) + 1)) + "|"]
    for o in sorted(ranks[at[-1]]["overall"], key=ranks[at[-1]]["overall"].get):
        cells = [f"{ranks[a][b].get(o, math.nan):.2f}" for a in at for b in meta["data"]]
        cells += [f"{ranks[a]['overall'].get(o, math.nan):.2f}" for a in at]
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += ["\n## Targets\n"]
    t = targets(meta, runs)
    for b in meta["data"]:
        d = t[b]
        if "random_final_median" in d:
            x = d["bohb_budget_to_reach"]
            lines.append(f"- {b}: random search's median regret after {limit:g} full evaluations is "
                         f"{_fmt(d['random_final_median'])}; tunestack's BOHB's median regret reaches it after "
                         f"{_fmt(x)} full-evaluation equivalents ({_fmt(100 * d['fraction'])} % of the "
                         f"budget; target <= 10 %): **{'met' if d['met'] else 'missed'}**. Best mean rank at "
                         f"{limit:g}: {d['best_mean_rank']}.")
    ov = t["overall"]
    lines.append(f"- Best overall mean rank at {limit:g}: {ov['best_mean_rank']} (target: tunestack's bohb): "
                 f"**{'met' if ov['bohb_best'] else 'missed'}**.")
    return "\n".join(lines) + "\n"


def plot(meta: dict, runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limit = float(meta["budget"])
    xs = grid(limit)
    names = list(meta["data"])
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.8), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, b in zip(axes[0], names):
        for i, o in enumerate(meta["optimizers"]):
            seeds, mat = regret_matrix(meta, runs, b, o, xs)
            if not seeds:
                continue
            med = np.median(mat, axis=0)
            style = "-" if o in ("bohb", "hyperband", "asha", "sh", "rf_hyperband") else "--"
            ax.plot(xs, np.where(np.isfinite(med), np.maximum(med, 1e-4), np.nan), style, color=cmap(i % 10), label=o, lw=1.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("budget consumed (full-evaluation equivalents)")
        ax.set_ylabel("median regret (validation error - optimum)")
        ax.set_title(f"{b} (surrogate), {meta['seeds']} seeds, 1 worker")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(path: str | Path) -> None:
    path = Path(path)
    meta, runs = load(path)
    path.with_suffix(".md").write_text(markdown(meta, runs))
    plot(meta, runs, path.with_suffix(".png"))
    print(f"wrote {path.with_suffix('.md')} and {path.with_suffix('.png')}")


def merge(out: str | Path, paths: list[str]) -> Path:
    """One results file from several runs of :mod:`.run` on different benchmarks (their runs as they
    are; the meta of the first, its ``data`` joined with the others' and a note naming every source), so
    that the ranks can be read over all of them."""
    metas, runs = [], []
    for p in paths:
        m, r = load(p)
        overlap = set(m["data"]) & {b for mm in metas for b in mm["data"]}
        if overlap:
            raise SystemExit(f"merge: benchmark(s) {sorted(overlap)} appear in more than one file")
        metas.append(m)
        runs += r
    import datetime

    # what the sources' runs share; what describes one invocation (its load, cache, wall time, notes) stays
    # in each source's own report
    meta = {k: v for k, v in metas[0].items()
            if k not in ("load", "runs_from_cache", "compute_s", "notes", "stale", "uncommitted_tunestack_files",
                         "uncommitted_harness_files")}
    meta["data"] = {b: d for m in metas for b, d in m["data"].items()}
    meta["optimizers"] = [o for o in metas[0]["optimizers"] if all(o in m["optimizers"] for m in metas)]
    meta["command"] = "report.py --merge " + " ".join([str(out), *map(str, paths)])
    meta["git_commit"] = "of each source, below"
    meta["date"] = datetime.datetime.now().isoformat(timespec="seconds")
    meta["wall_s_this_invocation"] = 0.0  # a merge runs nothing
    meta["notes"] = [f"Merged from {p} (git {m.get('git_commit')}, {m.get('date')}; {', '.join(m['data'])}); "
                     "its machine load, cache use and notes are in its own report" for p, m in zip(paths, metas)]
    out = Path(out)
    out.write_text(json.dumps({"meta": meta, "runs": [r for r in runs if r["optimizer"] in meta["optimizers"]]}))
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--merge":  # report.py --merge OUT.json A.json B.json ...
        write_report(merge(sys.argv[2], sys.argv[3:]))
    else:
        write_report(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "one_worker.json")
