"""Searcher quality benchmark: tunestack's searchers side by side with Optuna, hyperopt, SMAC3 and pycma.

Runs every (optimizer, problem, seed) in one invocation, caches each run under ``_work/cache/`` (so an
interrupted run resumes), writes every trajectory to ``results/quality.json`` and the report (markdown
table + plot, see :mod:`.report`).  Run it in ``.bench-venv`` (``bash benchmarks/setup_bench_env.sh``)::

    nice -n 10 .bench-venv/bin/python benchmarks/searchers/run.py --jobs 2

Development: ``--problems branin,cond_synth --optimizers tpe,optuna_tpe --seeds 2 --evals 20``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib
import json
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per run
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``tunestack`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.searchers.optimizers import CONTINUOUS_ONLY, OPTIMIZERS, PEERS, applicable, run_optimizer  # noqa: E402
from benchmarks.searchers.problems import Problem, all_problems  # noqa: E402

CACHE = HERE / "_work" / "cache"
RESULTS = HERE / "results"
_PEER_MODULES = {"optuna_tpe": "optuna", "optuna_mvtpe": "optuna", "hyperopt_tpe": "hyperopt",
                 "smac_hpo": "smac", "cma": "cma"}
_PEER_DISTS = {"optuna": "optuna", "hyperopt": "hyperopt", "smac": "smac", "cma": "cma"}


@dataclass(frozen=True)
class Task:
    optimizer: str
    problem: str
    seed: int
    n: int

    @property
    def key(self) -> str:
        return f"{self.optimizer}__{self.problem}__s{self.seed}__n{self.n}"


# ---- what can run, and a fingerprint of the code each run depends on -------------------------------------
def available_optimizers(wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    from tunestack.searchers import available

    ts = set(available())
    ok, skipped = [], {}
    for o in wanted:
        if o in PEERS:
            try:
                importlib.import_module(_PEER_MODULES[o])
            except ImportError as e:
                skipped[o] = f"not installed in this environment ({e})"
                continue
        elif o not in ts:
            skipped[o] = "not in tunestack.searchers.available() (module missing or does not import)"
            continue
        ok.append(o)
    return ok, skipped


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def fingerprints(optimizers: list[str]) -> dict[str, str]:
    """A hash of what each optimizer's results depend on: tunestack's searcher code and space, or the
    peer package's version; plus the problem definitions and the adapters."""
    from importlib.metadata import version

    bench = _hash_files([HERE / f for f in ("problems.py", "cash.py", "spaces.py", "optimizers.py")])
    out = {}
    for o in optimizers:
        if o in PEERS:
            dep = f"{_PEER_MODULES[o]}=={version(_PEER_DISTS[_PEER_MODULES[o]])}"
        else:
            dep = f"tunestack:{_hash_files(sorted(_tunestack_sources(o)))}"
        out[o] = f"{dep}|bench:{bench}"
    return out


_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.+)([\w.]*)[ \t]+import[ \t]+([^\n]*)", re.M)


def _tunestack_sources(searcher: str) -> set[Path]:
    """The searcher's module and the tunestack modules it imports relatively, transitively (so that a
    change in another searcher does not invalidate this one's cached runs)."""
    from tunestack.searchers import _REGISTRY

    entry = _REGISTRY._entries[searcher]
    module = entry.partition(":")[0] if isinstance(entry, str) else entry.__module__
    todo = [ROOT / (module.replace(".", "/") + ".py")]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        for dots, mod, names in _IMPORT.findall(path.read_text()):
            base = path.parent
            for _ in range(len(dots) - 1):
                base = base.parent
            if mod:
                todo.append(base / (mod.replace(".", "/") + ".py"))
                todo.append(base / mod.replace(".", "/") / "__init__.py")
            else:  # from . import a, b
                words = [n.split()[0] for n in names.strip("() ").split(",") if n.strip()]
                todo.extend(base / f"{w}.py" for w in words)
    return seen


# ---- running (with the per-run cache) -----------------------------------------------------------------
def improvements(values: list[float]) -> list[list[float]]:
    """The best-so-far trajectory as [[eval index, new best], ...] at each strict improvement."""
    out, best = [], float("inf")
    for i, v in enumerate(values):
        if v < best or i == 0:
            best = min(best, v)
            out.append([i, best])
    return out


