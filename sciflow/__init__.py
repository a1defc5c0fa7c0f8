"""sciflow: neural surrogates of fluid flows, trained from YAML specs and proven against CFD.

Public API (imported lazily, so ``import sciflow`` stays cheap for the CLI):

* runs: ``train``, ``evaluate``, ``load_run``, ``make_dataset``;
* extending: ``Problem``, ``Field``, ``register_problem`` (problems), ``Model``, ``PointwiseModel``,
  ``register_model`` (models), ``Objective``, ``register_objective`` (objectives),
  ``register_evaluator`` (case evaluators); ``SciflowError``.
"""

__version__ = "0.1.0"

_LAZY = {
    "train": "sciflow.api", "evaluate": "sciflow.api", "load_run": "sciflow.api",
    "make_dataset": "sciflow.data.recipes",
    "Problem": "sciflow.problems.base", "Field": "sciflow.problems.base", "register_problem": "sciflow.problems.base",
    "Model": "sciflow.models.base", "PointwiseModel": "sciflow.models.base",
    "register_model": "sciflow.models.registry",
    "Objective": "sciflow.training.objectives", "register_objective": "sciflow.training.objectives",
    "register_evaluator": "sciflow.evaluation.report",
    "SciflowError": "sciflow.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sciflow' has no attribute '{name}'")
