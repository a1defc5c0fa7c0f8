"""The one dataset schema every sciflow reader, problem and evaluator reads (and every writer writes).

A sciflow dataset is a netCDF4 file (CF conventions, ``Conventions = "CF-1.8"``, checked with cfchecker 4.1) with

**Variables** named as sciflow fields: ``u, v, w`` (velocity components along x, y, z), ``p``
(kinematic pressure p/ρ), ``vorticity`` (ω = ∂v/∂x − ∂u/∂y in 2D), ``rho``, ``T``, ... (see
:data:`FIELDS`). Other variables (diagnostics such as ``energy``) may sit beside them.

**Dims**, in this order (CF's T, Z, Y, X order, with the sample dim first):

===========================  ===========================================================
gridded                      ``([sample,] [t,] [z,] y, x)``, 1-D coordinates ``x``, ``y`` [, ``z``], ``t``
scattered (unstructured)     ``([sample,] [t,] point)`` with coordinates ``x (point)``, ``y (point)`` [, ``z (point)``]
===========================  ===========================================================

``trajectory`` is accepted as the name of the sample dim. Trajectory data (a sample dim) carry a
string variable ``split (sample)`` with values ``train | validation | test``.

**Attributes** (CF): ``units`` on every numeric variable and coordinate (``"1"`` for
nondimensional quantities; the global ``nondimensionalisation`` attr states the scales),
``long_name`` on every variable, ``axis`` (``X``/``Y``/``Z``) on the coordinates ``x, y, z`` (``T`` on
``t`` only when its units are CF time units "s since ..."; nondimensional time has units "1"),
strings stored as char arrays,
no ``_FillValue`` on coordinates. Global: ``Conventions``, ``title``, ``source``, ``history``,
and sciflow's provenance (``case``, ``solver``, ``parameters`` (JSON of every parameter that made
the data), ``resolution``, ``sciflow_version``, ``created``).

:func:`to_cf` brings a dataset into this form (used by :func:`sciflow.data.io.write_dataset`),
:func:`check_dataset` validates a file against what a problem needs and names the missing
variable or dim, :func:`cf_violations` lists departures from the CF subset above.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import xarray as xr

from sciflow.errors import SciflowError

CONVENTIONS = "CF-1.8"
SAMPLE_DIMS = ("sample", "trajectory")
TIME_DIM = "t"
POINT_DIM = "point"
SPACE_DIMS = ("z", "y", "x")
AXES = {"t": "T", "z": "Z", "y": "Y", "x": "X"}
SPLITS = ("train", "validation", "test")

#: sciflow field names and their CF long names.
FIELDS = {
    "u": "x-velocity",
    "v": "y-velocity",
    "w": "z-velocity",
    "p": "kinematic pressure p/rho",
    "vorticity": "vorticity (dv/dx - du/dy)",
    "rho": "density",
    "T": "temperature",
    "c": "passive scalar concentration",
    "speed": "velocity magnitude",
}
COORDINATE_NAMES = {"x": "x-coordinate", "y": "y-coordinate", "z": "z-coordinate", "t": "time",
                    "sample": "sample (trajectory) index", "trajectory": "trajectory index", "point": "point index"}


def _rank(dim: str) -> int:
    if dim in SAMPLE_DIMS:
        return 0
    if dim == TIME_DIM:
        return 1
    if dim == "z":
        return 3
    if dim == "y":
        return 4
    if dim in ("x", POINT_DIM):
        return 5
    return 2


def cf_dim_order(dims) -> tuple[str, ...]:
    """``dims`` reordered to (sample, t, <other>, z, y, x|point); others keep their relative order."""
    return tuple(sorted(dims, key=_rank))


def _numeric(var: xr.DataArray) -> bool:
    return var.dtype.kind in "biufc"


def to_cf(ds: xr.Dataset, default_units: str = "1") -> xr.Dataset:
    """A copy of ``ds`` in the schema's form: CF dim order, units/long_name/axis attrs, Conventions.

    Numeric variables and coordinates without ``units`` get ``default_units`` ("1":
    nondimensional); coordinates get no ``_FillValue``. Values are never changed, only transposed.
    """
    ds = ds.copy()
    for name in list(ds.data_vars):
        order = cf_dim_order(ds[name].dims)
        if order != ds[name].dims:
            ds[name] = ds[name].transpose(*order)
    for name in list(ds.variables):
        var = ds[name]
        attrs = dict(var.attrs)
        if _numeric(var) and "units" not in attrs:
            attrs["units"] = default_units
        if "long_name" not in attrs:
            attrs["long_name"] = FIELDS.get(name) or COORDINATE_NAMES.get(name) or name.replace("_", " ")
        if name in AXES and name in ds.coords and var.dims == (name,) and _axis_allowed(name, attrs):
            attrs["axis"] = AXES[name]
        var.attrs = attrs
        if var.dtype.kind in "OU":  # strings as CF char arrays (netCDF-classic CF tools do not read vlen strings)
            var.encoding.update(dtype="S1", char_dim_name=f"{name}_strlen")
        if name in ds.coords:
            var.encoding["_FillValue"] = None
    ds.attrs.setdefault("Conventions", CONVENTIONS)
    ds.attrs.setdefault("title", str(ds.attrs.get("case", "sciflow dataset")))
    ds.attrs.setdefault("source", str(ds.attrs.get("solver", "sciflow")))
    if "history" not in ds.attrs:
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        ds.attrs["history"] = f"{now} written by sciflow"
    return ds


def _axis_allowed(name: str, attrs: dict) -> bool:
    """CF time axes need units "<unit> since <reference>"; nondimensional t (units "1") stays a plain coordinate."""
    return name != TIME_DIM or " since " in str(attrs.get("units", ""))


@dataclass(frozen=True)
class Layout:
    """How a dataset's fields are laid out: ``kind`` "grid" or "points", the sample dim (or None),
    whether there is a time dim, and the spatial dims in file order (e.g. ("y", "x") or ("point",))."""

    kind: str
    sample_dim: str | None
    has_time: bool
    spatial_dims: tuple[str, ...]


def rename_variables(ds: xr.Dataset, variables: dict[str, str] | None, where: str) -> xr.Dataset:
    """Rename a file's variables to sciflow field names: ``variables`` maps field → name in the file."""
    if not variables:
        return ds
    missing = {f: src for f, src in variables.items() if src not in ds.variables}
    if missing:
        raise SciflowError(f"{where}: variables mapping {missing}: not in the file; it has {sorted(ds.data_vars)}")
    clash = [f for f, src in variables.items() if f in ds.variables and f != src and f not in variables.values()]
    if clash:
        raise SciflowError(f"{where}: variables mapping would overwrite existing variable(s) {clash}")
    return ds.rename({src: f for f, src in variables.items() if src != f})


