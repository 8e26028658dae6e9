"""BOHB option variants for dev.py --extra (options only, no code change)."""
add_variant("bohb_c64", "hyperband", "tpe", {"multivariate": True, "n_candidates": 64})  # noqa: F821  BOHB's num_samples
add_variant("bohb_scott", "hyperband", "tpe", {"multivariate": True, "bandwidth": "scott"})  # noqa: F821  BOHB's KDE rule
add_variant("bohb_c64_scott", "hyperband", "tpe", {"multivariate": True, "n_candidates": 64, "bandwidth": "scott"})  # noqa: F821
# the helper's study (2026-12-02; the preset + one option each; results/dev_bohb_options_helper.txt)
add_variant("bohb_c64_bw3", "preset", "bohb", {"n_candidates": 64, "bandwidth_factor": 3.0})  # noqa: F821
add_variant("bohb_maxbw1", "preset", "bohb", {"max_bandwidth": 1.0})  # noqa: F821
add_variant("bohb_prior2", "preset", "bohb", {"prior_weight": 2.0})  # noqa: F821
add_variant("bohb_clip05", "preset", "bohb", {"magic_clip": 0.5})  # noqa: F821
# sensitivity of the adopted magic_clip (the preset since b4d6664 has 0.5; these override it)
add_variant("bohb_clip025", "preset", "bohb", {"magic_clip": 0.25})  # noqa: F821
add_variant("bohb_clip075", "preset", "bohb", {"magic_clip": 0.75})  # noqa: F821
add_variant("bohb_clip1", "preset", "bohb", {"magic_clip": 1.0})  # noqa: F821  the preset before b4d6664
