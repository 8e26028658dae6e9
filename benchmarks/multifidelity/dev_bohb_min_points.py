"""BOHB's model budget rule, for dev.py --extra: a budget is modelled once it has d + k results.

Falkner et al. 2018 (sec. 3.2, Algorithm 2) model the largest budget with at least N_min + 2 = d + 3
observations; tunestack's tpe uses ``min(d + 1, n_startup)`` (the preset: d + 1 for d <= 9).  ``tpe_mp``
is tpe with ``min_points = d + offset``."""
from tunestack.searchers import register as _register
from tunestack.searchers.tpe import TPESearcher as _TPE


class _TPEMinPoints(_TPE):
    name = "tpe_mp"

    def __init__(self, space, mode="min", seed=None, *, offset=3, **kw):
        super().__init__(space, mode=mode, seed=seed, **kw)
        self.min_points = self.space.dim + int(offset)


_register("tpe_mp", _TPEMinPoints)
_BOHB = {"multivariate": True, "magic_clip": 0.5}
add_variant("bohb_mp3", "hyperband", "tpe_mp", {**_BOHB, "offset": 3})  # noqa: F821  BOHB's d + 3
add_variant("bohb_mp2", "hyperband", "tpe_mp", {**_BOHB, "offset": 2})  # noqa: F821  rfbo's d + 2