def check_dataset(ds: xr.Dataset, fields=(), where: str = "dataset", trajectories: bool = False,
                  spatial: int | None = None) -> Layout:
    """Validate ``ds`` against the schema and what a problem needs; returns its :class:`Layout`.

    ``fields``: field names that must be present (all with the same dims); ``trajectories``: a
    sample dim, a time dim and a ``split`` variable are required; ``spatial``: the number of
    space dimensions the problem has (2 for (x, y), 3 for (x, y, z)). Any departure raises one
    :class:`SciflowError` naming the file and the missing variable, dim or coordinate.
    """
    fields = list(fields)
    missing = [f for f in fields if f not in ds.variables]
    if missing:
        raise SciflowError(f"{where}: missing variable(s) {missing} (has {sorted(ds.data_vars)}); name them as "
                           f"sciflow fields or map them with 'variables: {{{missing[0]}: <name in file>}}'")
    if not fields:
        fields = [v for v in ds.data_vars if v in FIELDS]
        if not fields:
            raise SciflowError(f"{where}: no sciflow field among its variables {sorted(ds.data_vars)}; "
                               f"expected some of {sorted(FIELDS)}")
    dims = ds[fields[0]].dims
    for f in fields[1:]:
        if ds[f].dims != dims:
            raise SciflowError(f"{where}: variable '{f}' has dims {ds[f].dims}, '{fields[0]}' has {dims}")
    unknown = [d for d in dims if d not in (*SAMPLE_DIMS, TIME_DIM, *SPACE_DIMS, POINT_DIM)]
    if unknown:
        raise SciflowError(f"{where}: variable '{fields[0]}' has dim(s) {unknown} the schema does not know; "
                           f"dims must come from (sample|trajectory, t, z, y, x) or (sample, t, point)")
    sample = next((d for d in dims if d in SAMPLE_DIMS), None)
    has_time = TIME_DIM in dims
    if POINT_DIM in dims:
        kind, space = "points", (POINT_DIM,)
        if any(d in dims for d in SPACE_DIMS):
            raise SciflowError(f"{where}: variable '{fields[0]}' mixes 'point' with grid dims {dims}")
        need = ["x", "y", "z"][: spatial or 2]
        for c in need:
            if c not in ds.variables:
                raise SciflowError(f"{where}: scattered data (dim 'point') lacks coordinate '{c}' (point)")
            if ds[c].dims != (POINT_DIM,):
                raise SciflowError(f"{where}: coordinate '{c}' has dims {ds[c].dims}; scattered data needs ('point',)")
    else:
        kind = "grid"
        space = tuple(d for d in dims if d in SPACE_DIMS)
        need = ("x", "y", "z")[: spatial or len(space)]
        lacking = [d for d in need if d not in dims]
        if lacking or not space:
            raise SciflowError(f"{where}: variable '{fields[0]}' has dims {dims}; lacks the space dim(s) "
                               f"{lacking or ['x', 'y']} (or a 'point' dim for scattered data)")
        for d in space:
            if d not in ds.coords:
                raise SciflowError(f"{where}: dim '{d}' has no coordinate variable '{d}'")
    if trajectories:
        if sample is None:
            raise SciflowError(f"{where}: trajectory data needs a sample dim ('sample' or 'trajectory'); "
                               f"'{fields[0]}' has dims {dims}")
        if not has_time:
            raise SciflowError(f"{where}: trajectory data needs a time dim 't'; '{fields[0]}' has dims {dims}")
        if "split" not in ds.variables:
            raise SciflowError(f"{where}: trajectory data needs a variable 'split' ({sample}) with values {SPLITS}")
        labels = {str(s) for s in np.asarray(ds["split"].values).astype(str)}
        if not labels <= set(SPLITS):
            raise SciflowError(f"{where}: 'split' has values {sorted(labels - set(SPLITS))}; allowed: {SPLITS}")
    return Layout(kind, sample, has_time, space)


