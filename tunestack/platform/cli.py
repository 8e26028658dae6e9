"""The ``tunestack`` command: ``tunestack run file.py:fn ...`` and ``tunestack ui``."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from typing import Any, Sequence

__all__ = ["main", "load_target"]

DEFAULT_STORE = "sqlite:///mlflow.db"  # MLflow's own default store, in the working directory


def load_target(target: str) -> Any:
    """The ``@tunable`` function named by ``path/to/file.py:function``."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise SystemExit(f"tunestack: expected path/to/file.py:function, got {target!r}")
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise SystemExit(f"tunestack: no such file {path!r}")
    mod_name = "tunestack_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(module)  # Ray workers cannot import the file by name
    fn = getattr(module, name, None)
    if fn is None:
        raise SystemExit(f"tunestack: {path} has no attribute {name!r}")
    if not hasattr(fn, "tune"):
        raise SystemExit(f"tunestack: {target} is not decorated with @tunestack.tunable(space=..., metric=...)")
    return fn


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunestack", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="tune a @tunable function on Ray",
                       description="Tune a @tunable function on Ray. An option not given takes the "
                                   "function's own default (given to @tunable), else tune()'s.")
    r.add_argument("target", help="path/to/file.py:function (decorated with @tunestack.tunable)")
    # an option not given is left out (SUPPRESS): the function's @tunable defaults, then tune()'s, apply
    opt = {"default": argparse.SUPPRESS}
    r.add_argument("--searcher", **opt, help="random | tpe | rfbo | cmaes (default: the scheduler preset's, "
                                              "else random)")
    r.add_argument("--scheduler", **opt, help="fifo | sh | asha | hyperband | async_hyperband | bohb | "
                                               "async_bohb | rf_hyperband | lce")
    r.add_argument("--num-samples", type=int, **opt,
                   help="trials to run (default 20); -1: new trials until --time-budget-s or a Ctrl-C")
    r.add_argument("--max-concurrent", type=int, **opt)
    r.add_argument("--cpus-per-trial", type=float, **opt, help="default 1")
    r.add_argument("--gpus-per-trial", type=float, **opt, help="default 0")
    r.add_argument("--address", **opt, help="join a running Ray cluster from one of its nodes: auto or "
                                             "host:6379")
    r.add_argument("--name", **opt)
    r.add_argument("--storage-path", **opt)
    r.add_argument("--seed", type=int, **opt)
    r.add_argument("--min-budget", type=float, **opt, help="default 1")
    r.add_argument("--max-budget", type=float, **opt,
                   help="the budget at which a trial is complete (a scheduler needs it)")
    r.add_argument("--eta", type=float, **opt, help="default 3")
    r.add_argument("--searcher-kwargs", type=_json_options, **opt, metavar="JSON",
                   help='searcher options, e.g. \'{"n_startup": 5}\'')
    r.add_argument("--scheduler-kwargs", type=_json_options, **opt, metavar="JSON",
                   help='scheduler options, e.g. \'{"promotion": false}\' (asha) or \'{"optimum": 100}\' (lce)')
    r.add_argument("--time-budget-s", type=float, **opt, help="stop the job after this many seconds")
    r.add_argument("--tracking-uri", **opt)
    r.add_argument("--no-tracking", action="store_true")
    r.add_argument("--resume", default=None, metavar="JOB_DIR", help="resume the job saved in JOB_DIR")
    u = sub.add_parser("ui", help="start the MLflow UI on the store in use and print its URL")
    u.add_argument("--tracking-uri", default=None)
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=_port, default=5000)
    return p


def _json_options(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object of options, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 1..65535, got {text!r}")
    return port


def store_in_use(uri: str | None) -> str:
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_STORE


def _run(args: argparse.Namespace) -> int:
    fn = load_target(args.target)
    given = vars(args)
    if args.resume:
        result = fn.resume(args.resume, address=given.get("address"))
    else:
        options = {k: given[k] for k in ("searcher", "scheduler", "num_samples", "max_concurrent", "address",
                                          "name", "storage_path", "seed", "min_budget", "max_budget", "eta",
                                          "searcher_kwargs", "scheduler_kwargs", "time_budget_s",
                                          "tracking_uri") if k in given}
        if "cpus_per_trial" in given or "gpus_per_trial" in given:  # else the function's own, or 1 CPU
            resources = dict(getattr(fn, "defaults", {}).get("resources") or {"cpu": 1})
            if "cpus_per_trial" in given:
                resources["cpu"] = given["cpus_per_trial"]
            if given.get("gpus_per_trial"):
                resources["gpu"] = given["gpus_per_trial"]
            options["resources"] = resources
        if args.no_tracking:
            options["tracking"] = False
        result = fn.tune(**options)
    return 0 if result.best_value is not None else 1


def _ui(args: argparse.Namespace) -> int:
    uri = store_in_use(args.tracking_uri)
    if uri.split("://", 1)[0].lower() in ("http", "https"):  # `mlflow ui` failed on it with a traceback
        print(f"tunestack: {uri} is an MLflow tracking server, which serves its own UI: open {uri} in a "
              "browser", flush=True)
        return 0
    url = f"http://{args.host}:{args.port}"
    print(f"MLflow UI for {uri} at {url} (Ctrl-C to stop)", flush=True)
    db = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else None
    if "://" not in uri or uri.startswith("file://"):  # a file store: a directory
        db = uri[len("file://"):] if uri.startswith("file://") else uri
    if db is not None and not os.path.exists(db):
        print(f"tunestack: note: there is no MLflow store at {os.path.abspath(db)} yet, so the UI will show no "
              f"jobs: run `tunestack ui` where the jobs ran, or pass --tracking-uri (a job's summary names "
              f"its store)", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host,
           "--port", str(args.port)]
    # a file store (./mlruns) named here is one to read: MLflow >= 3.7 refuses it without this setting
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": os.environ.get("MLFLOW_ALLOW_FILE_STORE", "true")}
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    from ..schedulers import SchedulerError
    from ..searchers import SearcherError
    from ..space import SpaceError
    from .runner import TuneError
    from .session import MetricError

    args = _parser().parse_args(argv)
    try:
        return _run(args) if args.command == "run" else _ui(args)
    except (SpaceError, SearcherError, SchedulerError, TuneError, MetricError, ConnectionError) as e:
        print(f"tunestack: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
