"""Time of one ``ask`` (and one ``tell``) of ``cmaes`` after 1,000 tells in 10 dimensions.

    python -m benchmarks.cmaes.speed       # in the project's .venv; prints median / mean / p95 in ms

The tells of the warm-up include the per-generation update (eigendecomposition); the timed asks do not
complete a generation, the timed tells do (about one in ten), so their mean includes the update.
"""
from __future__ import annotations

import time

import ConfigSpace as CS
import numpy as np

from tunestack.searchers import create


def main(n: int = 10, warmup: int = 1000, reps: int = 500) -> None:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(n)])
    s = create("cmaes", cs, seed=0)

    def f(c: dict) -> float:
        return float(sum(10 ** (3 * i / (n - 1)) * (c[f"x{i}"] - 0.3) ** 2 for i in range(n)))

    for _ in range(warmup):
        sug = s.ask()
        s.tell(sug.id, f(sug.config))
    asks, tells, cpu = [], [], 0.0
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        sug = s.ask()
        t1, c1 = time.perf_counter(), time.process_time()
        s.tell(sug.id, f(sug.config))
        t2 = time.perf_counter()
        asks.append(t1 - t0)
        tells.append(t2 - t1)
        cpu += c1 - c0
    for name, ts in (("ask", asks), ("tell", tells)):
        ms = np.array(ts) * 1e3
        print(f"{name}: median {np.median(ms):.3f} ms, mean {ms.mean():.3f} ms, "
              f"p95 {np.percentile(ms, 95):.3f} ms ({reps} calls after {warmup} tells, n={n})")
    print(f"ask: mean CPU time {cpu / reps * 1e3:.3f} ms (not counting time the process waited for a core)")


if __name__ == "__main__":
    main()
