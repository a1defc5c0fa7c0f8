"""Model registry: the spec's ``model.name`` selects a class; the other keys are its arguments."""

from __future__ import annotations

import inspect

from sciflow.errors import SciflowError
from sciflow.models.base import Model
from sciflow.problems.base import require
from sciflow.registry import Registry

MODELS = Registry("model", "model.name", packages=("sciflow.models",))
register_model = MODELS.register
model_class = MODELS.get


def build_model(config: dict, problem) -> Model:
    """Build ``model.name`` with the remaining keys as constructor arguments (after ``problem``),
    once the problem is found to have the capabilities the model declares it needs."""
    config = dict(config)
    name = config.pop("name")
    cls = model_class(name)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise SciflowError(f"model.name: '{name}' is not a sciflow model (a subclass of sciflow.models.base.Model)")
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "problem"}
    unknown = set(config) - allowed
    if unknown:
        raise SciflowError(f"model: unknown key(s) {sorted(unknown)} for model '{name}'; "
                           f"allowed: {sorted(allowed)}")
    require(problem, cls.requirements(config), f"model '{name}'")
    return cls(problem, **config)
