"""Reference data on disk: made by a registered recipe the first time a problem needs it.

Cache files are named by a hash of every parameter that made them and checked against their
stored ``parameters`` on read (:func:`cached_recipe`), so a file is never used for a request it
does not answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from sciflow.data.io import check_writable, read_dataset, write_dataset
from sciflow.data.recipes import data_dir, run_recipe
from sciflow.errors import SciflowError
from sciflow.resources import reference_table, resolve_recipe


def _canonical(value):
    """Parameter values in one form for hashing and comparison: numbers as float, tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    return str(value)


def parameters_hash(recipe: str, params: dict) -> str:
    """12 hex digits of SHA-1 over the recipe name and every parameter (canonical JSON)."""
    text = json.dumps({"recipe": recipe, "params": _canonical(dict(params))}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def cache_path(recipe: str, params: dict, filename: str) -> Path:
    """``<data dir>/<stem of filename>_<parameters_hash>.nc``: the cache file of one parameter set."""
    return data_dir() / f"{Path(filename).stem}_{parameters_hash(recipe, params)}.nc"


def parameter_mismatch(ds, params: dict) -> dict:
    """{key: (requested, stored)} for every requested parameter that the file's ``parameters`` attr
    (JSON, written by :func:`sciflow.data.io.provenance`) lacks or holds with another value."""
    try:
        stored = json.loads(ds.attrs.get("parameters", "{}"))
    except (TypeError, ValueError):
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    out = {}
    for key, want in params.items():
        have = stored.get(key, "<missing>")
        if _canonical(have) != _canonical(want):
            out[key] = (want, have)
    return out


def cached_recipe(recipe: str, params: dict, filename: str, progress: bool = True, required: tuple[str, ...] = ()):
    """The dataset ``recipe`` makes from ``params``, cached under a name that hashes all of them.

    The file is ``<data dir>/<stem of filename>_<hash>.nc`` (:func:`cache_path`); on read its
    stored ``parameters`` are compared with ``params``, and a file that differs in any of them, or
    lacks one of the ``required`` variables, is remade, never used. A file under the plain
    ``filename`` (the names of earlier versions) is used only when it passes the same checks.
    """
    path = cache_path(recipe, params, filename)
    for candidate in (path, data_dir() / filename):
        if not candidate.exists():
            continue
        try:
            ds = read_dataset(candidate)
        except SciflowError as exc:
            print(f"reference data {candidate} unreadable ({exc}): remaking it", flush=True)
            continue
        missing = [v for v in required if v not in ds.variables]
        if missing:
            print(f"reference data {candidate} lacks the variable(s) {missing}: remaking it", flush=True)
            continue
        bad = parameter_mismatch(ds, params)
        if not bad:
            return ds
        if candidate == path:
            print(f"reference data {path} was made with other parameters {bad} (requested, stored): "
                  f"remaking it", flush=True)
    check_writable(path.parent, "data directory")
    if progress:
        print(f"reference data {path} not found: making it with recipe '{recipe}' {params}", flush=True)
    write_dataset(run_recipe(recipe, params, progress=progress), path)
    ds = read_dataset(path, required)
    bad = parameter_mismatch(ds, params)
    if bad:
        raise SciflowError(f"recipe '{recipe}' wrote {path} with parameters {bad} (requested, stored)")
    return ds


def read_table(name: str):
    """A published table (bundled ``datasets/reference/<name>.csv``) as (pandas-free) dict of numpy columns + source."""
    import csv

    import numpy as np

    path = reference_table(name)
    source, rows = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                source.append(line[1:].strip())
            else:
                rows.append(line)
    reader = csv.DictReader(rows)
    data = {k: [] for k in reader.fieldnames}
    for row in reader:
        for k in reader.fieldnames:
            data[k].append(row[k])
    cols = {}
    for k, v in data.items():
        try:
            cols[k] = np.array([float(e) for e in v])
        except ValueError:
            cols[k] = np.array(v)
    return cols, " ".join(source)


def recipe_dataset_file(dataset: str, expected_recipe: str, params: dict | None = None) -> tuple[dict, str]:
    """Recipe params and data file name for the bundled recipe ``dataset`` with ``params`` overrides.

    :func:`cached_recipe` adds the hash of all merged params to the name, so variants never share a file.
    """
    from sciflow.data.recipes import load_recipe

    path = resolve_recipe(dataset)
    recipe = load_recipe(path)
    if recipe["recipe"] != expected_recipe:
        raise SciflowError(f"problem.dataset: {path} uses recipe '{recipe['recipe']}', not '{expected_recipe}'")
    merged = {**recipe["params"], **(params or {})}
    return merged, f"{Path(recipe['file']).stem}.nc"
