"""Storage of learning-curve tables: a resumable work log while generating, one gzip JSON when done.

While a generator runs, every finished configuration is appended as one JSON line to a work log under
``benchmarks/mf/_work/`` (ignored by git), so an interrupted run skips what is done.  ``pack`` turns
the log into the committed table ``benchmarks/mf/data/<name>.json.gz``: column-wise JSON (one list of
curves per metric), values rounded to a few significant digits, non-finite values stored as ``null``.
``load_table`` reads it back as numpy arrays (``null`` -> ``nan``).
"""
from __future__ import annotations

import gzip
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = ["DATA_DIR", "WORK_DIR", "Table", "WorkLog", "round_sig", "pack", "load_table", "work_records",
           "run_generation", "index_seed", "sobol_configs", "generate", "generator_main", "machine_info"]

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
WORK_DIR = HERE / "_work"
FORMAT_VERSION = 1


def round_sig(values: Iterable[float], digits: int = 4) -> list[float | None]:
    """Values rounded to ``digits`` significant digits; nan/inf/None become ``None`` (JSON ``null``)."""
    out: list[float | None] = []
    for v in values:
        v = math.nan if v is None else float(v)
        if not math.isfinite(v):
            out.append(None)
        elif v == 0.0:
            out.append(0.0)
        else:
            out.append(float(f"{v:.{digits - 1}e}"))
    return out


class WorkLog:
    """An append-only JSON-lines log of finished configurations (one record per line)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open() as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut short by a kill: that config is redone
                    continue
        return out

    def done(self) -> set[int]:
        return {int(r["index"]) for r in self.records()}

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_finite_or_null(record), allow_nan=False)
        with self.path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def _finite_or_null(obj: Any) -> Any:
    """nan/inf floats (a diverged training loss) as ``None``, so the log stays strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


@dataclass
class Table:
    """A learning-curve table: ``configs[i]`` has ``metrics[m][i, b - 1]`` at budget ``b``."""

    name: str
    configs: list[dict[str, Any]]
    metrics: dict[str, np.ndarray]
    budgets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_configs(self) -> int:
        return len(self.configs)

    @property
    def n_budgets(self) -> int:
        return len(self.budgets)


def pack(name: str, records: Sequence[dict[str, Any]], metric_names: Sequence[str],
         budgets: Sequence[int], meta: dict[str, Any], out_path: Path | str,
         digits: dict[str, int] | None = None) -> Path:
    """Write the records of a work log (sorted by index) as one gzip JSON table."""
    recs = sorted(records, key=lambda r: int(r["index"]))
    idx = [int(r["index"]) for r in recs]
    if len(set(idx)) != len(idx):
        raise ValueError(f"{name}: duplicate config indices in the work log")
    digits = digits or {}
    doc = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "budgets": [int(b) for b in budgets],
        "meta": meta,
        "index": idx,
        "seeds": [int(r["seed"]) for r in recs],
        "configs": [r["config"] for r in recs],
        "metrics": {m: [round_sig(r[m], digits.get(m, 4)) for r in recs] for m in metric_names},
    }
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", compresslevel=9) as f:
        json.dump(doc, f, allow_nan=False, separators=(",", ":"))
    return out


