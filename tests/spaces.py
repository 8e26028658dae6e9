"""Search spaces shared by the unit tests (ConfigSpace-built: no Ray import needed)."""
from __future__ import annotations

import ConfigSpace as CS


def continuous() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([
        CS.Float("x0", (-5.0, 10.0)),
        CS.Float("x1", (0.0, 15.0)),
        CS.Float("lr", (1e-5, 1e-1), log=True),
        CS.Integer("width", (8, 512), log=True),
        CS.Integer("layers", (1, 6)),
    ])
    return cs


def mixed() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([
        CS.Float("x", (0.0, 1.0)),
        CS.Integer("n", (1, 20)),
        CS.Categorical("act", ["relu", "tanh", "gelu"]),
        CS.OrdinalHyperparameter("size", ["s", "m", "l", "xl"]),
    ])
    return cs


def conditional() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    opt = CS.Categorical("opt", ["sgd", "adam", "rmsprop"])
    mom = CS.Float("momentum", (0.0, 0.99))
    nesterov = CS.Categorical("nesterov", [True, False])
    beta2 = CS.Float("beta2", (0.9, 0.9999))
    lr = CS.Float("lr", (1e-4, 1.0), log=True)
    width = CS.Integer("width", (4, 64))
    cs.add([opt, mom, nesterov, beta2, lr, width])
    cs.add([
        CS.EqualsCondition(mom, opt, "sgd"),
        CS.EqualsCondition(nesterov, opt, "sgd"),
        CS.InCondition(beta2, opt, ["adam", "rmsprop"]),
        CS.ForbiddenAndConjunction(CS.ForbiddenEqualsClause(opt, "rmsprop"),
                                   CS.ForbiddenInClause(width, [4, 5, 6, 7])),
    ])
    return cs


def objective(config: dict) -> float:
    """A cheap deterministic function of any of the spaces above."""
    v = 0.0
    for k, x in sorted(config.items()):
        if isinstance(x, bool):
            v += 0.1 * x
        elif isinstance(x, (int, float)):
            v += (float(x) - 0.3) ** 2 / (1.0 + abs(float(x)))
        else:
            v += 0.05 * (len(str(x)) % 3)
    return v
