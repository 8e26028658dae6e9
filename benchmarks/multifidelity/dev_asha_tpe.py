"""TPE, random search, tpe_losers and rfbo under ASHA, on the development benchmarks (dev.py --extra).

A check made after a toy function (branin plus a log-lr bowl and a categorical, 4-d, max_budget 27) had
TPE + ASHA at median regret 3.7 against random + ASHA 1.9 (10 seeds; bohb 0.4 on 5): is TPE under a single
ASHA bracket worse than random sampling in general?  Run (2026-12-07, git 059bfd0)::

    PYTHONPATH=. .venv/bin/python benchmarks/multifidelity/dev.py --variants asha_random,asha_tpe,asha_tpe_losers,asha_rfbo \
        --seeds 10 --paired-from 0 --extra benchmarks/multifidelity/dev_asha_tpe.py

Result (results/dev_asha_tpe.txt): no. TPE + ASHA has the best mean rank at 10 / 30 / 100 (2.18 / 2.09 / 1.80;
random + ASHA 2.47 / 2.63 / 2.81) and beats it in 55 of 70 paired runs at 100; lower-budget losers in
TPE's bad density (tpe_losers) do not help (2.91 at 100). Nothing changed.
"""
from tunestack.searchers import register  # noqa: E402

register("tpe_losers", "benchmarks.multifidelity.tpe_losers:LosersTPE")
add_variant("asha_random", "asha", "random", {})  # noqa: F821
add_variant("asha_tpe", "asha", "tpe", {})  # noqa: F821
add_variant("asha_tpe_losers", "asha", "tpe_losers", {})  # noqa: F821
add_variant("asha_rfbo", "asha", "rfbo", {})  # noqa: F821
