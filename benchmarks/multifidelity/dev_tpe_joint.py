"""BOHB's TPE with HpBandSter's joint model of a conditional space (tpe_joint.py), for dev.py --extra."""
from tunestack.searchers import register  # noqa: E402

register("tpe_joint", "benchmarks.multifidelity.tpe_joint:JointTPE")
# the bohb preset's searcher settings (multivariate, magic_clip 0.5) on Hyperband, one joint model
add_variant("bohb_joint", "hyperband", "tpe_joint", {"multivariate": True, "magic_clip": 0.5})  # noqa: F821
