"""Learning curves of a torch MLP on scikit-learn's digits, for >= 1000 configurations x 50 epochs.

Run (resumable; finished configs are appended to ``benchmarks/mf/_work/mlp_digits.jsonl``)::

    nice -n 10 python -m benchmarks.mf.generate_mlp_digits            # all 1024 configs, then pack
    nice -n 10 python -m benchmarks.mf.generate_mlp_digits --limit 10 --no-pack   # timing estimate

The configurations are a scrambled Sobol sample (seed ``SOBOL_SEED``) of :func:`config_space`; config
``i`` trains with torch seed ``config_seed(i)``.  Data: digits (1797 x 64), a stratified 2/3 : 1/3
train/validation split with ``random_state=0``, inputs standardized with the training statistics.
Every epoch records the validation error and loss, the mean training loss of its minibatches, and the
wall and CPU seconds of that epoch's training plus validation (one torch thread).
"""
from __future__ import annotations

import time
from typing import Any

import ConfigSpace as CS

from .table import generate, generator_main, index_seed, machine_info, sobol_configs

NAME = "mlp_digits"
N_CONFIGS = 1024
N_EPOCHS = 50
SOBOL_SEED = 20261121
DATA_SEED = 0
METRICS = ("val_error", "val_loss", "train_loss", "seconds", "cpu_seconds")
TIMING_NOTE = ("seconds: wall time of each step (training + validation); cpu_seconds: CPU time of the one "
               "training thread in that step. Measured on a shared 2-core machine whose load average "
               "reached ~18 during generation, so wall time is inflated ~2-5.5x by other jobs at random; "
               "cpu_seconds is the contention-free cost.")


def config_space() -> CS.ConfigurationSpace:
    """9 hyperparameters; ``momentum`` is active only when ``optimizer == "sgd"``."""
    cs = CS.ConfigurationSpace(name=NAME)
    optimizer = CS.Categorical("optimizer", ["sgd", "adam"], default="adam")
    momentum = CS.Float("momentum", (0.0, 0.99), default=0.9)
    cs.add([
        optimizer,
        CS.Float("lr", (1e-4, 0.5), log=True, default=1e-3),
        momentum,
        CS.OrdinalHyperparameter("batch_size", [16, 32, 64, 128], default_value=32),
        CS.Integer("width", (16, 256), log=True, default=64),
        CS.Integer("depth", (1, 3), default=2),
        CS.Float("dropout", (0.0, 0.5), default=0.1),
        CS.Float("weight_decay", (1e-6, 1e-2), log=True, default=1e-4),
        CS.Categorical("activation", ["relu", "tanh"], default="relu"),
    ])
    cs.add(CS.EqualsCondition(momentum, optimizer, "sgd"))
    return cs


def config_seed(index: int) -> int:
    """The torch seed of configuration ``index`` (a pure function of the index)."""
    return index_seed(SOBOL_SEED, index)


def design(n: int = N_CONFIGS) -> list[dict[str, Any]]:
    """The ``n`` configurations, in index order (scrambled Sobol through tunestack's encoding)."""
    return sobol_configs(config_space(), n, SOBOL_SEED)


def load_data() -> tuple[Any, Any, Any, Any]:
    """Standardized digits, stratified 2/3 train, 1/3 validation (fixed seed)."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=DATA_SEED)
    scaler = StandardScaler().fit(Xtr)
    f = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
    return f(Xtr), torch.tensor(ytr), f(Xva), torch.tensor(yva)


def build_model(config: dict[str, Any], n_in: int, n_out: int) -> Any:
    import torch.nn as nn

    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[config["activation"]]
    layers: list[Any] = []
    width_in = n_in
    for _ in range(int(config["depth"])):
        layers += [nn.Linear(width_in, int(config["width"])), act(), nn.Dropout(float(config["dropout"]))]
        width_in = int(config["width"])
    layers.append(nn.Linear(width_in, n_out))
    return nn.Sequential(*layers)


def make_optimizer(config: dict[str, Any], params: Any) -> Any:
    import torch

    if config["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=config["lr"], momentum=config["momentum"],
                               weight_decay=config["weight_decay"])
    return torch.optim.Adam(params, lr=config["lr"], weight_decay=config["weight_decay"])


def train_curve(config: dict[str, Any], seed: int, data: tuple, epochs: int = N_EPOCHS) -> dict[str, list]:
    """Train one configuration from scratch; per-epoch metrics and seconds."""
    import torch
    import torch.nn.functional as F

    Xtr, ytr, Xva, yva = data
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_model(config, Xtr.shape[1], int(ytr.max()) + 1)
    opt = make_optimizer(config, model.parameters())
    bs = int(config["batch_size"])
    out: dict[str, list] = {m: [] for m in METRICS}
    for _ in range(epochs):
        t0, c0 = time.perf_counter(), time.thread_time()
        model.train()
        perm = torch.randperm(len(ytr), generator=gen)
        total, n = 0.0, 0
        for start in range(0, len(perm), bs):
            idx = perm[start:start + bs]
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            val_loss = float(F.cross_entropy(logits, yva))
            val_err = float((logits.argmax(1) != yva).float().mean())
        out["seconds"].append(time.perf_counter() - t0)
        out["cpu_seconds"].append(time.thread_time() - c0)
        out["val_error"].append(val_err)
        out["val_loss"].append(val_loss)
        out["train_loss"].append(total / n)
    return out


def meta() -> dict[str, Any]:
    import torch

    from tunestack.space import SearchSpace

    return {
        "description": "torch MLP on sklearn digits; stratified 2/3 train 1/3 validation split "
                       f"(random_state={DATA_SEED}), standardized inputs; validation error per epoch",
        "budget": "epoch", "min_budget": 1, "max_budget": N_EPOCHS, "objective": "val_error",
        "cost": "cpu_seconds", "sobol_seed": SOBOL_SEED, "timing": TIMING_NOTE,
        "space": SearchSpace.from_configspace(config_space()).describe(),
        "machine": {**machine_info(torch=torch.__version__), "torch_threads": 1},
        "command": "nice -n 10 python -m benchmarks.mf.generate_mlp_digits",
    }


def run(limit: int | None, do_pack: bool, shard: tuple[int, int] = (0, 1)) -> None:
    import torch

    torch.set_num_threads(1)
    configs = design()
    data = load_data()
    work = lambda config, seed: train_curve(config, seed, data)  # noqa: E731
    generate(NAME, configs, config_seed, work, METRICS, range(1, N_EPOCHS + 1), meta, limit, do_pack, shard)


def main(argv: list[str] | None = None) -> None:
    generator_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
