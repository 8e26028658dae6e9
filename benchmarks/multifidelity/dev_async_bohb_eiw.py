"""async_bohb with improvement-weighted good kernels, for dev.py --extra --workers 16: the preset, and the
preset with tpe's good_weights="improvement" (as the bohb preset since 248c828)."""
add_variant("async_bohb", "preset", "async_bohb", {})  # noqa: F821
add_variant("async_bohb_eiw", "preset", "async_bohb", {"good_weights": "improvement"})  # noqa: F821
add_variant("async_hyperband", "async_hyperband", "random", {})  # noqa: F821
