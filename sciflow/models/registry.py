"""Model registry: the spec's ``model.name`` selects a class; the other keys are its arguments."""

from __future__ import annotations

import importlib
import inspect

from sciflow.errors import SciflowError

_MODELS: dict[str, type] = {}
_MODEL_MODULES = (
    "sciflow.models.pinn",
    "sciflow.models.lpinn",
    "sciflow.models.ifactformer",
    "sciflow.models.dymixop",
    "sciflow.models.probconserv",
    "sciflow.models.baselines",
)


def register_model(name: str):
    def deco(cls):
        _MODELS[name] = cls
        cls.registry_name = name
        return cls

    return deco


def model_class(name: str) -> type:
    for mod in _MODEL_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    if name not in _MODELS:
        raise SciflowError(f"model.name: unknown model '{name}'; known: {sorted(_MODELS)}")
    return _MODELS[name]


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