def load_table(path: Path | str) -> Table:
    """Read a table written by :func:`pack`."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"benchmark table {p} not found; run the generator that writes it "
                                "(see benchmarks/mf/README.md)")
    with gzip.open(p, "rt") as f:
        doc = json.load(f)
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{p}: unsupported table format {doc.get('format_version')!r}")
    metrics = {m: np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
               for m, rows in doc["metrics"].items()}
    meta = dict(doc["meta"])
    meta["index"] = doc["index"]
    meta["seeds"] = doc["seeds"]
    return Table(doc["name"], doc["configs"], metrics, np.asarray(doc["budgets"], dtype=int), meta)


def work_records(name: str, work_dir: Path = WORK_DIR) -> list[dict[str, Any]]:
    """Records of all work logs of a table (``<name>.jsonl`` and shards ``<name>.<k>of<n>.jsonl``)."""
    seen: dict[int, dict[str, Any]] = {}
    for path in sorted(work_dir.glob(f"{name}.jsonl")) + sorted(work_dir.glob(f"{name}.*of*.jsonl")):
        for r in WorkLog(path).records():
            seen.setdefault(int(r["index"]), r)
    return list(seen.values())


def run_generation(name: str, configs: Sequence[dict[str, Any]], seed_of: Callable[[int], int],
                   work: Callable[[dict[str, Any], int], dict[str, list]], limit: int | None = None,
                   shard: tuple[int, int] = (0, 1)) -> list[dict[str, Any]]:
    """Run ``work(config, seed)`` for the configs not done yet (of shard ``k`` of ``n``: index % n == k),
    appending each result to this shard's work log; return all records done so far."""
    k, n = shard
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: need 0 <= k < n")
    log = WorkLog(WORK_DIR / (f"{name}.jsonl" if n == 1 else f"{name}.{k}of{n}.jsonl"))
    done = {int(r["index"]) for r in work_records(name)}
    todo = [i for i in range(len(configs)) if i % n == k and i not in done][:limit]
    t_start = time.perf_counter()
    for j, i in enumerate(todo):
        t0 = time.perf_counter()
        curves = work(configs[i], seed_of(i))
        log.append({"index": i, "seed": seed_of(i), "config": configs[i], **curves})
        print(f"[{j + 1}/{len(todo)}] config {i}: final val_error {curves['val_error'][-1]:.4f} "
              f"{time.perf_counter() - t0:.2f}s (elapsed {time.perf_counter() - t_start:.0f}s)", flush=True)
    records = work_records(name)
    print(f"{len(records)}/{len(configs)} configurations done", flush=True)
    return records


# ---- what every generator shares: its design, its seeds, its command line ------------------------------
def index_seed(sobol_seed: int, index: int) -> int:
    """The training seed of configuration ``index`` of a design (a pure function of both)."""
    return int(np.random.SeedSequence([sobol_seed, index]).generate_state(1)[0] % (2 ** 31 - 1))


def sobol_configs(config_space: Any, n: int, sobol_seed: int) -> list[dict[str, Any]]:
    """``n`` distinct configurations of a ``ConfigSpace`` space, in index order (a scrambled Sobol design
    through tunestack's encoding)."""
    from tunestack.searchers.initial_design import sobol_design
    from tunestack.space import SearchSpace

    space = SearchSpace.from_configspace(config_space)
    vecs = sobol_design(space, n, sobol_seed)
    if len(vecs) != n:
        raise RuntimeError(f"Sobol design gave {len(vecs)} distinct configurations, wanted {n}")
    return [space.decode_flat(v) for v in vecs]


def generate(name: str, configs: Sequence[dict[str, Any]], seed_of: Callable[[int], int],
             work: Callable[[dict[str, Any], int], dict[str, list]], metrics: Sequence[str],
             budgets: Sequence[int], meta: Callable[[], dict[str, Any]], limit: int | None, do_pack: bool,
             shard: tuple[int, int]) -> None:
    """:func:`run_generation`, then (all configurations done and ``do_pack``) the table
    ``DATA_DIR / <name>.json.gz`` with seconds to 3 significant digits."""
    records = run_generation(name, configs, seed_of, work, limit, shard)
    if do_pack and len(records) == len(configs):
        out = pack(name, records, metrics, budgets, meta(), DATA_DIR / f"{name}.json.gz",
                   digits={"seconds": 3, "cpu_seconds": 3})
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def generator_main(doc: str, run: Callable[[int | None, bool, tuple[int, int]], None],
                   argv: list[str] | None = None) -> None:
    """The command line of a generator: ``--limit``, ``--no-pack``, ``--shard K/N``; calls ``run``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="do at most this many configs now")
    ap.add_argument("--no-pack", action="store_true", help="do not write the data table at the end")
    ap.add_argument("--shard", default="0/1", help="K/N: do only the configs with index %% N == K "
                    "(run N processes, one per K; the last to finish writes the table)")
    args = ap.parse_args(argv)
    k, n = (int(x) for x in args.shard.split("/"))
    run(args.limit, not args.no_pack, (k, n))


def machine_info(**extra: Any) -> dict[str, Any]:
    """The ``machine`` entry of a table's meta: Python, scikit-learn, processor, CPU count (+ ``extra``)."""
    import platform
    import sys

    import sklearn

    return {"python": sys.version.split()[0], **extra, "sklearn": sklearn.__version__,
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
