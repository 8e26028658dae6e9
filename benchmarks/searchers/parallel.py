"""Batch (parallel) asking vs one at a time, at the same number of evaluations.

On the continuous suite, each tunestack searcher runs ``--evals`` (100) evaluations twice per seed:
``sequential`` (ask, tell, ask, tell ...) and ``batch`` (``--batch`` = 8 pending asks, then their 8
tells, as 8 parallel workers would).  The report gives the median final regret of each mode and their
ratio ``median(batch) / median(sequential)`` per problem (target: within 1.5x), and the geometric mean
of the ratios over the suite.  Runs are cached under ``_work/parallel_cache`` like :mod:`.run`'s::

    nice -n 10 .venv/bin/python benchmarks/searchers/parallel.py          # or .bench-venv/bin/python

``--set validation`` runs the problems the batch code paths were checked on besides the suite (none of
them in it): rfbo's development problems (``benchmarks/rfbo/dev_problems.py``), the conditional
``cond_synth`` and suite functions in other dimensions.  Results go to ``results/parallel.json`` (suite,
batch 8) or ``results/parallel[.validation][.b<batch>].json``; ``--compare OLD.json`` adds the ratios
of an earlier run of the same set (e.g. ``git show <commit>:benchmarks/searchers/results/parallel.json``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.searchers import problems as _P  # noqa: E402
from benchmarks.searchers.problems import Problem, conditional_problems, continuous_problems  # noqa: E402

CACHE = HERE / "_work" / "parallel_cache"
SEARCHERS = ("rfbo", "tpe", "cmaes")
TARGET = 1.5


def _box_problem(name: str, f, d: int, lo: float, hi: float, opt: float) -> Problem:  # noqa: ANN001
    return Problem(name, _P._box([(f"x{i}", lo, hi) for i in range(d)]), lambda c: f(_P._vec(c, d)), opt)


def _sphere(x: np.ndarray) -> float:
    return float(np.sum((x - 0.3) ** 2))


def validation_problems() -> dict[str, Problem]:
    """Problems outside the suite: rfbo's development problems, ``cond_synth``, suite functions in other
    dimensions and a shifted sphere."""
    from benchmarks.rfbo.dev_problems import DEV_PROBLEMS

    out = dict(DEV_PROBLEMS)
    out.update(conditional_problems())
    out.update({
        "rosenbrock4": _box_problem("rosenbrock4", _P.rosenbrock, 4, -5, 10, 0.0),
        "ackley5": _box_problem("ackley5", _P.ackley, 5, -32.768, 32.768, 0.0),
        "levy6": _box_problem("levy6", _P.levy, 6, -10, 10, 0.0),
        "styblinski_tang4": _box_problem("styblinski_tang4", _P.styblinski_tang, 4, -5, 5,
                                         -39.16616570377142 * 4),
        "sphere8": _box_problem("sphere8", _sphere, 8, -1, 1, 0.0),
    })
    return out


SETS = {"suite": continuous_problems, "validation": validation_problems}


def _kwargs(items: list[str]) -> dict[str, dict]:
    """``["tpe:liar_bandwidth=1.0"]`` -> ``{"tpe": {"liar_bandwidth": 1.0}}`` (values parsed as JSON)."""
    out: dict[str, dict] = {}
    for item in items:
        name, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        if not (name and key and value):
            raise SystemExit(f"--kwargs expects SEARCHER:KEY=VALUE, got {item!r}")
        out.setdefault(name, {})[key] = json.loads(value)
    return out


def run_mode(name: str, problem: Problem, seed: int, n: int, batch: int, kwargs: dict | None = None) -> list[float]:
    """Values of ``n`` evaluations, asking ``batch`` configurations before telling any of them."""
    from tunestack.searchers import create

    s = create(name, problem.space, mode="min", seed=seed, **(kwargs or {}))
    values: list[float] = []
    while len(values) < n:
        sugs = [s.ask() for _ in range(min(batch, n - len(values)))]
        for sug in sugs:
            v = float(problem.fn(sug.config))
            s.tell(sug.id, v)
            values.append(v)
    return values


def _task(args: tuple[str, str, str, int, int, int, str, dict]) -> dict:
    name, pset, pname, seed, n, batch, fp, kwargs = args
    tag = "".join(f"__{k}={v}" for k, v in sorted(kwargs.items()))
    path = CACHE / f"{name}{tag}__{pname}__s{seed}__n{n}__b{batch}.json"
    if path.exists():
        rec = json.loads(path.read_text())
        if rec.get("fingerprint") == fp:
            return rec
    problem = SETS[pset]()[pname]
    t0 = time.perf_counter()
    values = run_mode(name, problem, seed, n, batch, kwargs)
    rec = {"searcher": name, "problem": pname, "seed": seed, "n": n, "batch": batch, "fingerprint": fp,
           "wall_s": round(time.perf_counter() - t0, 3), "final_regret": min(values) - problem.optimum}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return rec


def summarize(runs: list[dict], batch: int) -> dict[str, dict[str, dict[str, float]]]:
    """searcher -> problem -> {sequential, batch, ratio} (medians of final regret)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in runs:
        out.setdefault(r["searcher"], {}).setdefault(r["problem"], {}).setdefault(
            "seq" if r["batch"] == 1 else "bat", []).append(r["final_regret"])
    table: dict[str, dict[str, dict[str, float]]] = {}
    for s, by_p in out.items():
        table[s] = {}
        for p, d in by_p.items():
            seq, bat = float(np.median(d["seq"])), float(np.median(d["bat"]))
            table[s][p] = {"sequential": seq, "batch": bat, "ratio": bat / seq if seq > 0 else math.inf}
    return table


