"""A user's own reference or trajectory file named in a spec: ``{path: my.nc, variables: {u: U_x, ...}}``.

``path`` is a netCDF file in the schema of :mod:`sciflow.data.schema` (``sciflow data import``
writes one from VTK, OpenFOAM, PDEBench or The Well files); relative paths are taken relative to
the spec file (:func:`sciflow.spec.load_spec` resolves them). ``variables`` maps sciflow field
names to the file's variable names where they differ. The file is checked against what the
problem needs: the fields, the dims (a grid or scattered points; trajectories need ``sample``,
``t`` and ``split``) and, where the file records them (its ``parameters`` JSON attr or plain
attrs), the problem's physical parameters (e.g. ``Re``): a file made for another Re is refused,
never silently used.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import xarray as xr

from sciflow.data.io import read_dataset
from sciflow.data.schema import Layout, check_dataset, rename_variables
from sciflow.errors import SciflowError

KEYS = ("path", "variables")


def parse_file_spec(spec, key: str) -> dict:
    """Validate ``{path: ..., variables: {...}}`` given under spec key ``key``; returns it normalised."""
    if not isinstance(spec, dict):
        raise SciflowError(f"{key}: expected a mapping {{path: FILE.nc, variables: {{field: name}}}}, got {spec!r}")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise SciflowError(f"{key}: unknown key(s) {unknown}; allowed: {list(KEYS)}")
    if not isinstance(spec.get("path"), str) or not spec["path"]:
        raise SciflowError(f"{key}.path: a file path is required")
    variables = spec.get("variables") or {}
    if not isinstance(variables, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in variables.items()):
        raise SciflowError(f"{key}.variables: expected a mapping of field name to variable name, got {variables!r}")
    return {"path": spec["path"], "variables": dict(variables)}


def stored_parameters(ds: xr.Dataset) -> dict:
    """Parameters a file records: its ``parameters`` JSON attr, then plain numeric attrs."""
    out = {}
    try:
        got = json.loads(ds.attrs.get("parameters", "{}"))
        if isinstance(got, dict):
            out.update(got)
    except (TypeError, ValueError):
        pass
    for k, v in ds.attrs.items():
        if k not in out and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = v
    return out


def check_parameters(ds: xr.Dataset, params: dict, where: str):
    """Refuse a file whose recorded parameters contradict the problem's (relative tolerance 1e-9)."""
    stored = stored_parameters(ds)
    for key, want in params.items():
        if key not in stored or not isinstance(want, (int, float)) or isinstance(want, bool):
            continue
        try:
            have = float(stored[key])
        except (TypeError, ValueError):
            continue
        if not math.isclose(have, float(want), rel_tol=1e-9, abs_tol=0.0):
            raise SciflowError(f"{where}: the file was made with {key}={have:g}, the problem has {key}={float(want):g}")


def load_reference_file(spec: dict, key: str, fields, params: dict | None = None, trajectories: bool = False,
                        spatial: int | None = 2) -> tuple[xr.Dataset, Layout]:
    """Read, rename and check the file of ``spec`` (see the module docstring); returns (dataset, layout)."""
    spec = parse_file_spec(spec, key)
    path = Path(spec["path"])
    where = f"{key}.path {path}"
    ds = read_dataset(path)
    ds = rename_variables(ds, spec["variables"], where)
    layout = check_dataset(ds, fields, where, trajectories=trajectories, spatial=spatial)
    check_parameters(ds, params or {}, where)
    return ds, layout
