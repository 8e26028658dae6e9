"""BOHB's good-set floor (tpe's min_good; None = min_points = d + 1, as BOHB) for dev.py --extra."""
add_variant("bohb_mg", "preset", "bohb", {"min_good": None})  # noqa: F821  the preset (magic_clip 0.5) + BOHB's floor
add_variant("bohb_mg5", "preset", "bohb", {"min_good": 5})  # noqa: F821
add_variant("bohb_mg_clip1", "preset", "bohb", {"min_good": None, "magic_clip": 1.0})  # noqa: F821