def _run_task(args: tuple[Task, str]) -> dict:
    """One run (from the cache when its fingerprint matches); an exception is returned, not raised, so
    that one broken adapter does not stop a long run."""
    try:
        return _run_cached(*args)
    except Exception as e:  # noqa: BLE001 - reported by execute() and in the results' meta
        import traceback

        return {"optimizer": args[0].optimizer, "problem": args[0].problem, "seed": args[0].seed,
                "n": args[0].n, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def _run_cached(task: Task, fp: str) -> dict:
    fp = fingerprints([task.optimizer])[task.optimizer]  # the code as this worker sees it now
    path = CACHE / f"{task.key}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("fingerprint") == fp:
            return cached
    problem = _problem(task.problem)
    t0 = time.perf_counter()
    values = run_optimizer(task.optimizer, problem, task.seed, task.n)
    rec = {"optimizer": task.optimizer, "problem": task.problem, "seed": task.seed, "n": task.n,
           "wall_s": round(time.perf_counter() - t0, 3), "fingerprint": fp, "improvements": improvements(values)}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec))
    tmp.replace(path)
    return rec


_PROBLEMS: dict[str, Problem] = {}


def _problem(name: str) -> Problem:
    if not _PROBLEMS:
        _PROBLEMS.update(all_problems())
    return _PROBLEMS[name]


def make_tasks(problems: dict[str, Problem], optimizers: list[str], seeds: int, evals: int,
               long_evals: int, seeds_for: dict[str, int] | None = None) -> list[Task]:
    """Every (optimizer, problem, seed) to run.  ``seeds_for`` maps an optimizer or a problem name to a
    smaller number of seeds (the smallest applicable one wins).  Order, so that a run cut short still has
    whole seeds of everything it reached: first the cheap runs (neither SMAC3 nor CASH) seed by seed,
    then the expensive ones (SMAC3 anywhere, anything on CASH) seed by seed."""
    tasks = []
    for pname, p in problems.items():
        for o in optimizers:
            if applicable(o, p):
                n = max(evals, long_evals) if o in CONTINUOUS_ONLY else evals
                k = min([seeds] + [(seeds_for or {})[x] for x in (o, pname) if x in (seeds_for or {})])
                tasks.extend(Task(o, pname, s, n) for s in range(k))

    def expensive(t: Task) -> bool:
        return t.optimizer == "smac_hpo" or t.problem.startswith("cash")

    return sorted(tasks, key=lambda t: (expensive(t), t.seed, t.optimizer != "smac_hpo",
                                        not t.problem.startswith("cash"), t.optimizer, t.problem))


def _seeds_for(spec: str) -> dict[str, int]:
    out = {}
    for item in filter(None, spec.split(",")):
        name, _, k = item.partition("=")
        if not k.isdigit():
            raise SystemExit(f"--seeds-for wants NAME=N[,...] (NAME an optimizer or a problem), got {item!r}")
        out[name] = int(k)
    return out


