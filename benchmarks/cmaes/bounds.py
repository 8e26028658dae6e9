"""How should CMA-ES handle the bounds of the unit cube?  The comparison behind ``cma_core.repair``.

    nice -n 10 python -m benchmarks.cmaes.bounds          # in the project's .venv; writes results/bounds.md

Plain CMA-ES (``cma_core``, tutorial parameters, lambda = 4 + floor(3 ln n), sigma0 = 0.3, uniform
random x0, no restarts) on synthetic functions whose optimum lies in the centre, near a bound, on a bound
or in a corner (n = 2, 5, 10), and on the continuous benchmark problems.  Variants:

* ``mirror``: evaluate the periodic reflection T(x) into [0, 1], update with the raw Gaussian x;
* ``linquad``: the same with pycma's BoundTransform shape (quadratic within 0.05 of a bound);
* ``project``: evaluate the projection P(x), update with the raw x, mean projected back into the box;
* ``resample``: redraw up to 100 times until x is inside, then project; update with the evaluated point
  (what the ``cmaes`` library, and so Optuna, does);
* ``lamarck``: evaluate P(x) and update with it (``cma_core.repair``, the choice of ``cmaes``).

Median regret at 100 and 500 evaluations over 10 seeds.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from tunestack.searchers import cma_core as core

from .common import RESULTS, problems

Fn = Callable[[np.ndarray], float]


def _linquad(x: np.ndarray, al: float = 0.05) -> np.ndarray:
    x = -al + np.mod(x + al, 2 * (1 + 2 * al))
    x = np.where(x > 1 + al, 2 * (1 + al) - x, x)
    y = np.where(x < al, (x + al) ** 2 / (4 * al), x)
    return np.where(x > 1 - al, 1 - (x - 1 - al) ** 2 / (4 * al), y)


def _candidate(variant: str, st: core.CMAState, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the evaluated point, the step the update uses)."""
    y = core.sample_y(st, rng)
    x = st.point(y)
    if variant == "mirror":
        t = np.mod(x, 2.0)
        return np.where(t <= 1, t, 2 - t), y
    if variant == "linquad":
        return _linquad(x), y
    if variant == "project":
        return np.clip(x, 0, 1), y
    if variant == "resample":
        for _ in range(100):
            if np.all((0 <= x) & (x <= 1)):
                break
            x = st.point(core.sample_y(st, rng))
        u = np.clip(x, 0, 1)
        return u, (u - st.mean) / st.sigma
    if variant == "lamarck":
        return core.repair(st, x)
    raise ValueError(variant)


def run(variant: str, f: Fn, n: int, seed: int, budget: int = 500) -> list[float]:
    rng = np.random.default_rng(seed)
    st, p = core.new_state(rng.random(n), 0.3), core.make_params(n, core.default_popsize(n))
    values: list[float] = []
    while len(values) < budget:
        cands = [_candidate(variant, st, rng) for _ in range(p.lam)]
        fs = np.array([f(u) for u, _ in cands])
        values.extend(fs.tolist())
        ys = np.array([cands[i][1] for i in np.argsort(fs, kind="stable")])
        if not core.update(st, p, ys):
            break
        if variant == "project":
            st.mean = np.clip(st.mean, 0, 1)
    return values[:budget]


def functions() -> dict[str, tuple[int, Fn, float]]:
    out: dict[str, tuple[int, Fn, float]] = {}
    for n in (2, 5, 10):
        c = np.linspace(0.1, 0.9, n)
        h = n // 2 + 1
        out.update({
            f"sphere_centre{n}": (n, lambda u: float(np.sum((u - 0.5) ** 2)), 0.0),
            f"sphere_near_bound{n}": (n, lambda u: float(np.sum((u - 0.02) ** 2)), 0.0),
            f"sphere_corner{n}": (n, lambda u: float(np.sum(u ** 2)), 0.0),
            f"linear_corner{n}": (n, lambda u: float(np.sum(u)), 0.0),
            f"half_on_bound{n}": (n, lambda u, h=h: float(np.sum((u[:h] - 1) ** 2)
                                                          + np.sum((u[h:] - 0.6) ** 2)), 0.0),
            f"ellipsoid{n}": (n, lambda u, c=c, n=n: float(
                np.sum(10 ** (3 * np.arange(n) / max(1, n - 1)) * (u - c) ** 2)), 0.0),
            f"rastrigin{n}": (n, lambda u, n=n: float(
                10 * n + np.sum((5 * (u - 0.3)) ** 2 - 10 * np.cos(10 * np.pi * (u - 0.3)))), 0.0),
        })
    for name, prob in problems().items():
        hps = list(prob.space.values())

        def f(u: np.ndarray, prob=prob, hps=hps) -> float:
            return prob.fn({hp.name: hp.lower + (hp.upper - hp.lower) * float(x) for hp, x in zip(hps, u)})

        out[name] = (len(hps), f, prob.optimum)
    return out


VARIANTS = ("mirror", "linquad", "project", "resample", "lamarck")


def main() -> None:
    lines = ["Median regret after 100 / 500 evaluations, 10 seeds (plain CMA-ES, no restarts); "
             "`python -m benchmarks.cmaes.bounds`", "",
             "| function | " + " | ".join(VARIANTS) + " |", "|---|" + "---|" * len(VARIANTS)]
    wins = dict.fromkeys(VARIANTS, 0)
    for name, (n, f, opt) in functions().items():
        cells = []
        med500 = {}
        for v in VARIANTS:
            runs = [run(v, f, n, seed) for seed in range(10)]
            at = [np.median([min(r[:k]) - opt for r in runs]) for k in (100, 500)]
            med500[v] = at[1]
            cells.append(f"{at[0]:.2g} / {at[1]:.2g}")
        best = min(med500.values())
        for v in VARIANTS:
            wins[v] += med500[v] <= best * 1.5 + 1e-12
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "Within 1.5x of the best median at 500 evaluations: "
              + ", ".join(f"{v} {k}" for v, k in wins.items()) + f" (of {len(functions())})"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bounds.md").write_text("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
