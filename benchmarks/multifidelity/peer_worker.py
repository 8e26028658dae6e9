"""Runs DEHB or HpBandSter's BOHB inside their own virtual environment (``.bench-venv-mf``: they pin
numpy 1.x) and asks the parent process for every evaluation over a pipe.

Standalone on purpose: it imports only the standard library, numpy, ConfigSpace and the peer, never
tunestack or the benchmark (which live in the parent).  Protocol, one JSON object per line:

* the parent starts ``python peer_worker.py '<json settings>'`` (optimizer, seed, space description of
  ``common.space_spec``, min_budget, max_budget, eta);
* the worker writes ``{"config": {...}, "budget": b}`` on its stdout; the parent answers
  ``{"value": v, "stop": bool}`` on the worker's stdin (``stop``: the budget is spent, finish now);
* the worker writes ``{"done": true, ...}`` when it stops.

Anything the peers print goes to stderr (the protocol owns the original stdout).
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings
from typing import Any

_PROTO_OUT = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
sys.stdout = sys.stderr  # peers' prints must not corrupt the protocol


class Stop(Exception):
    """The parent says the budget is spent."""


class Parent:
    def __init__(self) -> None:
        self.stopped = False
        self.n = 0

    def evaluate(self, config: dict, budget: float) -> float:
        if self.stopped:
            raise Stop()
        _PROTO_OUT.write(json.dumps({"config": _plain_config(config), "budget": float(budget)}) + "\n")
        line = sys.stdin.readline()
        if not line:
            raise Stop()
        msg = json.loads(line)
        self.n += 1
        self.stopped = bool(msg.get("stop"))
        v = msg["value"]
        return math.inf if v is None else float(v)

    def done(self, **info: Any) -> None:
        _PROTO_OUT.write(json.dumps({"done": True, **info}) + "\n")
        _PROTO_OUT.flush()


def _plain_config(config: Any) -> dict:
    out = {}
    for k, v in dict(config).items():
        if hasattr(v, "item"):
            v = v.item()
        out[str(k)] = v
    return out


def build_space(spec: dict, seed: int, ordinal_as_int: bool = False):
    """The ConfigSpace of ``spec`` with the long-standing constructor names (ConfigSpace 0.4 .. 1.x).
    ``ordinal_as_int``: an ordinal becomes an integer index into its sequence (HpBandSter's BOHB rejects
    ordinals and asks for exactly this); :func:`decode` maps the index back."""
    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    hps = {}
    for p in spec["params"]:
        t, name = p["type"], p["name"]
        if t == "float":
            hp = CS.UniformFloatHyperparameter(name, p["lower"], p["upper"], log=p["log"],
                                               default_value=p["default"])
        elif t == "int":
            hp = CS.UniformIntegerHyperparameter(name, p["lower"], p["upper"], log=p["log"],
                                                 default_value=p["default"])
        elif t == "categorical":
            hp = CS.CategoricalHyperparameter(name, p["choices"], default_value=p["default"])
        elif t == "ordinal" and ordinal_as_int:
            hp = CS.UniformIntegerHyperparameter(name, 0, len(p["sequence"]) - 1,
                                                 default_value=p["sequence"].index(p["default"]))
        elif t == "ordinal":
            hp = CS.OrdinalHyperparameter(name, p["sequence"], default_value=p["default"])
        else:
            raise ValueError(f"unknown parameter type {t!r} of {name!r}")
        hps[name] = hp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation of add_hyperparameters in ConfigSpace 1.x
        cs.add_hyperparameters(list(hps.values()))
        cs.add_conditions([CS.EqualsCondition(hps[c["child"]], hps[c["parent"]], c["value"])
                           for c in spec["conditions"]])
    return cs


def decode(spec: dict, config: dict, ordinal_as_int: bool) -> dict:
    """Plain values; ordinal indices back to their sequence values."""
    out = _plain_config(config)
    if ordinal_as_int:
        for p in spec["params"]:
            if p["type"] == "ordinal" and p["name"] in out:
                out[p["name"]] = p["sequence"][int(out[p["name"]])]
    return out


# ---- DEHB (Awad, Mallik, Hutter 2021) ---------------------------------------------------------------
def run_dehb(settings: dict, parent: Parent) -> dict:
    from dehb import DEHB

    cs = build_space(settings["space"], settings["seed"])
    with tempfile.TemporaryDirectory(prefix="dehb-") as tmp:
        opt = DEHB(f=None, cs=cs, dimensions=len(list(cs.values())), min_fidelity=settings["min_budget"],
                   max_fidelity=settings["max_budget"], eta=settings["eta"], n_workers=1,
                   output_path=tmp, seed=settings["seed"], log_level="ERROR", save_freq="end")
        while not parent.stopped:
            job = opt.ask()
            config = job["config"]
            if not hasattr(config, "keys"):  # a vector in DEHB's unit cube
                config = opt.vector_to_configspace(config)
            try:
                v = parent.evaluate(dict(config), job["fidelity"])
            except Stop:
                break
            opt.tell(job, {"fitness": v, "cost": float(job["fidelity"])})
    return {"n": parent.n}


# ---- HpBandSter's BOHB (Falkner, Klein, Hutter 2018) --------------------------------------------------
def run_hpbandster(settings: dict, parent: Parent) -> dict:
    import logging

    import numpy as np
    import hpbandster.core.nameserver as hpns
    from hpbandster.core.worker import Worker
    from hpbandster.optimizers import BOHB

    logging.getLogger("hpbandster").setLevel(logging.ERROR)
    np.random.seed(settings["seed"])  # HpBandSter draws from numpy's global generator (its own process)
    cs = build_space(settings["space"], settings["seed"], ordinal_as_int=True)

    class PipeWorker(Worker):
        def compute(self, config_id, config, budget, working_directory):  # noqa: ANN001 - its API
            try:
                return {"loss": parent.evaluate(decode(settings["space"], config, True), budget), "info": {}}
            except Stop:
                return {"loss": float("inf"), "info": {"stopped": True}}

    run_id = f"mf-{os.getpid()}"
    ns = hpns.NameServer(run_id=run_id, host="127.0.0.1", port=0)
    host, port = ns.start()
    worker = PipeWorker(nameserver=host, nameserver_port=port, run_id=run_id)
    worker.run(background=True)
    bohb = BOHB(configspace=cs, run_id=run_id, nameserver=host, nameserver_port=port,
                min_budget=settings["min_budget"], max_budget=settings["max_budget"], eta=settings["eta"])
    try:
        iterations = 0
        while not parent.stopped:  # one Hyperband iteration at a time, until the parent says stop
            iterations += 1
            bohb.run(n_iterations=iterations)
    finally:
        bohb.shutdown(shutdown_workers=True)
        ns.shutdown()
    return {"n": parent.n, "iterations": iterations}


# ---- a protocol probe for the harness's tests (no peer package needed) -------------------------------
def run_probe(settings: dict, parent: Parent) -> dict:
    """Random configurations at min_budget, then the same at max_budget, until the parent says stop."""
    cs = build_space(settings["space"], settings["seed"], ordinal_as_int=True)
    while not parent.stopped:
        config = decode(settings["space"], dict(cs.sample_configuration()), True)
        try:
            for budget in (settings["min_budget"], settings["max_budget"]):
                parent.evaluate(config, budget)
        except Stop:
            break
    return {"n": parent.n}


RUNNERS = {"dehb": run_dehb, "hpbandster_bohb": run_hpbandster, "probe": run_probe}


def main() -> int:
    settings = json.loads(sys.argv[1])
    parent = Parent()
    try:
        info = RUNNERS[settings["optimizer"]](settings, parent)
        parent.done(**info)
    except BaseException:  # noqa: BLE001 - HpBandSter's non-daemon threads would keep a dead run alive
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stderr.flush()
    os._exit(0)  # same reason: do not wait for lingering threads once the parent has the result


if __name__ == "__main__":
    raise SystemExit(main())
