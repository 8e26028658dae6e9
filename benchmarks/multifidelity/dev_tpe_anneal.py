"""BOHB's TPE with an annealed bandwidth floor (benchmarks/multifidelity/tpe_anneal.py), for dev.py --extra."""
from tunestack.searchers import register  # noqa: E402

register("tpe_anneal", "benchmarks.multifidelity.tpe_anneal:AnnealTPE")
# the bohb preset's searcher settings (multivariate, magic_clip 0.5 at the end), the floor's constant
# falling linearly from 1.0 over the first N asked trials (45 trials ~ 10 full evaluations, 125 ~ 30)
for _n in (60, 120, 240):
    add_variant(f"bohb_anneal{_n}", "hyperband", "tpe_anneal",  # noqa: F821
                {"multivariate": True, "magic_clip": 0.5, "clip_start": 1.0, "anneal_trials": _n})
add_variant("bohb_clip1", "preset", "bohb", {"magic_clip": 1.0})  # noqa: F821  the preset before b4d6664