def execute(tasks: list[Task], fps: dict[str, str], jobs: int) -> tuple[list[dict], list[dict]]:
    """(finished runs, failed runs)."""
    work = [(t, fps[t.optimizer]) for t in tasks]
    out, failed, t0 = [], [], time.perf_counter()
    if jobs <= 1:
        it = map(_run_task, work)
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(jobs, maxtasksperchild=20)
        it = pool.imap_unordered(_run_task, work)
    try:
        for i, rec in enumerate(it, 1):
            if "error" in rec:
                failed.append(rec)
                print(f"[{i}/{len(work)}] FAILED {rec['optimizer']} {rec['problem']} seed {rec['seed']}: "
                      f"{rec['error']}\n{rec['traceback']}", flush=True)
                continue
            out.append(rec)
            print(f"[{i}/{len(work)} {time.perf_counter() - t0:7.0f}s] {rec['optimizer']:>12} {rec['problem']:<18} "
                  f"seed {rec['seed']} n {rec['n']}: best {rec['improvements'][-1][1]:.6g} ({rec['wall_s']:.1f}s)",
                  flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return out, failed


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for d in ("tunestack", "numpy", "scikit-learn", "ConfigSpace", "optuna", "hyperopt", "smac", "cma"):
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = "absent"
    return out


def _git_commit() -> str:
    """HEAD of the checkout, or $TUNESTACK_BENCH_COMMIT when running from an exported snapshot of a
    commit (``git archive <commit> | tar -x -C DIR``: the code cannot change under a long run)."""
    import subprocess

    if os.environ.get("TUNESTACK_BENCH_COMMIT"):
        return os.environ["TUNESTACK_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", default="all", help="comma-separated problem names, or 'all'")
    ap.add_argument("--optimizers", default="all", help=f"comma-separated, from {','.join(OPTIMIZERS)}")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    ap.add_argument("--seeds-for", default="", metavar="OPT=N,...",
                    help="fewer seeds for some optimizers or problems (e.g. smac_hpo=5,cash_digits=5); the "
                         "smallest that applies to a run wins; reported as such")
    ap.add_argument("--evals", type=int, default=100, help="evaluations per run (default 100)")
    ap.add_argument("--long-evals", type=int, default=500,
                    help="evaluations of cmaes / cma runs on continuous problems (default 500)")
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="worker processes (at most 2)")
    ap.add_argument("--out", default=str(RESULTS / "quality.json"), help="trajectory JSON to write")
    ap.add_argument("--no-report", action="store_true", help="skip the markdown table and the plot")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))  # be nice on a shared machine (workers inherit it)
    every = all_problems(cash=args.problems == "all" or "cash" in args.problems)
    names = list(every) if args.problems == "all" else args.problems.split(",")
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"unknown problem(s) {unknown}; choose from {list(every)}")
    wanted = list(OPTIMIZERS) if args.optimizers == "all" else args.optimizers.split(",")
    bad = [o for o in wanted if o not in OPTIMIZERS]
    if bad:
        raise SystemExit(f"unknown optimizer(s) {bad}; choose from {list(OPTIMIZERS)}")
    optimizers, skipped = available_optimizers(wanted)
    for o, why in skipped.items():
        print(f"skipping {o}: {why}", flush=True)
    problems = {n: every[n] for n in names}
    seeds_for = _seeds_for(args.seeds_for)
    strange = [k for k in seeds_for if k not in OPTIMIZERS and k not in every]
    if strange:
        raise SystemExit(f"--seeds-for: {strange} is neither an optimizer nor a problem")
    tasks = make_tasks(problems, optimizers, args.seeds, args.evals, args.long_evals, seeds_for)
    t0 = time.perf_counter()
    runs, failed = execute(tasks, fingerprints(optimizers), args.jobs)
    runs.sort(key=lambda r: (r["problem"], r["optimizer"], r["seed"]))
    now = fingerprints(optimizers)
    stale = sorted({r["optimizer"] for r in runs if r["fingerprint"] != now[r["optimizer"]]})
    if stale:
        print(f"WARNING: the code of {stale} changed during this run; run the same command again to redo "
              "the runs made with the old code", flush=True)
    meta = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "date": _dt.datetime.now().isoformat(timespec="seconds"), "git_commit": _git_commit(),
        "seeds": args.seeds, "seeds_for": seeds_for, "evals": args.evals, "long_evals": args.long_evals, "jobs": args.jobs,
        "wall_s_this_invocation": round(time.perf_counter() - t0, 1), "versions": _versions(),
        "optimizers": optimizers, "skipped": skipped, "stale": stale,
        "failed": [{k: f[k] for k in ("optimizer", "problem", "seed", "error")} for f in failed],
        "problems": {n: {"optimum": p.optimum, "continuous": p.continuous, "dim": len(p.space),
                         "conditional": bool(p.space.conditions)} for n, p in problems.items()},
        "trajectory_format": "improvements: [[eval index (0-based), best-so-far value], ...] at each strict "
                             "improvement; the best-so-far after evaluation i is the last entry with index <= i",
        "regret": "value - optimum where the optimum is known; for problems with optimum null (CASH) value - "
                  "the best value any optimizer reached on that problem in this file (all seeds, all budgets)",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "runs": runs}, separators=(",", ":")))
    print(f"wrote {out} ({len(runs)} runs, {len(failed)} failed)")
    if not args.no_report:
        from benchmarks.searchers.report import write_report

        write_report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
