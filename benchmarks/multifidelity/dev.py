"""Development runs of the one-worker multi-fidelity benchmark, on the dev benchmarks only.

The settings of tunestack's BOHB are chosen here, on ``benchmarks/mf/dev`` (``synth0`` .. ``synth5``:
synthetic learning curves with crossing curves, overfitting and noise, three rung ladders; ``sgd_dev``:
a table of SGD-on-kernel-features curves), never on the reported ``mlp_digits`` / ``gbm``.  Same
protocol as ``run.py`` (one simulated worker, eta = 3, cost = whole budget trained, regret of the best
full-budget value at 10 / 30 / 100 full-evaluation equivalents), tunestack variants only::

    nice -n 10 .venv/bin/python benchmarks/multifidelity/dev.py --variants bohb,rf_hyperband --seeds 10

``--workers K`` simulates K workers instead of one, with the checkpoints in worker time (K x simulated
time, in full-evaluation equivalents), for the asynchronous presets.

A variant is a name of :data:`VARIANTS` (a scheduler name + a searcher factory); runs are cached in
``_work/dev_cache/`` by (variant, benchmark, seed, tunestack code hash, the variant's spec).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.multifidelity.common import Evaluator, best_at, improvements  # noqa: E402

CACHE = HERE / "_work" / "dev_cache"
ETA = 3.0
CHECKPOINTS = (10.0, 30.0, 100.0)

# name -> (scheduler, searcher, searcher kwargs); searcher "preset:<name>" takes the preset's pair
VARIANTS: dict[str, tuple[str, str, dict]] = {
    "random": ("fifo", "random", {}),
    "hyperband": ("hyperband", "random", {}),
    "bohb": ("preset", "bohb", {}),  # the preset as it is now
    "rf_hyperband": ("hyperband", "rfbo", {}),  # the rf_hyperband preset
    "tpe_hb": ("hyperband", "tpe", {"multivariate": True}),  # the BOHB preset before this work
}


def add_variant(name: str, scheduler: str, searcher: str, kwargs: dict) -> None:
    VARIANTS[name] = (scheduler, searcher, kwargs)


def _make(name: str, space: Any, ev: Evaluator, seed: int) -> tuple[Any, Any]:
    from tunestack.schedulers import create as create_scheduler
    from tunestack.schedulers import presets
    from tunestack.searchers import create as create_searcher
    from tunestack.searchers import register

    register("mf_tpe", "benchmarks.multifidelity.mf_tpe:MultiFidelityTPE")
    sched, searcher, kw = VARIANTS[name]
    if sched == "preset":
        return presets.create_pair(searcher, space, ev.min_budget, ev.max_budget, ETA, seed=seed,
                                   searcher_kwargs=kw)
    s = create_searcher(searcher, space, mode="min", seed=seed, **kw)
    c = create_scheduler(sched, min_budget=ev.min_budget, max_budget=ev.max_budget, eta=ETA, mode="min",
                         seed=seed + 1)
    return s, c


def run_one(variant: str, bench: str, seed: int, limit: float = 100.0, workers: int = 1) -> dict:
    from tunestack.platform.simulator import simulate

    spec = json.dumps(VARIANTS[variant], sort_keys=True, default=str)
    key = f"{variant}__{bench}__s{seed}__b{limit:g}" + (f"__w{workers}" if workers > 1 else "")
    fp = f"{_code_hash(spec)}|{spec}|{_dev_hash()}"
    path = CACHE / f"{key}.json"
    if path.exists():
        rec = json.loads(path.read_text())
        if rec.get("fingerprint") == fp:
            return rec
    ev = _evaluator(bench)
    t0 = time.process_time()
    searcher, scheduler = _make(variant, ev.bench.search_space, ev, seed)
    res = simulate(ev.budget_objective, ev.bench.search_space, searcher=searcher, scheduler=scheduler,
                   min_budget=ev.min_budget, max_budget=ev.max_budget, eta=ETA, workers=workers,
                   max_time=limit * ev.max_budget / workers, seed=seed)
    # x = worker time spent (k workers x simulated time) in full-evaluation equivalents
    full = [(h["time"] * workers / ev.max_budget, h["value"]) for h in res.history
            if h["budget"] >= ev.max_budget * (1 - 1e-9)]
    rec = {"variant": variant, "bench": bench, "seed": seed, "improvements": improvements(full),
           "n_evals": len(res.history), "cpu_s": round(time.process_time() - t0, 2), "fingerprint": fp,
           "optimum": ev.optimum}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return rec


_EVS: dict[str, Evaluator] = {}


def _evaluator(bench: str) -> Evaluator:
    from benchmarks.mf.dev.benchmarks import load

    if bench not in _EVS:
        _EVS[bench] = Evaluator(bench, bench=load(bench))
    return _EVS[bench]


def _code_hash(spec: str) -> str:
    """What a simulated tunestack run depends on (``run.tunestack_hash``); the experiments here
    (``mf_tpe.py``, ``tpe_losers.py``, ``tpe_anneal.py``, ``tpe_joint.py``, ``tpe_eiw.py``) and ``schedulers/presets.py`` only for the variants that use
    them (so that developing them does not rerun the references)."""
    from benchmarks.multifidelity.run import hash_paths

    ts = ROOT / "tunestack"
    files = [*ts.glob("schedulers/*.py"), *ts.glob("searchers/*.py"), ts / "platform" / "simulator.py",
             *ts.glob("space*.py"), ts / "_registry.py"]
    files += [HERE / f"{name}.py" for name in ("mf_tpe", "tpe_losers", "tpe_anneal", "tpe_joint", "tpe_eiw")
              if name in spec]  # experiments
    skip = {"presets.py": '"preset"' not in spec}
    return hash_paths([f for f in files if not skip.get(f.name, False)])


def _dev_hash() -> str:
    from benchmarks.multifidelity.run import hash_paths

    d = ROOT / "benchmarks" / "mf" / "dev"
    return hash_paths([*d.glob("*.py"), *d.glob("../data/dev/*.json.gz")])


# ---- summary -----------------------------------------------------------------------------------------
def summarize(recs: list[dict], variants: list[str], benches: list[str], seeds: int) -> str:
    by = {(r["variant"], r["bench"], r["seed"]): r for r in recs}
    lines = []
    ranks: dict[tuple[str, float], list[float]] = {}
    for b in benches:
        opt = next(r["optimum"] for r in recs if r["bench"] == b)
        lines.append(f"\n{b} (optimum {opt:.4g})")
        lines.append(f"{'variant':>24} " + " ".join(f"{'reg@' + format(x, 'g'):>10}" for x in CHECKPOINTS)
                     + " " + " ".join(f"{'rk@' + format(x, 'g'):>7}" for x in CHECKPOINTS))
        reg = {v: np.array([[best_at(by[(v, b, s)]["improvements"], x) - opt for x in CHECKPOINTS]
                            for s in range(seeds)]) for v in variants}
        rk = {v: np.zeros(len(CHECKPOINTS)) for v in variants}
        for s in range(seeds):
            for j in range(len(CHECKPOINTS)):
                vals = np.array([reg[v][s, j] for v in variants])
                order = _rank(vals)
                for v, rr in zip(variants, order):
                    rk[v][j] += rr / seeds
        for v in variants:
            med = np.median(reg[v], axis=0)
            lines.append(f"{v:>24} " + " ".join(f"{m:10.4g}" for m in med) + " "
                         + " ".join(f"{r:7.2f}" for r in rk[v]))
            for j, x in enumerate(CHECKPOINTS):
                ranks.setdefault((v, x), []).append(rk[v][j])
    lines.append("\nmean rank over benchmarks")
    for v in sorted(variants, key=lambda v: np.mean(ranks[(v, 100.0)])):
        lines.append(f"{v:>24} " + " ".join(f"{np.mean(ranks[(v, x)]):7.2f}" for x in CHECKPOINTS)
                     + "   mean " + f"{np.mean([np.mean(ranks[(v, x)]) for x in CHECKPOINTS]):.2f}")
    return "\n".join(lines)


def _rank(vals: np.ndarray) -> np.ndarray:
    """Average ranks, 1 = smallest; inf (no full evaluation yet) ranks last."""
    from scipy.stats import rankdata

    return rankdata(np.where(np.isfinite(vals), vals, 1e300), method="average")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default="bohb,rf_hyperband,hyperband,random")
    ap.add_argument("--benchmarks", default="all")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--extra", default="", help="python file defining more variants (add_variant calls)")
    ap.add_argument("--workers", type=int, default=1,
                    help="simulated workers; the checkpoints are then worker time (k x simulated time) in "
                         "full-evaluation equivalents")
    ap.add_argument("--paired-from", type=int, default=None, metavar="K",
                    help="also print the first variant paired with each other one (better / worse runs at "
                         "each checkpoint) over seeds K .. seeds-1")
    args = ap.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    if args.extra:
        exec(compile(Path(args.extra).read_text(), args.extra, "exec"), {"add_variant": add_variant})
    from benchmarks.mf.dev.benchmarks import NAMES

    benches = list(NAMES) if args.benchmarks == "all" else args.benchmarks.split(",")
    variants = args.variants.split(",")
    recs, t0 = [], time.perf_counter()
    for b in benches:
        for v in variants:
            for s in range(args.seeds):
                recs.append(run_one(v, b, s, workers=args.workers))
        print(f"# {b} done ({time.perf_counter() - t0:.0f}s)", file=sys.stderr, flush=True)
    print(summarize(recs, variants, benches, args.seeds))
    if args.paired_from is not None:
        print(paired(recs, variants, range(args.paired_from, args.seeds)))
    return 0


def paired(recs: list[dict], variants: list[str], seeds: range) -> str:
    """The first variant against each other one, run by run (benchmark x seed): how often its best value
    at each checkpoint is lower / higher (ties left out)."""
    by = {(r["variant"], r["bench"], r["seed"]): r for r in recs}
    benches = sorted({r["bench"] for r in recs})
    a, lines = variants[0], [f"paired, seeds {seeds.start}-{seeds.stop - 1}: better / worse (ties)"]
    for b in variants[1:]:
        cells = []
        for x in CHECKPOINTS:
            w = lo = t = 0
            for bench in benches:
                for s in seeds:
                    va = best_at(by[(a, bench, s)]["improvements"], x)
                    vb = best_at(by[(b, bench, s)]["improvements"], x)
                    w, lo, t = w + (va < vb), lo + (va > vb), t + (va == vb)
            cells.append(f"@{x:g} {w} / {lo} ({t})")
        lines.append(f"{a} vs {b}: " + ", ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
