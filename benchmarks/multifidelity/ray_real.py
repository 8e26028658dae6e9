"""On Ray for real: the digits MLP example (``examples/digits_mlp.py``, function ``train``) tuned by
tunestack's ``bohb`` and ``asha`` through ``train.tune(...)`` (trials paused and resumed from their
checkpoints), in the same run as Ray Tune's own ``HyperBandForBOHB`` + ``TuneBOHB`` and ``ASHAScheduler``
(plain ``tune.Tuner``, ``reuse_actors=True``) on a Ray-native twin of the same training function.

Same search space (the example's ``SPACE``), same max epochs (its ``epochs`` = 20), eta = 3, same number
of trials and concurrency, one CPU and one torch thread per trial.  Measured per run: wall time of the
tuning call, epochs trained (every report is one epoch), the best of the trials' last reported
validation losses (Ray's ``get_best_result(scope="last")``) with that trial's epochs and validation
accuracy, and the best validation loss among trials that reached the last epoch, from the trials'
``result.json`` files (the same files for every method).  tunestack runs with ``tracking=False`` (Ray's runs log nothing to
MLflow either).

``TuneBOHB`` needs ``hpbandster`` (and ConfigSpace) beside Ray: run this script in
``.bench-venv-raybohb`` (``setup_peers.sh --ray``: a venv layered on the project's ``.venv`` with
hpbandster added).  Where hpbandster does not import, Ray's BOHB arm falls back to ``HyperBandForBOHB``
+ random search and says so (method ``ray_hb_random``).  Run it last, on a quiet machine::

    .bench-venv-raybohb/bin/python benchmarks/multifidelity/ray_real.py --seeds 3
"""
from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(ROOT / "examples")):
    if p not in sys.path:
        sys.path.insert(0, p)

RESULTS = HERE / "results"
METHODS = ("ts_bohb", "ts_asha", "ray_bohb", "ray_asha")
ETA = 3


# ---- the Ray-native twin of examples/digits_mlp.py:train (same data, model, loop; Ray's checkpoints) ----
def ray_train(config: dict) -> None:
    import torch
    from ray import tune
    from torch import nn

    import digits_mlp as ex

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_tr, y_tr, x_va, y_va = ex.load_data()
    model = ex.build(config)
    opt_cls = torch.optim.Adam if config["optimizer"] == "adam" else torch.optim.SGD
    kwargs = {"momentum": 0.9} if config["optimizer"] == "sgd" else {}
    optimizer = opt_cls(model.parameters(), lr=config["lr"], **kwargs)
    gen = torch.Generator().manual_seed(1)
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:  # resumed after a pause (HyperBandForBOHB pauses trials)
        with ckpt.as_directory() as d:
            state = torch.load(os.path.join(d, "state.pt"))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        start = state["epoch"] + 1
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start, config["epochs"]):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(order), config["batch_size"]):
            idx = order[i:i + config["batch_size"]]
            optimizer.zero_grad()
            loss_fn(model(x_tr[idx]), y_tr[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_va)
            val_loss = loss_fn(logits, y_va).item()
            val_acc = (logits.argmax(1) == y_va).float().mean().item()
        with tempfile.TemporaryDirectory() as d:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "shuffle_rng": gen.get_state(), "torch_rng": torch.get_rng_state()},
                       os.path.join(d, "state.pt"))
            tune.report({"val_loss": val_loss, "val_acc": val_acc}, checkpoint=tune.Checkpoint.from_directory(d))


# ---- one run ---------------------------------------------------------------------------------------
def run_tunestack(method: str, seed: int, args: argparse.Namespace, storage: str, name: str) -> None:
    import digits_mlp as ex

    ex.train.tune(scheduler=method.removeprefix("ts_"), num_samples=args.num_samples,
                  max_concurrent=args.concurrency, max_budget=args.max_epochs, min_budget=1, eta=ETA,
                  seed=seed, name=name, storage_path=storage, tracking=False, reuse_actors=True, verbose=0)


