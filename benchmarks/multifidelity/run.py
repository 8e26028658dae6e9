"""Multi-fidelity benchmark, one worker, budget on the x-axis: tunestack's schedulers against random
search, DEHB, SMAC3's multi-fidelity facade, Optuna TPE + Hyperband pruner and HpBandSter's BOHB, on the
``benchmarks/mf`` surrogates (``mlp_digits``, ``gbm``), in one invocation.

Run it in ``.bench-venv`` (optuna, smac) with ``.bench-venv-mf`` (dehb, hpbandster) beside it; both are
made by ``bash benchmarks/multifidelity/setup_peers.sh``::

    nice -n 10 .bench-venv/bin/python benchmarks/multifidelity/run.py --seeds 10 --jobs 1

Every (optimizer, benchmark, seed) run is cached under ``_work/cache/`` with a fingerprint of what it
depends on (tunestack's scheduler/searcher/simulator code or the peer's version, the benchmark table,
these harness files): rerunning the same command resumes.  Writes ``results/one_worker.json`` and the
report (``.md`` + ``.png``, :mod:`.report`).  After a change to one tunestack optimizer, ``--optimizers bohb
--replace-in results/one_worker.json`` reruns only it and replaces its runs in that file (the peers'
runs, which need their own environments, are kept).
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per run
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.multifidelity.common import BENCHMARKS, CHECK_BENCHMARKS, Evaluator  # noqa: E402
from benchmarks.multifidelity.optimizers import (OPTIMIZERS, PEERS, SUBPROCESS_PEERS, TUNESTACK,  # noqa: E402
                                                 peer_python, run_optimizer)

CACHE = HERE / "_work" / "cache"
RESULTS = HERE / "results"
DATA = ROOT / "benchmarks" / "mf" / "data"
_PEER_DIST = {"smac_mf": "smac", "optuna_hb": "optuna", "dehb": "dehb", "hpbandster_bohb": "hpbandster"}
_HARNESS = ("common.py", "optimizers.py", "peer_worker.py")
SURROGATES = ("et", "gp")  # benchmarks/mf/surrogate.py kinds; "et" is the reported one, "gp" a check


def surrogate_tail(surrogate: str) -> str:
    """The cache-key suffix of a run on a surrogate other than the reported one."""
    return "" if surrogate == "et" else f"__{surrogate}"


@dataclass(frozen=True)
class Task:
    optimizer: str
    benchmark: str
    seed: int
    limit: float
    surrogate: str = "et"  # one of SURROGATES

    @property
    def key(self) -> str:
        return f"{self.optimizer}__{self.benchmark}__s{self.seed}__b{self.limit:g}{surrogate_tail(self.surrogate)}"


# ---- fingerprints ---------------------------------------------------------------------------------------
def hash_paths(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


class _NoRuntimeEffect(ast.NodeTransformer):
    """Drops what the harness code never acts on at run time: docstrings, function annotations (every
    harness module has ``from __future__ import annotations`` and nothing reads them) and the
    ``if TYPE_CHECKING:`` imports those annotations name.  Comments and layout are not in the tree."""

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        if node.module == "typing":
            node.names = [a for a in node.names if a.name != "TYPE_CHECKING"]
            return node if node.names else None
        return node

    def visit_If(self, node: ast.If) -> ast.AST | None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" and not node.orelse:
            return None
        return self.generic_visit(node)

    def _body(self, node: ast.AST) -> ast.AST:
        body = node.body  # type: ignore[attr-defined]
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return self.generic_visit(node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        return self._body(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._body(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []),
                    *([a.kwarg] if a.kwarg else [])]:
            arg.annotation = None
        return self._body(node)


def code_hash(paths: list[Path]) -> str:
    """Hash of what the given Python files do (:class:`_NoRuntimeEffect`): a lint fix, a comment or a
    docstring does not throw away hours of cached peer runs; any change to the code itself does."""
    h = hashlib.sha256()
    for p in sorted(paths):
        tree = _NoRuntimeEffect().visit(ast.parse(p.read_text(), filename=str(p)))
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(ast.dump(tree, include_attributes=False).encode())
    return h.hexdigest()[:16]


def harness_hash() -> str:
    return code_hash([HERE / f for f in _HARNESS])


def tunestack_hash() -> str:
    """What a simulated tunestack run depends on: schedulers, searchers, simulator, space."""
    ts = ROOT / "tunestack"
    files = [*ts.glob("schedulers/*.py"), *ts.glob("searchers/*.py"), ts / "platform" / "simulator.py",
             *ts.glob("space*.py"), ts / "_registry.py"]  # not schedulers/lce/: no LCE run here
    return hash_paths(files)


def data_hash(benchmark: str) -> str:
    mf = ROOT / "benchmarks" / "mf"
    return hash_paths([DATA / f"{benchmark}.json.gz", mf / "surrogate.py", mf / "benchmarks.py"])


_PEER_VERSIONS: dict[str, str] = {}


def peer_version(optimizer: str) -> str:
    dist = _PEER_DIST[optimizer]
    if dist not in _PEER_VERSIONS:
        if optimizer in SUBPROCESS_PEERS:
            code = f"from importlib.metadata import version; print(version({dist!r}))"
            out = subprocess.run([str(peer_python()), "-c", code], capture_output=True, text=True)
            _PEER_VERSIONS[dist] = out.stdout.strip() if out.returncode == 0 else "absent"
        else:
            from importlib.metadata import PackageNotFoundError, version

            try:
                _PEER_VERSIONS[dist] = version(dist)
            except PackageNotFoundError:
                _PEER_VERSIONS[dist] = "absent"
    return _PEER_VERSIONS[dist]


def fingerprint(task: Task, loaded: bool = False) -> str:
    """What the run depends on; ``loaded``: with the benchmark files as this process loaded them (the
    surrogate is fit once per process), else as they are on disk now."""
    dep = f"tunestack:{tunestack_hash()}" if task.optimizer in TUNESTACK else \
        f"{_PEER_DIST[task.optimizer]}=={peer_version(task.optimizer)}"
    data = _LOADED_HASH[task.benchmark] if loaded else data_hash(task.benchmark)
    return f"{dep}|data:{data}|harness:{harness_hash()}"


def available(wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    ok, skipped = [], {}
    for o in wanted:
        if o in PEERS and peer_version(o) == "absent":
            where = peer_python() if o in SUBPROCESS_PEERS else sys.executable
            skipped[o] = f"{_PEER_DIST[o]} is not installed for {where}"
        else:
            ok.append(o)
    return ok, skipped


# ---- running --------------------------------------------------------------------------------------------
_EVALUATORS: dict[tuple[str, str], Evaluator] = {}
_LOADED_HASH: dict[str, str] = {}


def evaluator(name: str, surrogate: str = "et") -> Evaluator:
    """The benchmark's surrogate as the files are now: reloaded when the table or the surrogate code
    changed since this process loaded it (benchmarks/mf may still change while a long run goes on).
    ``surrogate``: the reported extremely randomized trees (``"et"``) or another kind of
    ``benchmarks/mf/surrogate.py`` (``"gp"``: a check that a result does not hinge on the tree ensemble)."""
    now = data_hash(name)
    if name in _LOADED_HASH and _LOADED_HASH[name] != now:
        import importlib

        import benchmarks.mf.benchmarks as mfb
        import benchmarks.mf.surrogate as mfs
        import benchmarks.mf.table as mft

        for mod in (mft, mfs, mfb):
            importlib.reload(mod)
        _EVALUATORS.clear()
    if (name, surrogate) not in _EVALUATORS:
        _LOADED_HASH[name] = now
        _EVALUATORS[(name, surrogate)] = Evaluator(name, mode="surrogate", surrogate=surrogate)
    return _EVALUATORS[(name, surrogate)]


def run_task(task: Task) -> dict:
    """One run, from the cache when its fingerprint matches; errors are returned, not raised."""
    try:
        fp = fingerprint(task)
        path = CACHE / f"{task.key}.json"
        if path.exists():
            cached = json.loads(path.read_text())
            if cached.get("fingerprint") == fp:
                return {**cached, "from_cache": True}
        ev = evaluator(task.benchmark, task.surrogate)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = run_optimizer(task.optimizer, ev, task.seed, task.limit)
        rec.update(optimizer=task.optimizer, benchmark=task.benchmark, seed=task.seed, limit=task.limit,
                   **({} if task.surrogate == "et" else {"surrogate": task.surrogate}),
                   wall_s=round(time.perf_counter() - t0, 2), cpu_s=round(time.process_time() - c0, 2),
                   fingerprint=fingerprint(task, loaded=True))
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec))
        tmp.replace(path)
        return rec
    except Exception as e:  # noqa: BLE001 - one broken adapter must not stop a long run
        import traceback

        return {"optimizer": task.optimizer, "benchmark": task.benchmark, "seed": task.seed,
                "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def make_tasks(benchmarks: list[str], optimizers: list[str], seeds: int, limit: float,
               surrogate: str = "et", seed_from: int = 0) -> list[Task]:
    """Every seed of the quick optimizers first, then the slow peers (HpBandSter, SMAC3) seed by seed, so
    that a run cut short has whole seeds of everything it reached (the report counts seeds per row).
    Seeds ``seed_from .. seeds - 1``."""
    slow = {"smac_mf": 1, "hpbandster_bohb": 1}
    tasks = [Task(o, b, s, limit, surrogate) for s in range(seed_from, seeds) for b in benchmarks
             for o in optimizers]
    return sorted(tasks, key=lambda t: (slow.get(t.optimizer, 0), t.seed, t.benchmark, t.optimizer))


def execute(tasks: list[Task], jobs: int) -> tuple[list[dict], list[dict]]:
    out, failed, t0 = [], [], time.perf_counter()
    _LOADS.append(os.getloadavg()[0])
    if jobs <= 1:
        pool, it = None, map(run_task, tasks)
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(jobs, maxtasksperchild=40)
        it = pool.imap_unordered(run_task, tasks)
    try:
        for i, rec in enumerate(it, 1):
            if "error" in rec:
                failed.append(rec)
                print(f"[{i}/{len(tasks)}] FAILED {rec['optimizer']} {rec['benchmark']} seed {rec['seed']}: "
                      f"{rec['error']}\n{rec['traceback']}", flush=True)
                continue
            out.append(rec)
            if not rec.get("from_cache"):
                _LOADS.append(os.getloadavg()[0])
            best = rec["improvements"][-1][1] if rec["improvements"] else float("nan")
            print(f"[{i}/{len(tasks)} {time.perf_counter() - t0:6.0f}s] {rec['optimizer']:>16} "
                  f"{rec['benchmark']:<11} seed {rec['seed']}: best {best:.5g} after {rec['n_evals']} evals "
                  f"({rec['wall_s']:.1f}s)", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return out, failed


_LOADS: list[float] = []  # 1-minute load average at the start and after every run not from the cache


def load_note() -> dict:
    """How loaded the machine was while this invocation ran (the runs' wall times depend on it; their
    results do not)."""
    xs = sorted(_LOADS)
    return {"cpus": os.cpu_count(), "samples": len(xs), "load1_min": xs[0], "load1_median": xs[len(xs) // 2],
            "load1_max": xs[-1]} if xs else {"cpus": os.cpu_count(), "samples": 0}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _git_state(path: str) -> str:
    """``committed`` or ``modified in the working tree`` (results depend on the working tree's file)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", path], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return "committed" if not out else f"modified in the working tree ({out[:2].strip()})"


def _dirty(path: str) -> list[str]:
    """Files under ``path`` whose working-tree state differs from HEAD (other engineers' work in progress
    that the simulated tunestack runs used)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", path], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["unknown"]
    return [line[3:] for line in out.splitlines() if line.strip()]


def data_info(benchmarks: list[str], surrogate: str = "et") -> dict:
    """Which tables were used: size and hash (the tables may grow while the generator runs)."""
    from benchmarks.mf.table import load_table

    out = {}
    for b in benchmarks:
        t = load_table(DATA / f"{b}.json.gz")
        out[b] = {"configs": int(t.n_configs), "budgets": [int(t.budgets[0]), int(t.budgets[-1])],
                  "sha256_16": hash_paths([DATA / f"{b}.json.gz"]),
                  "optimum": evaluator(b, surrogate).optimum}
    return out


def versions(optimizers: list[str]) -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version(), "numpy": version("numpy"), "ConfigSpace": version("ConfigSpace"),
           "scikit-learn": version("scikit-learn")}
    out.update({_PEER_DIST[o]: peer_version(o) for o in optimizers if o in PEERS})
    return out


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--optimizers", default="all", help=f"comma-separated, from {','.join(OPTIMIZERS)}")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    ap.add_argument("--seed-from", type=int, default=0,
                    help="first seed (default 0): --seed-from 10 --seeds 20 runs seeds 10..19 only, to add "
                         "seeds to an earlier results file with --add-to")
    ap.add_argument("--budget", type=float, default=100.0, help="full-evaluation equivalents per run (100)")
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="worker processes (at most 2)")
    ap.add_argument("--out", default=None, help="results file (default: the --replace-in file, else "
                                                 "results/one_worker.json)")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--surrogate", default="et", choices=SURROGATES,
                    help="the benchmarks' surrogate: et (extremely randomized trees, the reported one) or gp "
                         "(a Gaussian process, to check that a ranking does not hinge on a tree surrogate)")
    ap.add_argument("--add-to", default="",
                    help="an earlier results file: this run's runs (new seeds) are added to its runs, which are "
                         "all kept; written to --out, and the file's notes record it")
    ap.add_argument("--replace-in", default="",
                    help="an earlier results file: this run's optimizers replace their runs there, every "
                         "other run is kept, and the file's notes record it")
    return ap.parse_args(argv)


def replace_runs(path: Path, meta: dict, runs: list[dict], optimizers: list[str]) -> tuple[dict, list[dict]]:
    """The runs of ``path`` with those of ``optimizers`` replaced by ``runs``; its header, with a note
    saying what was rerun, when, on which commit and with which command."""
    old = json.loads(path.read_text())
    kept = [r for r in old["runs"] if r["optimizer"] not in optimizers]
    merged = sorted(kept + runs, key=lambda r: (r["benchmark"], r["optimizer"], r["seed"]))
    head = dict(old["meta"])
    head["notes"] = [*head.get("notes", []), (
        f"Rerun {meta['date']} (git {meta['git_commit']}, uncommitted tunestack files: "
        f"{meta['uncommitted_tunestack_files'] or 'none'}): {', '.join(optimizers)} with `{meta['command']}`; "
        f"their {len(runs)} runs replace the earlier ones, the other {len(kept)} runs are unchanged.")]
    return head, merged


def _run_key(r: dict) -> tuple:
    return r["benchmark"], r["optimizer"], r["seed"]


def refuse_overlap(path: Path, keys: set[tuple]) -> dict:
    """The results file at ``path``, if it has no run of ``keys`` (benchmark, optimizer, seed)."""
    old = json.loads(path.read_text())
    clash = {_run_key(r) for r in old["runs"]} & keys
    if clash:
        raise SystemExit(f"{path} already has runs of {sorted(clash)[:5]}: --add-to adds new seeds only")
    return old


def add_runs(path: Path, meta: dict, runs: list[dict]) -> tuple[dict, list[dict]]:
    """The runs of ``path`` and ``runs`` (which must not repeat any of them); its header, its seed count
    the union's, with the addition (command, commit, date, seeds, wall time, versions) in ``added`` and
    in its notes."""
    old = refuse_overlap(path, {_run_key(r) for r in runs})
    head = dict(old["meta"])
    head.setdefault("seeds_first", head["seeds"])
    head["seeds"] = len({r["seed"] for r in old["runs"] + runs})
    seeds = f"{meta['seed_from']}-{meta['seeds'] - 1}"
    head["added"] = [*head.get("added", []), {k: meta[k] for k in ("command", "git_commit", "date",
                                                                    "wall_s_this_invocation", "versions")}
                     | {"seeds": seeds}]
    head["notes"] = [*head.get("notes", []), (
        f"Added {meta['date']} (git {meta['git_commit']}, uncommitted tunestack files: "
        f"{meta['uncommitted_tunestack_files'] or 'none'}, versions {meta['versions']}): {len(runs)} runs of "
        f"seeds {seeds} with `{meta['command']}`; the {len(old['runs'])} earlier runs are unchanged.")]
    return head, sorted(old["runs"] + runs, key=_run_key)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(max(0, 10 - os.nice(0)))
    benchmarks = args.benchmarks.split(",")
    bad = [b for b in benchmarks if b not in BENCHMARKS + CHECK_BENCHMARKS]
    wanted = list(OPTIMIZERS) if args.optimizers == "all" else args.optimizers.split(",")
    bad += [o for o in wanted if o not in OPTIMIZERS]
    if bad:
        raise SystemExit(f"unknown benchmark(s)/optimizer(s) {bad}; benchmarks {list(BENCHMARKS + CHECK_BENCHMARKS)}, "
                         f"optimizers {list(OPTIMIZERS)}")
    optimizers, skipped = available(wanted)
    for o, why in skipped.items():
        print(f"skipping {o}: {why}", flush=True)
    t0 = time.perf_counter()
    if args.add_to and (args.replace_in or not args.out):
        raise SystemExit("--add-to needs --out (the earlier file is kept as it is), and not --replace-in")
    tasks = make_tasks(benchmarks, optimizers, args.seeds, args.budget, args.surrogate, args.seed_from)
    if args.add_to:  # before the runs: a clash would be found only after hours of them
        refuse_overlap(Path(args.add_to), {(t.benchmark, t.optimizer, t.seed) for t in tasks})
    runs, failed = execute(tasks, args.jobs)
    runs.sort(key=lambda r: (r["benchmark"], r["optimizer"], r["seed"]))
    stale = sorted({f"{r['optimizer']}/{r['benchmark']}" for r in runs
                    if r["fingerprint"] != fingerprint(Task(r["optimizer"], r["benchmark"], r["seed"], r["limit"],
                                                            args.surrogate))})
    if stale:
        print(f"WARNING: code or data of {stale} changed during this run; run the same command again", flush=True)
    meta = {
        "command": command_line(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": git_commit(), "seeds": args.seeds, "seed_from": args.seed_from, "budget": args.budget,
        "jobs": args.jobs,
        "wall_s_this_invocation": round(time.perf_counter() - t0, 1), "load": load_note(),
        "runs_from_cache": sum(bool(r.get("from_cache")) for r in runs),
        "compute_s": {"wall": round(sum(r["wall_s"] for r in runs), 1),
                      "cpu": round(sum(r["cpu_s"] for r in runs), 1)},
        "versions": versions(optimizers),
        "optimizers": optimizers, "skipped": skipped, "data": data_info(benchmarks, args.surrogate),
        "stale": stale, "surrogate": args.surrogate,
        "surrogate_code": _git_state("benchmarks/mf/surrogate.py"),
        "uncommitted_tunestack_files": _dirty("tunestack"),
        "uncommitted_harness_files": [f for f in _dirty("benchmarks/multifidelity") if f.endswith(".py")],
        "failed": [{k: f[k] for k in ("optimizer", "benchmark", "seed", "error")} for f in failed],
        "x": "budget consumed in full-evaluation equivalents: whole budgets trained / max_budget, a resumed "
             "or re-evaluated configuration charged only the increment",
        "trajectory_format": "improvements: [[budget consumed, best value at max_budget so far], ...] at each "
                             "strict improvement; regret = value - data[benchmark].optimum",
    }
    out = Path(args.out or args.replace_in or RESULTS / "one_worker.json")
    if args.replace_in:
        meta, runs = replace_runs(Path(args.replace_in), meta, runs, optimizers)
    elif args.add_to:
        meta, runs = add_runs(Path(args.add_to), meta, runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "runs": runs}, separators=(",", ":")))
    print(f"wrote {out} ({len(runs)} runs, {len(failed)} failed)")
    if not args.no_report:
        from benchmarks.multifidelity.report import write_report

        write_report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
