#!/usr/bin/env bash
# Peer environments of the multi-fidelity benchmarks (idempotent):
#  * .bench-venv     (the searcher benchmarks' script): tunestack + optuna, smac (and hyperopt, cma);
#  * .bench-venv-mf  dehb and hpbandster, which pin numpy 1.x; run.py talks to them through
#                    benchmarks/multifidelity/peer_worker.py over a pipe, so this venv needs neither
#                    tunestack nor the benchmark code.
# Peers never go into the project's .venv.  Usage:  bash benchmarks/multifidelity/setup_peers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash benchmarks/setup_bench_env.sh
VENV=.bench-venv-mf
PY=${PYTHON:-python3.11}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" -c "import dehb, hpbandster, numpy, ConfigSpace as C; assert C.__version__ == '0.7.1'" 2>/dev/null; then
    echo "$VENV is ready"
else
    # hpbandster 0.7.4 builds netifaces from source (needs a C compiler).  ConfigSpace 0.7.1: the last
    # before 1.0; with 1.x HpBandSter's Pyro transport fails on numpy.str_ values in configurations.
    "$VENV/bin/pip" install "numpy<2" "ConfigSpace==0.7.1" "dehb==0.1.2" "hpbandster==0.7.4"
fi
"$VENV/bin/python" -c "from importlib.metadata import version as v; \
print('$VENV:', ', '.join(f'{d} {v(d)}' for d in ('numpy', 'ConfigSpace', 'dehb', 'hpbandster')))"
