"""Searcher latency: wall time of one ``ask`` after N tells in 10 dimensions, tunestack vs Optuna vs SMAC3.

For each optimizer and N: tell N random configurations of the 10-d Levy box with their values, make
``--warmup`` (20) untimed ask/tell pairs (past initial designs that count only their own asks, such as
rfbo's; not for SMAC3, which is built without an initial design), then time ``--asks`` asks (each
followed by the tell of its value, so the history grows by one per ask) and report the median and the
mean CPU time.  The mean matters for SMAC3, whose ``ask`` refits its forest and
maximizes the acquisition only every 8th call (``retrain_after=8``) and hands out the stored
challengers in between: its median is the cheap call, its mean the amortized cost.

* tunestack ``tpe`` / ``rfbo``: ``add_observation(config, value)`` for the N random tells;
* tunestack ``cmaes``: N ask/tell pairs (a CMA-ES state is built from its own samples; random outside
  points are not how it learns), then the timed asks;
* Optuna ``TPESampler(multivariate=False)`` (univariate) and ``multivariate=True``: ``study.add_trial`` of N
  finished trials, timed ``study.ask(distributions)``;
* SMAC3 ``HyperparameterOptimizationFacade`` (settings as in :mod:`.optimizers`; no initial design,
  since the N tells are there): ``smac.tell`` of N random configurations, timed ``smac.ask()``.

Every optimizer runs single-threaded in this process, nice'd.  An (optimizer, N) whose setup plus first
ask would exceed ``--max-seconds`` is skipped and reported as such.  Run in ``.bench-venv``::

    nice -n 10 .bench-venv/bin/python benchmarks/searchers/latency.py
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.searchers.problems import PROBLEMS, Problem  # noqa: E402

OPTIMIZERS = ("tpe", "rfbo", "cmaes", "optuna_tpe", "optuna_mvtpe", "smac_hpo")
TARGETS = {"tpe": "<= 10 ms at N=1000 and faster than Optuna", "rfbo": "<= 200 ms at N=1000, far below SMAC3",
           "cmaes": "<= 1 ms"}

# A session: setup(N) tells N points; ask_tell() makes one timed ask and tells it; it returns the ask's
# (CPU seconds of this process, wall seconds).  CPU time is the headline: every optimizer runs on one
# thread, and on a machine shared with other jobs the wall time mostly measures waiting for a core.
Session = Callable[[], tuple[float, float]]


class _Clock:
    def __enter__(self) -> "_Clock":
        self.c, self.w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu, self.wall = time.process_time() - self.c, time.perf_counter() - self.w

    @property
    def both(self) -> tuple[float, float]:
        return self.cpu, self.wall


def _random_configs(problem: Problem, rng: np.random.Generator, n: int) -> list[dict]:
    from tunestack.space import SearchSpace

    space = SearchSpace.create(problem.space)
    return [space.decode(v) for v in space.sample_vectors(rng, n)]


def _tunestack(name: str, problem: Problem, n: int, seed: int) -> Session:
    from tunestack.searchers import create

    s = create(name, problem.space, mode="min", seed=seed)
    if name == "cmaes":
        for _ in range(n):
            sug = s.ask()
            s.tell(sug.id, problem.fn(sug.config))
    else:
        for c in _random_configs(problem, np.random.default_rng(seed), n):
            s.add_observation(c, problem.fn(c))

    def ask_tell() -> tuple[float, float]:
        with _Clock() as clock:
            sug = s.ask()
        s.tell(sug.id, problem.fn(sug.config))
        return clock.both

    return ask_tell


def _optuna(multivariate: bool, problem: Problem, n: int, seed: int) -> Session:
    import optuna
    from optuna.distributions import FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    dists = {hp.name: FloatDistribution(float(hp.lower), float(hp.upper)) for hp in problem.space.values()}
    kw = {"multivariate": multivariate}  # explicit: Optuna 5's default None means multivariate
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, **kw))
    study.add_trials([optuna.trial.create_trial(params=c, distributions=dists, value=problem.fn(c))
                      for c in _random_configs(problem, np.random.default_rng(seed), n)])

    def ask_tell() -> tuple[float, float]:
        with _Clock() as clock:
            trial = study.ask(dists)
        study.tell(trial, problem.fn(trial.params))
        return clock.both

    return ask_tell


def _smac(problem: Problem, n: int, seed: int) -> Session:
    import ConfigSpace as CS
    from smac import HyperparameterOptimizationFacade as HPO
    from smac import Scenario
    from smac.runhistory.dataclasses import TrialInfo, TrialValue

    warnings.simplefilter("ignore")
    cs = copy.deepcopy(problem.space)
    sc = Scenario(cs, deterministic=True, n_trials=10 ** 7, seed=seed, output_directory=tempfile.mkdtemp(prefix="smac-lat-"))
    model = HPO.get_model(sc)
    model._rf_opts["n_jobs"], model._rf_opts["max_leaf_nodes"] = 1, None  # as in optimizers._smac
    smac = HPO(sc, lambda config, seed=0: 0.0, model=model, initial_design=HPO.get_initial_design(sc, n_configs=0),
               overwrite=True, logging_level=40)
    for c in _random_configs(problem, np.random.default_rng(seed), n):
        smac.tell(TrialInfo(config=CS.Configuration(cs, values=c), seed=0), TrialValue(cost=problem.fn(c)))

    def ask_tell() -> tuple[float, float]:
        with _Clock() as clock:
            info = smac.ask()
        smac.tell(info, TrialValue(cost=problem.fn(dict(info.config))))
        return clock.both

    return ask_tell


def session(optimizer: str, problem: Problem, n: int, seed: int) -> Session:
    if optimizer in ("tpe", "rfbo", "cmaes"):
        return _tunestack(optimizer, problem, n, seed)
    if optimizer.startswith("optuna"):
        return _optuna(optimizer == "optuna_mvtpe", problem, n, seed)
    if optimizer == "smac_hpo":
        return _smac(problem, n, seed)
    raise ValueError(f"unknown optimizer {optimizer!r}; choose from {OPTIMIZERS}")


def measure(optimizer: str, n: int, asks: int, max_seconds: float, warmup: int, seed: int = 0) -> dict:
    problem = PROBLEMS["levy10"]
    t0 = time.process_time()
    ask_tell = session(optimizer, problem, n, seed)
    if optimizer != "smac_hpo":  # past any initial design that ignores told points (SMAC3 gets none)
        for _ in range(warmup):
            ask_tell()
    setup = time.process_time() - t0
    times = [ask_tell()]
    if setup + times[0][0] > max_seconds:
        return {"optimizer": optimizer, "n": n, "skipped": f"setup {setup:.0f} s + first ask {times[0][0]:.0f} s "
                f"(CPU) > --max-seconds {max_seconds:g}", "setup_s": round(setup, 3),
                "first_ask_cpu_s": round(times[0][0], 4)}
    spent = 0.0
    while len(times) < asks and spent < max_seconds:
        times.append(ask_tell())
        spent += times[-1][0]
    cpu, wall = [1e3 * t[0] for t in times], [1e3 * t[1] for t in times]
    return {"optimizer": optimizer, "n": n, "asks": len(times), "median_ms": statistics.median(cpu),
            "mean_ms": statistics.fmean(cpu), "max_ms": max(cpu), "wall_median_ms": statistics.median(wall),
            "wall_mean_ms": statistics.fmean(wall), "setup_s": round(setup, 3)}


def markdown(meta: dict, rows: list[dict]) -> str:
    ns = meta["ns"]
    by = {(r["optimizer"], r["n"]): r for r in rows}
    lines = ["# Searcher ask latency (10-d, after N tells)\n",
             f"Command: `{meta['command']}` (git {meta['git_commit']}, {meta['date']}; load average at start "
             f"{meta['load_start']}, at end {meta['load_end']} on a shared {os.cpu_count()}-core machine).  Each "
             f"row: N random tells, {meta['warmup']} untimed ask/tell pairs (not SMAC3), then up to "
             f"{meta['asks']} timed asks.\n",
             "Cells: median / mean CPU milliseconds of one ask (process time; every optimizer is single-threaded, "
             "and wall time on this shared machine mostly measures waiting for a core; wall times are in the "
             "JSON).  SMAC3 refits its forest only every 8th ask: its mean is the amortized cost, and so is "
             "any other searcher's that batches.  growth = mean(N=last) / mean(N=first).\n",
             "| optimizer | " + " | ".join(f"N={n}" for n in ns) + " | growth | target |",
             "|---|" + "---|" * (len(ns) + 2)]
    for o in meta["optimizers"]:
        cells = []
        for n in ns:
            r = by.get((o, n))
            if r is None:
                cells.append("–")
            elif "skipped" in r:
                cells.append(f"skipped ({r['skipped']})")
            else:
                cells.append(f"{r['median_ms']:.3g} / {r['mean_ms']:.3g}")
        done = [by[(o, n)] for n in ns if (o, n) in by and "skipped" not in by[(o, n)]]
        growth = f"{done[-1]['mean_ms'] / done[0]['mean_ms']:.1f}x ({done[0]['n']}→{done[-1]['n']})" if len(done) > 1 else "–"
        lines.append(f"| {o} | " + " | ".join(cells) + f" | {growth} | {TARGETS.get(o, '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--ns", default="100,1000,5000", help="history sizes N")
    ap.add_argument("--asks", type=int, default=20, help="timed asks per (optimizer, N)")
    ap.add_argument("--warmup", type=int, default=20,
                    help="untimed ask/tell pairs after the N tells (not for SMAC3, which is given no initial "
                         "design): gets past initial designs that count only their own asks (rfbo's)")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="CPU seconds: skip an (optimizer, N) whose setup + first ask take longer, and stop its timed "
                         "asks once they took this long together")
    ap.add_argument("--out", default=str(HERE / "results" / "latency.json"))
    args = ap.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    from benchmarks.searchers.run import _git_commit

    opts, ns = args.optimizers.split(","), [int(x) for x in args.ns.split(",")]
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
            "git_commit": _git_commit(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()), "optimizers": opts, "ns": ns,
            "problem": "levy10", "warmup": args.warmup, "asks": args.asks}
    rows = []
    for o in opts:
        for n in ns:
            if rows and rows[-1]["optimizer"] == o and "skipped" in rows[-1]:
                rows.append({"optimizer": o, "n": n, "skipped": f"N={rows[-1]['n']} was already skipped"})
            else:
                rows.append(measure(o, n, args.asks, args.max_seconds, args.warmup))
            print(json.dumps(rows[-1]), flush=True)
    meta["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    md = markdown(meta, rows)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
