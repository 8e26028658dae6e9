"""BOHB's widened candidate draws (tpe's sample_bandwidth_factor) for dev.py --extra."""
add_variant("bohb_sbw3", "preset", "bohb", {"sample_bandwidth_factor": 3.0})  # noqa: F821  BOHB's b_w
add_variant("bohb_sbw2", "preset", "bohb", {"sample_bandwidth_factor": 2.0})  # noqa: F821
add_variant("bohb_sbw3_c64", "preset", "bohb", {"sample_bandwidth_factor": 3.0, "n_candidates": 64})  # noqa: F821
add_variant("bohb_clip05", "preset", "bohb", {"magic_clip": 0.5})  # noqa: F821  (as in dev_bohb_options.py)
add_variant("bohb_clip05_sbw3", "preset", "bohb", {"magic_clip": 0.5, "sample_bandwidth_factor": 3.0})  # noqa: F821
add_variant("bohb_clip05_sbw2", "preset", "bohb", {"magic_clip": 0.5, "sample_bandwidth_factor": 2.0})  # noqa: F821