def cf_violations(ds: xr.Dataset) -> list[str]:
    """Departures of ``ds`` (as read back from disk, with its encodings) from the schema's CF subset."""
    out = []
    if not str(ds.attrs.get("Conventions", "")).startswith("CF-"):
        out.append("global attribute 'Conventions' missing or not CF-x.y")
    for name in ds.variables:
        var = ds[name]
        if _numeric(var) and "units" not in var.attrs:
            out.append(f"{name}: no 'units'")
        if name in ds.data_vars and "long_name" not in var.attrs and "standard_name" not in var.attrs:
            out.append(f"{name}: no 'long_name' or 'standard_name'")
        if name in ds.coords and name in ds.dims:
            if "_FillValue" in var.encoding and var.encoding["_FillValue"] is not None:
                out.append(f"{name}: coordinate variable has a _FillValue")
            if name in AXES and _axis_allowed(name, var.attrs) and var.attrs.get("axis") != AXES[name]:
                out.append(f"{name}: coordinate without axis='{AXES[name]}'")
            if _numeric(var) and var.ndim == 1 and var.size > 1:
                d = np.diff(np.asarray(var.values, dtype=float))
                if not (np.all(d > 0) or np.all(d < 0)):
                    out.append(f"{name}: coordinate values not strictly monotonic")
        if name in ds.data_vars and cf_dim_order(var.dims) != var.dims:
            out.append(f"{name}: dims {var.dims} not in CF order {cf_dim_order(var.dims)}")
    return out
