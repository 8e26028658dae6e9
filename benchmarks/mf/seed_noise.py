"""How much of a table is seed noise: retrain some configurations with a second seed.

    nice -n 10 python -m benchmarks.mf.seed_noise            # 40 configs of each benchmark's best half

The tables hold one training run per configuration, so part of the differences between good
configurations is the luck of the seed.  This script retrains ``--n`` configurations drawn (seeded)
from the best half of each table (final value <= median) with a second seed and reports

* the standard deviation of the final value between the two seeds (sd of the difference / sqrt 2);
* the Spearman correlation r of the final values of the two seeds over these configurations: how well
  one run ranks the best half against a rerun.  By the reliability bound of classical test theory, a
  predictor of the seed-averaged value correlates with one run at most about sqrt(r); that is the
  ceiling for the surrogate's held-out "best half" Spearman in ``surrogate_quality.py``.

Results go to ``benchmarks/mf/results/seed_noise.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.stats import spearmanr

from . import generate_gbm, generate_mlp_digits
from .table import DATA_DIR, load_table

RESULTS = Path(__file__).resolve().parent / "results"


def second_seed(sobol_seed: int, index: int) -> int:
    """A replicate seed of configuration ``index``, different from the table's ``config_seed``."""
    return int(np.random.SeedSequence([sobol_seed, index, 1]).generate_state(1)[0] % (2 ** 31 - 1))


def _runner(name: str) -> tuple[Callable[[dict, int], dict], int]:
    if name == "mlp_digits":
        import torch

        torch.set_num_threads(1)
        data = generate_mlp_digits.load_data()
        return (lambda c, s: generate_mlp_digits.train_curve(c, s, data)), generate_mlp_digits.SOBOL_SEED
    data = generate_gbm.load_data()
    return (lambda c, s: generate_gbm.fit_curve(c, s, data)), generate_gbm.SOBOL_SEED


def replicate(name: str, n: int, seed: int = 0) -> dict[str, Any]:
    table = load_table(DATA_DIR / f"{name}.json.gz")
    final = table.metrics["val_error"][:, -1]
    best = np.flatnonzero(final <= np.median(final))
    rows = np.sort(np.random.default_rng(seed).choice(best, size=min(n, len(best)), replace=False))
    run, sobol_seed = _runner(name)
    first, second = final[rows], []
    for k, r in enumerate(rows):
        index = int(table.meta["index"][r])
        second.append(run(table.configs[r], second_seed(sobol_seed, index))["val_error"][-1])
        print(f"{name} [{k + 1}/{len(rows)}] config {index}: {first[k]:.4f} -> {second[-1]:.4f}", flush=True)
    second_a = np.asarray(second)
    return {
        "benchmark": name, "n": int(len(rows)), "selection_seed": seed,
        "configs": [int(table.meta["index"][r]) for r in rows],
        "final_first_seed": first.tolist(), "final_second_seed": second_a.tolist(),
        "seed_sd": float(np.std(first - second_a, ddof=1) / np.sqrt(2)),
        "spread_sd_best_half": float(np.std(final[best])),
        "spearman_between_seeds": float(spearmanr(first, second_a).statistic),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", nargs="+", default=["mlp_digits", "gbm"], choices=["mlp_digits", "gbm"])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", default=str(RESULTS / "seed_noise.json"))
    args = ap.parse_args(argv)
    out = [replicate(name, args.n) for name in args.bench]
    for r in out:
        print(f"{r['benchmark']}: seed sd of final value {r['seed_sd']:.4f} (sd over the best half "
              f"{r['spread_sd_best_half']:.4f}); Spearman between two seeds over {r['n']} best-half configs "
              f"{r['spearman_between_seeds']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": "python -m benchmarks.mf.seed_noise", "rows": out},
                                         indent=1) + "\n")


if __name__ == "__main__":
    main()
