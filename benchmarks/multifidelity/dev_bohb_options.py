"""BOHB option variants for dev.py --extra (options only, no code change)."""
add_variant("bohb_c64", "hyperband", "tpe", {"multivariate": True, "n_candidates": 64})  # noqa: F821  BOHB's num_samples
add_variant("bohb_scott", "hyperband", "tpe", {"multivariate": True, "bandwidth": "scott"})  # noqa: F821  BOHB's KDE rule
add_variant("bohb_c64_scott", "hyperband", "tpe", {"multivariate": True, "n_candidates": 64, "bandwidth": "scott"})  # noqa: F821
