"""Learning-curve extrapolation (Domhan, Springenberg & Hutter 2015): stop a trial whose predicted final
value is unlikely to beat the incumbent's.

``curves`` holds the parametric families, ``posterior`` the Bayesian model average over them (the
predictive distribution of the final value), ``scheduler`` the stopping rule.
"""
from __future__ import annotations

from .mixture import Prediction
from .posterior import predict_final
from .scheduler import LCEScheduler

__all__ = ["LCEScheduler", "Prediction", "predict_final"]
