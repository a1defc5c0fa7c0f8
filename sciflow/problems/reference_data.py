"""Reference data on disk: made by a registered recipe the first time a problem needs it."""

from __future__ import annotations

from pathlib import Path

from sciflow.data.io import check_writable, read_dataset, write_dataset
from sciflow.data.recipes import data_dir, run_recipe
from sciflow.resources import reference_table, resolve_recipe


def cached_recipe(recipe: str, params: dict, filename: str, progress: bool = True):
    """Load ``<data dir>/<filename>``; if it is missing, run ``recipe`` and write it first."""
    path = data_dir() / filename
    if not path.exists():
        check_writable(path.parent, "data directory")
        if progress:
            print(f"reference data {path} not found: making it with recipe '{recipe}' {params}", flush=True)
        write_dataset(run_recipe(recipe, params, progress=progress), path)
    return read_dataset(path)


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

    Overridden params get a short hash in the file name, so different variants never share a file.
    """
    import hashlib
    import json

    from sciflow.data.recipes import load_recipe
    from sciflow.errors import SciflowError

    path = resolve_recipe(dataset)
    recipe = load_recipe(path)
    if recipe["recipe"] != expected_recipe:
        raise SciflowError(f"problem.dataset: {path} uses recipe '{recipe['recipe']}', not '{expected_recipe}'")
    merged = {**recipe["params"], **(params or {})}
    stem = Path(recipe["file"]).stem
    if params:
        stem += "_" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return merged, f"{stem}.nc"
