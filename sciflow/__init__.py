"""sciflow: neural surrogates of fluid flows, trained from YAML specs and proven against CFD."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy public API so `import sciflow` stays cheap (no torch import for the CLI's --help).
    if name in ("train", "evaluate", "load_run"):
        from sciflow import api

        return getattr(api, name)
    if name == "make_dataset":
        from sciflow.data.recipes import make_dataset

        return make_dataset
    raise AttributeError(name)
