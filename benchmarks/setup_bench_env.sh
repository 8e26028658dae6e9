#!/usr/bin/env bash
# Creates (idempotently) the virtual environment .bench-venv with tunestack plus the peer optimizers
# that the searcher benchmarks compare against (optuna, hyperopt, smac, cma: the `bench` extra).
# Peers never go into the project's .venv.  Usage:  bash benchmarks/setup_bench_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.bench-venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if "$VENV/bin/python" -c "import tunestack, optuna, hyperopt, smac, cma, torch" 2>/dev/null; then
    echo "$VENV is ready"
else
    # the peers at the versions of the reported runs (pip constraints)
    "$VENV/bin/pip" install -c benchmarks/peer_versions.txt "torch==2.13.0" -e ".[dev,bench]"
fi
"$VENV/bin/pip" install -q -c benchmarks/peer_versions.txt optuna smac hyperopt cma ConfigSpace
# versions from the installed distributions (smac 2.4 has no smac.__version__)
"$VENV/bin/python" -c "from importlib.metadata import version as v; \
print('bench env:', ', '.join(f'{d} {v(d)}' for d in ('numpy', 'ConfigSpace', 'optuna', 'smac', 'hyperopt', 'cma')))"
