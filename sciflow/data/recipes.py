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

import math
import os
import re
import time
from pathlib import Path

from sciflow.errors import SciflowError
from sciflow.registry import Registry

RECIPES = Registry("recipe", "recipe", packages=("sciflow.cfd",))


def register_recipe(name: str):
    """Decorator: ``fn(params: dict, progress: bool) -> xarray.Dataset`` becomes recipe ``name``."""
    return RECIPES.register(name)


def data_dir() -> Path:
    return Path(os.environ.get("SCIFLOW_DATA", "data"))


def parse_value(text: str):
    """Parse a ``--set`` value with YAML rules (numbers, bools, lists); one error if it is not YAML."""
    from sciflow import strict_yaml

    return strict_yaml.loads(text, f"--set value {text!r}")


def load_recipe(path: str | os.PathLike) -> dict:
    """A recipe file (or the name of a bundled recipe, e.g. ``cavity``) as a dict with ``params`` and ``file``."""
    from sciflow import strict_yaml
    from sciflow.resources import resolve_recipe

    path = resolve_recipe(path)
    spec = strict_yaml.load_file(path, "recipe file")
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise SciflowError(f"{path}: a recipe must be a mapping with keys recipe, file, params; "
                           f"got a {type(spec).__name__}")
    unknown = set(spec) - {"recipe", "file", "params", "description"}
    if unknown:
        raise SciflowError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: recipe, file, params, description")
    if "recipe" not in spec:
        raise SciflowError(f"{path}: missing key 'recipe'")
    spec.setdefault("params", {})
    spec.setdefault("file", path.stem + ".nc")
    if not isinstance(spec["params"], dict):
        raise SciflowError(f"{path}: params: a mapping of parameter names to values, got a {type(spec['params']).__name__}")
    name = spec["file"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+\.nc", name) or name.startswith("."):
        raise SciflowError(f"{path}: file: {name!r} must be a plain file name ending in .nc (it is written under the "
                           "data directory; use --out to write elsewhere)")
    return spec


def make_dataset(recipe_path, overrides: dict | None = None, out=None, progress: bool = True) -> Path:
    """Run a recipe and write its dataset; returns the written path.

    The output's directory is checked writable before the solver starts, and an existing file
    there that sciflow did not write is never replaced.
    """
    from sciflow.data.io import check_replaceable, check_writable, write_dataset

    spec = load_recipe(recipe_path)
    name = spec["recipe"]
    try:
        recipe = RECIPES.get(name)
    except SciflowError as exc:
        raise SciflowError(f"{recipe_path}: {exc}") from None
    params = dict(spec["params"])
    for key, value in (overrides or {}).items():
        params[key] = value
    bad = [k for k, v in params.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise SciflowError(f"{recipe_path}: parameter {bad[0]!r} must be a finite number, got {params[bad[0]]}")
    out = Path(out) if out else data_dir() / spec["file"]
    check_writable(out.parent, "output directory")
    check_replaceable(out)
    t0 = time.perf_counter()
    ds = recipe(params, progress=progress)
    ds.attrs.setdefault("wall_time_s", time.perf_counter() - t0)
    return write_dataset(ds, out)


def run_recipe(name: str, params: dict, progress: bool = True):
    """Run a registered recipe by name and return the dataset (no file written)."""
    return RECIPES.get(name)(params, progress=progress)
