"""Ray start-up, resources and concurrency: a local Ray, or joining a running cluster."""
from __future__ import annotations

import contextlib
import logging
import math
import os
from typing import Any, Iterator, Mapping

__all__ = ["ensure_ray", "refuse_ray_client", "trial_resources", "unplaceable", "default_concurrency",
           "quiet_ray", "pending_trials"]


_NO_CLIENT = ("tunestack's driver must run on a node of the cluster: it receives every result, drives the "
              "searcher and scheduler and writes MLflow, and under Ray Client the tuning loop would run "
              "on the cluster without it. Run the script on the head node with address='auto', or submit "
              "it there with Ray Jobs (ray[default]): "
              "`ray job submit --address http://<head>:8265 --working-dir . -- python train.py`")


def refuse_ray_client(address: str | None) -> None:
    """Raise a clear error for a Ray Client address, or when this process is a Ray Client."""
    from ray.util.client import ray as client_ray

    if (address or "").startswith("ray://") or client_ray.is_connected():
        raise ValueError(f"Ray Client (ray://) is not supported. {_NO_CLIENT}")


_STARTED_HERE: str | None = None  # the GCS address of the local Ray that ensure_ray started


def ensure_ray(address: str | None = None, **init_kwargs: Any) -> bool:
    """Use the running Ray, join ``address`` ("auto" or "host:6379"), or start a local one (the runner
    refuses a Ray Client address before, with :func:`refuse_ray_client`).  True when it started a local
    Ray (whose resources are all there will be: no autoscaler adds a node)."""
    import ray

    global _STARTED_HERE
    if ray.is_initialized():  # ours if a job of this driver started it (a later job in the same script)
        return _STARTED_HERE is not None and ray.get_runtime_context().gcs_address == _STARTED_HERE
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    kwargs.update(init_kwargs)
    if address:
        advice = "Start it with `ray start --head` on the head node, or leave address= unset to run locally."
        try:
            _probe(address)
            ray.init(address=address, **kwargs)
        except ConnectionError as e:
            raise ConnectionError(f"could not join the Ray cluster at {address!r}: {e}. {advice}") from None
        return False
    kwargs.setdefault("runtime_env", {"worker_process_setup_hook":
                                      "tunestack.platform.session.quiet_worker_logs"})
    # without an address a local Ray starts, unless RAY_ADDRESS names one (as `ray job submit` does);
    # plain ray.init() would also join whatever cluster /tmp/ray/ray_current_cluster last named
    joining = bool(os.environ.get("RAY_ADDRESS"))
    ray.init(address=None if joining else "local", **kwargs)
    _STARTED_HERE = None if joining else ray.get_runtime_context().gcs_address
    return not joining


def _probe(address: str, timeout: float = 10.0) -> None:
    """Raise ConnectionError if nothing answers at a ``host:port`` address: Ray itself retries such an
    address for minutes on end, printing a GCS warning every half minute (a typo in the port hung the
    job).  "auto" and other forms are left to Ray, which fails at once when it finds no cluster."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers there ({e})") from None


def trial_resources(resources: Mapping[str, Any]) -> dict[str, float]:
    """Ray's resource dict for one trial from ``{"cpu": 2, "gpu": 0.5, "custom": {...}}``."""
    out: dict[str, float] = {"cpu": float(resources.get("cpu", 1))}
    gpu = float(resources.get("gpu", 0) or 0)
    if out["cpu"] < 0:
        raise ValueError(f"resources['cpu'] must be >= 0, got {out['cpu']:g}")
    if gpu < 0 or (gpu > 1 and gpu != int(gpu)):
        raise ValueError(f"resources['gpu'] must be a fraction in (0, 1] or a whole number, got {gpu}")
    if gpu:
        out["gpu"] = gpu
    if resources.get("memory"):
        out["memory"] = float(resources["memory"])
    out.update({k: float(v) for k, v in dict(resources.get("custom") or {}).items()})
    if any(v < 0 for v in out.values()):
        raise ValueError(f"resources must be >= 0, got {resources}")
    if not any(out.values()):
        raise ValueError(f"a trial must ask for some resource, got {dict(resources)}: e.g. "
                         "{'cpu': 0.5} (fractions work)")
    return out


_RAY_KEYS = {"cpu": "CPU", "gpu": "GPU"}


def unplaceable(resources: Mapping[str, float]) -> str | None:
    """Why no live node of the Ray cluster can run one trial asking ``resources`` (a trial runs on one
    node), or None when some node can."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    need = {_RAY_KEYS.get(k, k): v for k, v in resources.items() if v}
    if any(all(node.get(k, 0) + 1e-9 >= v for k, v in need.items()) for node in nodes):
        return None
    have = [{k: node.get(k, 0) for k in need} for node in nodes]
    if len(have) > 3:
        have = sorted(have, key=lambda h: sum(h.values()), reverse=True)[:3]
    shown = lambda d: ", ".join(f"{k} {v:g}" for k, v in d.items())  # noqa: E731
    return (f"a trial asks for {shown(need)}, more than any node of this Ray cluster has ("
            + "; ".join(f"node: {shown(h)}" for h in have) + ")")


def default_concurrency(resources: Mapping[str, float]) -> int:
    """How many trials the cluster's resources can run at once (at least 1)."""
    import ray

    total = ray.cluster_resources()
    limits = []
    for key, ray_key in _RAY_KEYS.items():
        need = resources.get(key, 0)
        if need:
            limits.append(math.floor(total.get(ray_key, 0) / need + 1e-9))
    for key, need in resources.items():
        if key not in ("cpu", "gpu", "memory") and need:
            limits.append(math.floor(total.get(key, 0) / need + 1e-9))
    return max(1, min(limits) if limits else 1)


@contextlib.contextmanager
def quiet_ray() -> Iterator[None]:
    """Keep Ray Tune's own progress and error logs off the console while a job runs; tunestack prints
    its own summary with each failed trial's error (an infinite result: tensorboardX's "NaN or Inf found
    in input tensor", once per result)."""
    names = ["ray.tune", "ray.train", "ray.air", "ray.tune.execution.tune_controller", "tensorboardX"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    old = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the classic reporter, which verbose=0 silences fully
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)
        if old is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = old


@contextlib.contextmanager
def pending_trials(n: int) -> Iterator[None]:
    """Let Ray create up to ``n`` trials ahead (it allows one for custom searchers by default)."""
    key = "TUNE_MAX_PENDING_TRIALS_PG"
    old = os.environ.get(key)
    os.environ[key] = str(max(1, int(n)))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
