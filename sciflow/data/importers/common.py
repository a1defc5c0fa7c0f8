"""Shared pieces of the importers: field names, scattered-point datasets, trajectory splits, provenance."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.errors import SciflowError

#: names other tools give sciflow's scalar fields (case-sensitive first, then lower-case)
SCALAR_ALIASES = {"p": "p", "P": "p", "pressure": "p", "p_rgh": "p_rgh", "Vx": "u", "Vy": "v", "Vz": "w",
                  "density": "rho", "rho": "rho", "vorticity": "vorticity", "omega": "vorticity",
                  "temperature": "T", "T": "T", "U_x": "u", "U_y": "v", "U_z": "w"}
#: vector fields whose components are sciflow's velocity (u, v, w)
VELOCITY_NAMES = ("U", "u", "velocity", "Velocity", "vel", "V")
COMPONENTS = ("x", "y", "z")


def scalar_name(name: str) -> str:
    """sciflow's name for a scalar field called ``name`` elsewhere (else ``name`` made a valid identifier)."""
    if name in SCALAR_ALIASES:
        return SCALAR_ALIASES[name]
    if name.lower() in SCALAR_ALIASES:
        return SCALAR_ALIASES[name.lower()]
    return re.sub(r"\W", "_", name)


def component_names(name: str, n: int) -> list[str]:
    """Names of the ``n`` components of vector field ``name``: u, v, w for velocity, else name_x, ..."""
    if n > 3:
        raise SciflowError(f"field '{name}' has {n} components; vectors of up to 3 are read")
    if name in VELOCITY_NAMES:
        return ["u", "v", "w"][:n]
    base = scalar_name(name)
    return [f"{base}_{c}" for c in COMPONENTS[:n]]


def add_field(fields: dict, name: str, values: np.ndarray, component_axis: int | None):
    """Put field ``name`` into ``fields``, split into components along ``component_axis`` (None: scalar)."""
    values = np.asarray(values)
    if component_axis is None:
        fields[scalar_name(name)] = values
        return
    values = np.moveaxis(values, component_axis, -1)
    if values.shape[-1] == 1:
        fields[scalar_name(name)] = values[..., 0]
        return
    for k, comp in enumerate(component_names(name, values.shape[-1])):
        fields[comp] = values[..., k]


def points_dataset(points: np.ndarray, fields: dict[str, np.ndarray], times=None, attrs=None) -> xr.Dataset:
    """Scattered data: ``points`` (N, 2|3), ``fields`` {name: (T, N) or (N,)} → dims ([t,] point).

    Coordinates x, y (and z unless every point has the same z to 1e-12 of the x-y extent, as in 2D cases
    written as 3D)."""
    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    coords = {"x": ("point", points[:, 0]), "y": ("point", points[:, 1])}
    extent = max(float(np.ptp(points[:, :2], axis=0).max()), 1e-300) if n else 1.0
    if points.shape[1] > 2 and np.ptp(points[:, 2]) > 1e-12 * extent:
        coords["z"] = ("point", points[:, 2])
    data = {}
    for name, v in fields.items():
        v = np.asarray(v)
        if v.shape[-1] != n:
            raise SciflowError(f"field '{name}' has {v.shape[-1]} values per step for {n} points")
        data[name] = (("t", "point") if v.ndim == 2 else ("point",), v)
    if times is not None:
        coords["t"] = ("t", np.asarray(times, dtype=np.float64))
    return xr.Dataset(data, coords=coords, attrs=attrs or {})


def assign_splits(n: int, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """Split labels for n trajectories in file order: train first, then validation, test last
    (PDEBench holds out the last fraction as test). Every split with a positive fraction gets at
    least one trajectory when n >= 3."""
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or min(fractions) < 0 or not abs(sum(fractions) - 1) < 1e-9:
        raise SciflowError(f"split fractions must be three numbers >= 0 summing to 1 (train, validation, test), "
                           f"got {fractions}")
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    if n >= 3:
        n_val = max(n_val, 1 if fractions[1] > 0 else 0)
        n_test = max(n_test, 1 if fractions[2] > 0 else 0)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise SciflowError(f"{n} trajectories cannot be split {fractions} with at least one for training")
    return np.array(["train"] * n_train + ["validation"] * n_val + ["test"] * n_test)


def import_attrs(fmt: str, source: Path, options: dict, resolution: str, extra: dict | None = None) -> dict:
    """Provenance of an imported file: the format, the source path and every import option."""
    from sciflow.data.io import provenance

    attrs = provenance(f"imported_{fmt}", f"sciflow data import {fmt}",
                       {"format": fmt, "source": str(source), **options}, resolution, 0.0)
    attrs["source"] = f"{fmt} file {source}"
    attrs.update(extra or {})
    return attrs
