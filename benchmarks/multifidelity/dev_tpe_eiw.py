"""BOHB's TPE with improvement-weighted l (tpe_eiw.py), for dev.py --extra."""
from tunestack.searchers import register  # noqa: E402

register("tpe_eiw", "benchmarks.multifidelity.tpe_eiw:EIWeightTPE")
# the bohb preset's searcher settings (multivariate, magic_clip 0.5) on Hyperband, good kernels weighted
add_variant("bohb_eiw", "hyperband", "tpe_eiw", {"multivariate": True, "magic_clip": 0.5, "ei_mix": 1.0})  # noqa: F821
add_variant("bohb_eiw50", "hyperband", "tpe_eiw", {"multivariate": True, "magic_clip": 0.5, "ei_mix": 0.5})  # noqa: F821
add_variant("bohb_eiw0", "hyperband", "tpe_eiw", {"multivariate": True, "magic_clip": 0.5, "ei_mix": 0.0})  # noqa: F821  = the preset
