#!/usr/bin/env bash
# Peer environments of the multi-fidelity benchmarks (idempotent):
#  * .bench-venv     (the searcher benchmarks' script): tunestack + optuna, smac (and hyperopt, cma);
#  * .bench-venv-mf  dehb and hpbandster, which pin numpy 1.x; run.py talks to them through
#                    benchmarks/multifidelity/peer_worker.py over a pipe, so this venv needs neither
#                    tunestack nor the benchmark code.
#  * .bench-venv-raybohb (with --ray, for ray_real.py): Ray Tune's TuneBOHB needs hpbandster beside
#                    Ray and torch; this venv reuses the project's .venv read-only (a .pth line adds its
#                    site-packages) and installs only hpbandster and its few extra dependencies.
# Peers never go into the project's .venv.  Usage:  bash benchmarks/multifidelity/setup_peers.sh [--ray]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash benchmarks/setup_bench_env.sh
VENV=.bench-venv-mf
PY=${PYTHON:-python3.11}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" -c "import dehb, hpbandster, numpy; from importlib.metadata import version; assert version('ConfigSpace') == '0.7.1'" 2>/dev/null; then
    echo "$VENV is ready"
else
    # hpbandster 0.7.4 builds netifaces from source (needs a C compiler).  ConfigSpace 0.7.1: the last
    # before 1.0; with 1.x HpBandSter's Pyro transport fails on numpy.str_ values in configurations.
    "$VENV/bin/pip" install "numpy<2" "ConfigSpace==0.7.1" "dehb==0.1.2" "hpbandster==0.7.4"
fi
"$VENV/bin/python" -c "from importlib.metadata import version as v; \
print('$VENV:', ', '.join(f'{d} {v(d)}' for d in ('numpy', 'ConfigSpace', 'dehb', 'hpbandster')))"

if [ "${1:-}" = "--ray" ]; then
    RV=.bench-venv-raybohb
    SITE=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    if [ ! -x "$RV/bin/python" ]; then
        "$PY" -m venv "$RV"
    fi
    RSITE=$("$RV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    echo "import site; site.addsitedir('$(cd "$SITE" && pwd)')" > "$RSITE/zz_project_venv.pth"
    if ! "$RV/bin/python" -c "import ray, torch, tunestack, hpbandster" 2>/dev/null; then
        "$RV/bin/pip" install "hpbandster==0.7.4"
    fi
    "$RV/bin/python" -c "from importlib.metadata import version as v; \
print('$RV:', ', '.join(f'{d} {v(d)}' for d in ('ray', 'torch', 'numpy', 'ConfigSpace', 'hpbandster')))"
fi
