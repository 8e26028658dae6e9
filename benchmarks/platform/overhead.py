"""Per-trial overhead of tunestack on Ray against plain Ray Tune, in the same run.

100 trivial trials through ``fn.tune(searcher="random")`` with MLflow tracking on (a fresh SQLite store
and a warm one; and with a newly started MLflow writer process, as a driver's first tracked job has:
later jobs reuse it), against plain ``tune.Tuner`` with ``reuse_actors=True`` and no tracking, and against
plain Ray Tune with its default settings (``reuse_actors=False``).  Each variant runs ``--repeats``
times, interleaved, on one local Ray started once; the median wall time of each is reported.

    python -m benchmarks.platform.overhead --trials 100 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import ray
from ray import tune

import tunestack as ts
from tunestack.platform.tracking import stop_idle_writers


def trivial(config: dict) -> None:
    ts.report(loss=(config["x"] - 0.3) ** 2)


def plain_trivial(config: dict) -> None:
    tune.report({"loss": (config["x"] - 0.3) ** 2})


SPACE = {"x": tune.uniform(0.0, 1.0)}


def run_tunestack(n: int, work: str, uri: str | None) -> float:
    fn = ts.tunable(space=SPACE, metric="loss")(trivial)
    t0 = time.perf_counter()
    result = fn.tune(searcher="random", num_samples=n, seed=0, storage_path=work, tracking=uri is not None,
                     tracking_uri=uri, verbose=0)
    elapsed = time.perf_counter() - t0
    assert len(result.table) == n and (result.table["status"] == "completed").all()
    return elapsed


def run_plain(n: int, work: str, reuse: bool) -> float:
    t0 = time.perf_counter()
    tuner = tune.Tuner(plain_trivial, param_space=SPACE,
                       tune_config=tune.TuneConfig(num_samples=n, metric="loss", mode="min", reuse_actors=reuse),
                       run_config=tune.RunConfig(storage_path=work, verbose=0))
    grid = tuner.fit()
    elapsed = time.perf_counter() - t0
    assert len(grid) == n
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--skip-default", action="store_true", help="skip plain Ray with reuse_actors=False")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    work = tempfile.mkdtemp(prefix="tunestack-overhead-")
    warm_uri = f"sqlite:///{work}/warm.db"
    run_tunestack(5, work, warm_uri)  # creates the warm store (MLflow's schema migrations)
    times: dict[str, list[float]] = {k: [] for k in
                                     ("plain_reuse", "tunestack_mlflow_warm", "tunestack_mlflow_fresh",
                                      "tunestack_mlflow_new_writer", "tunestack_no_tracking", "plain_default")}
    for r in range(args.repeats):
        times["plain_reuse"].append(run_plain(args.trials, work, reuse=True))
        times["tunestack_mlflow_warm"].append(run_tunestack(args.trials, work, warm_uri))
        times["tunestack_mlflow_fresh"].append(run_tunestack(args.trials, work, f"sqlite:///{work}/fresh{r}.db"))
        stop_idle_writers(timeout=30)  # the next job starts its own writer, as a driver's first job does
        times["tunestack_mlflow_new_writer"].append(run_tunestack(args.trials, work, warm_uri))
        times["tunestack_no_tracking"].append(run_tunestack(args.trials, work, None))
        if not args.skip_default and r == 0:
            times["plain_default"].append(run_plain(args.trials, work, reuse=False))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    load = os.getloadavg()
    print(f"{args.trials} trivial trials, {args.cpus} Ray CPUs, load average {load[0]:.1f}; median wall seconds "
          f"over {args.repeats} repeats (plain default: 1 run)")
    for k, v in med.items():
        print(f"  {k:26s} {v:7.2f} s   runs: {', '.join(f'{x:.2f}' for x in times[k])}")
    base = med["plain_reuse"]
    for k in ("tunestack_mlflow_warm", "tunestack_mlflow_fresh", "tunestack_mlflow_new_writer",
              "tunestack_no_tracking"):
        print(f"  ratio {k} / plain_reuse = {med[k] / base:.2f}")
    if "plain_default" in med:
        print(f"  ratio tunestack_mlflow_warm / plain_default = {med['tunestack_mlflow_warm'] / med['plain_default']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"trials": args.trials, "cpus": args.cpus, "load": load, "times": times, "median": med}, f,
                      indent=1)


if __name__ == "__main__":
    main()
