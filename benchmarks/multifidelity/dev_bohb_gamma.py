"""The bohb preset (improvement-weighted good kernels since 248c828) with a larger good set, for
dev.py --extra: gamma 0.25 and 1/3 instead of tpe's 0.15 (BOHB's top 15%)."""
add_variant("bohb_g25", "preset", "bohb", {"gamma": 0.25})  # noqa: F821
add_variant("bohb_g33", "preset", "bohb", {"gamma": 1 / 3})  # noqa: F821
