"""async_bohb variants for dev.py --extra (with --workers K): the preset, and with bohb's magic_clip 0.5."""
add_variant("async_bohb", "preset", "async_bohb", {})  # noqa: F821
add_variant("async_bohb_clip05", "preset", "async_bohb", {"magic_clip": 0.5})  # noqa: F821
add_variant("async_hyperband", "async_hyperband", "random", {})  # noqa: F821
