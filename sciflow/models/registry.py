"""Model registry: the spec's ``model.name`` selects a class; the other keys are its arguments."""

from __future__ import annotations

import inspect

from sciflow.errors import SciflowError
from sciflow.registry import Registry

MODELS = Registry("model", "model.name", (
    "sciflow.models.pinn",
    "sciflow.models.lpinn",
    "sciflow.models.ifactformer",
    "sciflow.models.dymixop",
    "sciflow.models.probconserv",
    "sciflow.models.baselines",
))
register_model = MODELS.register
model_class = MODELS.get


def build_model(config: dict, problem):
    """Build ``model.name`` with the remaining keys as constructor arguments (after ``problem``)."""
    config = dict(config)
    cls = model_class(config.pop("name"))
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "problem"}
    unknown = set(config) - allowed
    if unknown:
        raise SciflowError(f"model: unknown key(s) {sorted(unknown)} for model '{cls.registry_name}'; "
                           f"allowed: {sorted(allowed)}")
    return cls(problem, **config)