def _geo(ratios: list[float]) -> float:
    finite = [r for r in ratios if math.isfinite(r) and r > 0]
    return math.exp(np.mean(np.log(finite))) if finite else math.nan


def markdown(meta: dict, table: dict[str, dict[str, dict[str, float]]], before: dict | None = None) -> str:
    """The report; ``before`` is the summary of an earlier run (``--compare``), shown as 'was'."""
    probs = sorted({p for by_p in table.values() for p in by_p}, key=list(meta["problems"]).index)
    lines = [f"# Batch asking ({meta['batch']} pending) vs sequential, {meta['evals']} evaluations, "
             f"{meta['seeds']} seeds ({meta['set']})\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}).\n",
             f"Cells: median final regret sequential / batch, and the ratio batch / sequential (target <= "
             f"{TARGET}; < 1 means batch did better).  'geo-mean' is the geometric mean of the ratios over "
             "the problems (a searcher's own problems: cmaes runs on continuous ones only)."
             + (f"  'was': the ratio in `{meta['compare']}`." if before else "") + "\n",
             "| searcher | " + " | ".join(probs) + " | geo-mean ratio | within target |",
             "|---|" + "---|" * (len(probs) + 2)]
    for s, by_p in table.items():
        mine = [p for p in probs if p in by_p]
        ratios = [by_p[p]["ratio"] for p in mine]
        ok = sum(r <= TARGET for r in ratios)
        old = (before or {}).get(s, {})
        cells = []
        for p in probs:
            if p not in by_p:
                cells.append("")
                continue
            c = by_p[p]
            was = f", was {old[p]['ratio']:.2f}x" if p in old else ""
            cells.append(f"{c['sequential']:.3g} / {c['batch']:.3g} (**{c['ratio']:.2f}x**{was})")
        was_geo = f" (was {_geo([old[p]['ratio'] for p in mine if p in old]):.2f}x)" if old else ""
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {_geo(ratios):.2f}x{was_geo} | {ok}/{len(mine)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--searchers", default=",".join(SEARCHERS))
    ap.add_argument("--set", default="suite", choices=sorted(SETS), help="the problem set")
    ap.add_argument("--problems", default="all", help="comma-separated problems of the set, or 'all'")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    ap.add_argument("--out", default=None, help="default: results/parallel[.validation][.b<batch>].json")
    ap.add_argument("--kwargs", action="append", default=[], metavar="SEARCHER:KEY=VALUE",
                    help="a searcher option, e.g. tpe:liar_bandwidth=1.0 (repeatable)")
    ap.add_argument("--compare", default=None, help="an earlier results JSON of the same set, shown as 'was'")
    args = ap.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    from tunestack.searchers import available

    from benchmarks.searchers.optimizers import applicable
    from benchmarks.searchers.run import _git_commit, _hash_files, fingerprints

    wanted = args.searchers.split(",")
    missing = [s for s in wanted if s not in available()]
    searchers = [s for s in wanted if s not in missing]
    if missing:
        print(f"skipping {missing}: not in tunestack.searchers.available()", flush=True)
    every = SETS[args.set]()
    problems = list(every) if args.problems == "all" else args.problems.split(",")
    bench = _hash_files([Path(__file__).resolve(), ROOT / "benchmarks" / "rfbo" / "dev_problems.py"])
    fps = {s: f"{fp}|parallel:{bench}" for s, fp in fingerprints(searchers).items()}
    kwargs = _kwargs(args.kwargs)
    work = [(s, args.set, p, seed, args.evals, b, fps[s], kwargs.get(s, {})) for s in searchers for p in problems
            for seed in range(args.seeds) for b in (1, args.batch) if applicable(s, every[p])]
    work.sort(key=lambda w: w[0] != "rfbo")
    t0 = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            runs = list(pool.imap_unordered(_task, work))
    else:
        runs = [_task(w) for w in work]
    runs.sort(key=lambda r: (r["searcher"], r["problem"], r["seed"], r["batch"]))
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
            "git_commit": _git_commit(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "set": args.set, "problems": problems, "compare": args.compare, "kwargs": kwargs,
            "seeds": args.seeds, "evals": args.evals, "batch": args.batch, "searchers": searchers,
            "skipped": missing, "wall_s_this_invocation": round(time.perf_counter() - t0, 1)}
    table = summarize(runs, args.batch)
    suffix = ("" if args.set == "suite" else f".{args.set}") + ("" if args.batch == 8 else f".b{args.batch}")
    out = Path(args.out) if args.out else HERE / "results" / f"parallel{suffix}.json"
    before = json.loads(Path(args.compare).read_text())["summary"] if args.compare else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": table, "runs": runs}, indent=None, separators=(",", ":")))
    md = markdown(meta, table, before)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
