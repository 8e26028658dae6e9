"""The bohb preset (improvement-weighted good kernels since 248c828) with a wider bandwidth floor, for
dev.py --extra: magic_clip 1 (tpe's default) and 0.75 instead of the preset's 0.5."""
add_variant("bohb_clip1_now", "preset", "bohb", {"magic_clip": 1.0})  # noqa: F821
add_variant("bohb_clip075_now", "preset", "bohb", {"magic_clip": 0.75})  # noqa: F821
