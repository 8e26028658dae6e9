"""Sequential asks must not change when the batch (pending-ask) code paths do.

Records, for every model-based searcher, the asks of sequential runs (ask, tell, ask, tell ...) on
several spaces and seeds, with failures and budget tells mixed in, as exact hex floats; ``--compare``
checks a new recording against a stored one bit for bit.  To compare with another commit, record with
that commit's package first on the path::

    git worktree add /tmp/ref HEAD~1
    PYTHONPATH=/tmp/ref .venv/bin/python benchmarks/searchers/sequential_check.py --out /tmp/ref_asks.json
    .venv/bin/python benchmarks/searchers/sequential_check.py --compare /tmp/ref_asks.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.append(str(ROOT))  # appended: a PYTHONPATH given first (another commit) wins for tunestack


def _cases() -> list[tuple[str, object, object, bool]]:
    """(name, space, objective, continuous) of the spaces checked."""
    from benchmarks.rfbo.dev_problems import DEV_PROBLEMS
    from benchmarks.searchers.problems import PROBLEMS
    from tests import spaces

    out = [(f"tests.{n}", getattr(spaces, n)(), spaces.objective, n == "continuous")
           for n in ("continuous", "mixed", "conditional")]
    for n in ("branin", "hartmann6", "rosenbrock10", "cond_synth"):
        p = PROBLEMS[n]
        out.append((n, p.space, p.fn, p.continuous))
    for n in ("hpo_mixed", "cond_tree"):
        p = DEV_PROBLEMS[n]
        out.append((f"dev.{n}", p.space, p.fn, p.continuous))
    return out


def record(searcher: str, space: object, fn, seed: int, n: int, budgets: bool) -> list[list[str]]:
    """Hex vectors of ``n`` sequential asks; every 7th tell a failure; with ``budgets``, tells at 1, 3, 9
    (a third of the trials stop at 3)."""
    from tunestack.searchers import create

    s = create(searcher, space, seed=seed)
    asks = []
    for i in range(n):
        sug = s.ask()
        asks.append([float(x).hex() for x in sug.vector])
        v = math.nan if i % 7 == 3 else float(fn(sug.config))
        if budgets:
            for b in (1, 3, 9):
                if not (i % 3 == 0 and b == 9):
                    s.tell(sug.id, v if not math.isfinite(v) else v * (1 + 1.0 / b), budget=b)
        else:
            s.tell(sug.id, v)
    return asks


def run_all(searchers: list[str], seeds: list[int], n: int) -> dict:
    out = {}
    for name, space, fn, continuous in _cases():
        for searcher in searchers:
            if searcher == "cmaes" and not continuous:
                continue
            for seed in seeds:
                for budgets in (False, True):
                    key = f"{searcher}|{name}|s{seed}|{'budgets' if budgets else 'final'}"
                    out[key] = record(searcher, space, fn, seed, n, budgets)
                    print(key, flush=True)
    return out


def asks_searchers(asks: dict) -> set[str]:
    return {k.split("|")[0] for k in asks}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--searchers", default="rfbo,tpe,cmaes")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", default=None, help="write the recording here")
    ap.add_argument("--compare", default=None, help="a stored recording to compare with, bit for bit")
    a = ap.parse_args()
    import tunestack

    print("tunestack from", Path(tunestack.__file__).parent, flush=True)
    asks = run_all(a.searchers.split(","), [int(s) for s in a.seeds.split(",")], a.n)
    if a.out:
        Path(a.out).write_text(json.dumps(asks))
    if a.compare:
        ref = json.loads(Path(a.compare).read_text())
        ref = {k: v for k, v in ref.items() if k.split("|")[0] in asks_searchers(asks)}
        bad = [k for k in ref if asks.get(k) != ref[k]]
        missing = [k for k in ref if k not in asks]
        print(f"{len(ref)} runs compared: {len(bad)} differ, {len(missing)} missing")
        for k in bad[:20]:
            i = next(j for j, (x, y) in enumerate(zip(asks[k], ref[k])) if x != y)
            print(f"  {k}: first difference at ask {i}")
        return 1 if bad or missing else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
