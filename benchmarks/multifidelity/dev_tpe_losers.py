"""BOHB's TPE with lower-budget losers in g (benchmarks/multifidelity/tpe_losers.py), for dev.py --extra."""
from tunestack.searchers import register  # noqa: E402

register("tpe_losers", "benchmarks.multifidelity.tpe_losers:LosersTPE")
# the bohb preset's searcher settings (multivariate, magic_clip 0.5) on Hyperband, with the losers in g
add_variant("bohb_losers", "hyperband", "tpe_losers", {"multivariate": True, "magic_clip": 0.5})  # noqa: F821
add_variant("bohb_same", "hyperband", "tpe", {"multivariate": True, "magic_clip": 0.5})  # noqa: F821  the preset, by hand
