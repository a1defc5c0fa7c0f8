"""Dataset recipes: a YAML file (bundled ones in ``sciflow/resources/datasets/``) names a registered recipe and its parameters.

A recipe file looks like::

    recipe: cavity_fem          # a name registered with @register_recipe
    file: cavity_re100.nc       # default file name under the data directory
    params: {Re: 100, mesh: 64, grid: 129}

``make_dataset(path, overrides, out)`` loads the file, applies ``--set key=value``
overrides to ``params``, runs the recipe (which shows its own progress bar) and writes
the returned ``xarray.Dataset`` atomically. The data directory is ``$SCIFLOW_DATA`` or
``./data``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
import yaml

from sciflow.errors import SciflowError
from sciflow.registry import Registry

RECIPES = Registry("recipe", "recipe", (
    "sciflow.cfd.fem_cases",
    "sciflow.cfd.cylinder",
    "sciflow.cfd.sinusoidal_pipe",
    "sciflow.cfd.spectral2d",
    "sciflow.cfd.channel_dataset",
    "sciflow.cfd.burgers1d",
))
_RECIPE_MODULES = RECIPES.modules


def register_recipe(name: str):
    """Decorator: ``fn(params: dict, progress: bool) -> xarray.Dataset`` becomes recipe ``name``."""
    return RECIPES.register(name)


def data_dir() -> Path:
    return Path(os.environ.get("SCIFLOW_DATA", "data"))


def parse_value(text: str):
    """Parse a ``--set`` value with YAML rules (numbers, bools, lists)."""
    return yaml.safe_load(text)


def load_recipe(path: str | os.PathLike) -> dict:
    """A recipe file (or the name of a bundled recipe, e.g. ``cavity``) as a dict with ``params`` and ``file``."""
    from sciflow.resources import resolve_recipe

    path = resolve_recipe(path)
    with open(path) as f:
        spec = yaml.safe_load(f) or {}
    unknown = set(spec) - {"recipe", "file", "params", "description"}
    if unknown:
        raise SciflowError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: recipe, file, params, description")
    if "recipe" not in spec:
        raise SciflowError(f"{path}: missing key 'recipe'")
    spec.setdefault("params", {})
    spec.setdefault("file", path.stem + ".nc")
    return spec


def make_dataset(recipe_path, overrides: dict | None = None, out=None, progress: bool = True) -> Path:
    """Run a recipe and write its dataset; returns the written path."""
    spec = load_recipe(recipe_path)
    name = spec["recipe"]
    try:
        recipe = RECIPES.get(name)
    except SciflowError as exc:
        raise SciflowError(f"{recipe_path}: {exc}") from None
    params = dict(spec["params"])
    for key, value in (overrides or {}).items():
        params[key] = value
    t0 = time.perf_counter()
    ds = recipe(params, progress=progress)
    ds.attrs.setdefault("wall_time_s", time.perf_counter() - t0)
    from sciflow.data.io import write_dataset

    out = Path(out) if out else data_dir() / spec["file"]
    return write_dataset(ds, out)


def run_recipe(name: str, params: dict, progress: bool = True):
    """Run a registered recipe by name and return the dataset (no file written)."""
    return RECIPES.get(name)(params, progress=progress)
