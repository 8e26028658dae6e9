"""Tune a torch MLP on scikit-learn's digits with Ray Tune, every trial tracked in MLflow.

    python examples/digits_mlp.py            # what `make demo` runs
    tunestack run examples/digits_mlp.py:train --searcher tpe --scheduler asha --max-budget 20

The training function is ordinary torch code; ``ts.report`` sends each epoch's validation loss (and a
checkpoint, so the scheduler can pause a trial and resume it later), ``ts.load_checkpoint`` resumes.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from ray import tune
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import tunestack as ts

SPACE = {
    "lr": tune.loguniform(1e-4, 3e-1),
    "optimizer": tune.choice(["adam", "sgd"]),
    "width": tune.lograndint(16, 257),
    "depth": tune.randint(1, 4),
    "dropout": tune.uniform(0.0, 0.5),
    "batch_size": tune.choice([32, 64, 128]),
    "epochs": 20,
}


def load_data(seed: int = 0) -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    return torch.from_numpy(x_tr), torch.from_numpy(y_tr), torch.from_numpy(x_va), torch.from_numpy(y_va)


def build(config: dict) -> nn.Module:
    layers: list[nn.Module] = []
    width_in = 64
    for _ in range(config["depth"]):
        layers += [nn.Linear(width_in, config["width"]), nn.ReLU(), nn.Dropout(config["dropout"])]
        width_in = config["width"]
    layers.append(nn.Linear(width_in, 10))
    return nn.Sequential(*layers)


@ts.tunable(space=SPACE, metric="val_loss", mode="min")
def train(config: dict) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_tr, y_tr, x_va, y_va = load_data()
    model = build(config)
    opt_cls = torch.optim.Adam if config["optimizer"] == "adam" else torch.optim.SGD
    kwargs = {"momentum": 0.9} if config["optimizer"] == "sgd" else {}
    optimizer = opt_cls(model.parameters(), lr=config["lr"], **kwargs)
    gen = torch.Generator().manual_seed(1)  # the order of the training examples
    start = 0
    if (ckpt := ts.load_checkpoint()) is not None:  # resumed after a pause or a driver restart
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if "shuffle_rng" in ckpt:  # the random states too (older checkpoints of this example have none),
            gen.set_state(ckpt["shuffle_rng"])  # so that a paused and resumed trial trains exactly as
            torch.set_rng_state(ckpt["torch_rng"])  # one that never paused (shuffling, dropout)
        start = ckpt["epoch"] + 1
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
        ts.report(val_loss=val_loss, val_acc=val_acc,
                  checkpoint={"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                              "shuffle_rng": gen.get_state(), "torch_rng": torch.get_rng_state()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--searcher", default="tpe")
    p.add_argument("--scheduler", default="asha")
    p.add_argument("--num-samples", type=int, default=24)
    p.add_argument("--max-budget", type=float, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage-path", default=None)
    args = p.parse_args()
    result = train.tune(searcher=args.searcher, scheduler=args.scheduler, num_samples=args.num_samples,
                        max_budget=args.max_budget, seed=args.seed, name="digits-mlp",
                        storage_path=args.storage_path)
    print(f"best validation loss {result.best_value:.4f} with {result.best_config}")


if __name__ == "__main__":
    main()