def bohb_search(seed: int) -> tuple[object | None, str]:
    try:
        from ray.tune.search.bohb import TuneBOHB

        import hpbandster  # noqa: F401 - TuneBOHB imports it lazily
        return TuneBOHB(seed=seed), "ray_bohb"
    except ImportError as e:
        print(f"TuneBOHB unavailable here ({e}): HyperBandForBOHB + random search instead", flush=True)
        return None, "ray_hb_random"


def run_ray(method: str, seed: int, args: argparse.Namespace, storage: str, name: str) -> str:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, HyperBandForBOHB
    from ray.tune.search.basic_variant import BasicVariantGenerator

    import digits_mlp as ex

    label = method
    if method == "ray_bohb":
        search, label = bohb_search(seed)
        search = search or BasicVariantGenerator(random_state=seed)
        sched = HyperBandForBOHB(time_attr="training_iteration", max_t=args.max_epochs, reduction_factor=ETA)
    else:
        search = BasicVariantGenerator(random_state=seed)
        sched = ASHAScheduler(time_attr="training_iteration", max_t=args.max_epochs, grace_period=1,
                              reduction_factor=ETA)
    tuner = tune.Tuner(
        tune.with_resources(ray_train, {"cpu": 1}), param_space=dict(ex.SPACE, epochs=args.max_epochs),
        tune_config=tune.TuneConfig(metric="val_loss", mode="min", num_samples=args.num_samples,
                                    search_alg=search, scheduler=sched, max_concurrent_trials=args.concurrency,
                                    reuse_actors=True),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
    tuner.fit()
    return label


def summarize(exp_dir: str, max_epochs: int) -> dict:
    """From every trial's result.json: epochs trained; the best of the trials' last reports (what Ray's
    ``get_best_result(scope="last")`` returns), its epochs and accuracy; and the best val_loss among
    trials that reached ``max_epochs`` (the table's measure until 2026-12-07: Ray's Hyperband rounds its
    rungs down, 2 / 6 / 18 epochs for max_t = 20, so its promoted trials end at 18 and only its top
    bracket's trials counted there)."""
    reports, best, final, trials = 0, None, None, 0
    for path in glob.glob(os.path.join(exp_dir, "*", "result.json")):
        trials += 1
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        reports += len(rows)
        for r in rows:
            if int(r.get("training_iteration", 0)) >= max_epochs and r.get("val_loss") is not None:
                if best is None or r["val_loss"] < best["val_loss"]:
                    best = {"val_loss": float(r["val_loss"]), "val_acc": float(r["val_acc"])}
        last = max((r for r in rows if r.get("val_loss") is not None),
                   key=lambda r: int(r.get("training_iteration", 0)), default=None)
        if last is not None and (final is None or last["val_loss"] < final["val_loss"]):
            final = {"val_loss": float(last["val_loss"]), "val_acc": float(last["val_acc"]),
                     "epochs": int(last.get("training_iteration", 0))}
    return {"trials": trials, "epochs_trained": reports,
            "best_final_loss": final["val_loss"] if final else None,
            "best_final_acc": final["val_acc"] if final else None,
            "best_final_epochs": final["epochs"] if final else None,
            "best_val_loss": best["val_loss"] if best else None, "val_acc": best["val_acc"] if best else None}


def one_run(method: str, seed: int, args: argparse.Namespace) -> dict:
    storage = tempfile.mkdtemp(prefix="mf-ray-real-")
    name = f"{method}-s{seed}"
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    label = method
    if method.startswith("ts_"):
        run_tunestack(method, seed, args, storage, name)
    else:
        label = run_ray(method, seed, args, storage, name)
    wall = time.perf_counter() - t0
    rec = {"method": label, "seed": seed, "wall_s": round(wall, 2), **summarize(os.path.join(storage, name),
                                                                                args.max_epochs),
           "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()]}
    shutil.rmtree(storage, ignore_errors=True)
    return rec


def markdown(meta: dict, runs: list[dict]) -> str:
    import numpy as np

    lines = ["# On Ray for real: digits MLP, tunestack vs Ray Tune's own schedulers\n",
             f"Command: `{meta['command']}` ({meta['date']}, git {meta['git_commit']}); {meta['num_samples']} "
             f"trials, max {meta['max_epochs']} epochs, eta 3, {meta['concurrency']} concurrent trials (1 CPU, "
             f"1 torch thread each), `reuse_actors=True`, {meta['seeds']} seeds.  Load average (1 min) before "
             f"the runs: {meta['load_start']}; range over the runs: {meta['load_range']}.  "
             f"Ray {meta['ray']}, hpbandster {meta['hpbandster']}.\n",
             "| method | wall time (s) | best final val loss | its epochs | its val accuracy | best val loss "
             f"at epoch {meta['max_epochs']} | epochs trained | seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for m in dict.fromkeys(r["method"] for r in runs):
        rs = [r for r in runs if r["method"] == m]

        def med(key: str, nd: int = 4) -> str:
            vals = [r[key] for r in rs if r[key] is not None]
            if not vals:
                return "-"
            return f"{np.median(vals):.{nd}g} ({min(vals):.{nd}g}-{max(vals):.{nd}g})"

        lines.append(f"| {m} | {med('wall_s', 3)} | {med('best_final_loss')} | {med('best_final_epochs', 3)} | "
                     f"{med('best_final_acc')} | {med('best_val_loss')} | {med('epochs_trained', 3)} | {len(rs)} |")
    lines.append("\nMedian (min-max) over seeds.  Best final val loss: the best of the trials' last reports "
                 "(Ray's `get_best_result(scope=\"last\")`); best at the last epoch: among trials that reached "
                 f"epoch {meta['max_epochs']} (Ray's Hyperband ends its promoted trials at 18 of 20 epochs, its "
                 "rungs rounded down to 2 / 6 / 18).  `ray_bohb` = HyperBandForBOHB + TuneBOHB; `ray_hb_random` "
                 "(only where hpbandster could not be imported) = HyperBandForBOHB + random search.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-list", default=None,
                    help="comma-separated seeds to run instead of 0 .. seeds-1 (e.g. a repeatability check)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--num-samples", type=int, default=27)
    ap.add_argument("--max-epochs", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "ray_real.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import ray

    from benchmarks.multifidelity.run import command_line, git_commit

    load_start = os.getloadavg()[0]
    print(f"load average before: {os.getloadavg()}", flush=True)
    # Ray's workers import the example (and this module's helpers) from the same places
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "examples"),
                                                os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    ray.init(num_cpus=args.concurrency, include_dashboard=False, log_to_driver=False)
    methods, runs = args.methods.split(","), []
    out = Path(args.out)
    partial = out.with_suffix(".partial.json")
    done = json.loads(partial.read_text()) if partial.exists() else []  # resume after an interruption
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    for seed in seeds:
        for m in methods:  # interleaved, so that a change of machine load hits every method alike
            prev = [r for r in done if r["seed"] == seed and r.get("arm") == m
                    and r.get("settings") == [args.num_samples, args.max_epochs, args.concurrency]]
            rec = prev[0] if prev else one_run(m, seed, args)
            rec.update(arm=m, settings=[args.num_samples, args.max_epochs, args.concurrency])
            runs.append(rec)
            if not prev:
                done.append(rec)
                partial.write_text(json.dumps(done))
            print(json.dumps(rec), flush=True)
    ray.shutdown()
    from importlib.metadata import PackageNotFoundError, version

    def ver(d: str) -> str:
        try:
            return version(d)
        except PackageNotFoundError:
            return "absent"

    loads = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
    meta = {"command": command_line(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "git_commit": git_commit(), "seeds": len(seeds), "num_samples": args.num_samples,
            "max_epochs": args.max_epochs, "concurrency": args.concurrency, "load_start": round(load_start, 2),
            "load_range": [round(min(loads), 2), round(max(loads), 2)], "ray": ver("ray"),
            "hpbandster": ver("hpbandster")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    out.with_suffix(".md").write_text(markdown(meta, runs))
    partial.unlink(missing_ok=True)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
