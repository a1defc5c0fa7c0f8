"""Read and write xarray datasets as netCDF4 files (h5netcdf engine), atomically, with provenance.

Every file is brought into the schema of :mod:`sciflow.data.schema` on write (CF dim order,
``units``/``long_name``/``axis`` attrs, ``Conventions``; valid netCDF4 that netCDF-C reads) and
carries attrs: ``case``, ``solver``, ``parameters`` (JSON),
``resolution``, ``sciflow_version``, ``created`` (UTC ISO time) and ``wall_time_s``.
Files are written to a temporary name in the same directory and renamed, so an
interrupted write never leaves a torn file and never destroys an older one.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.errors import SciflowError


def provenance(case: str, solver: str, parameters: dict, resolution: str, wall_time_s: float) -> dict:
    """Provenance attrs for a dataset written by one of sciflow's solvers."""
    from sciflow import __version__

    return {
        "case": case,
        "solver": solver,
        "parameters": json.dumps(parameters, sort_keys=True, default=str),
        "resolution": resolution,
        "sciflow_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": float(wall_time_s),
    }


def _clean_attrs(attrs: dict) -> dict:
    """netCDF attrs must be str, numbers or 1D arrays; dicts/lists/bools become JSON/int."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = int(v)
        elif isinstance(v, (dict, list, tuple)) and not (
            isinstance(v, (list, tuple)) and v and all(isinstance(e, (int, float)) for e in v)
        ):
            out[k] = json.dumps(v, default=str)
        elif v is None:
            out[k] = "none"
        else:
            out[k] = v
    return out


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (netCDF4/HDF5 via h5netcdf) atomically; returns the path."""
    from sciflow.data.schema import to_cf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = to_cf(ds)
    ds.attrs = _clean_attrs(dict(ds.attrs))
    for name in list(ds.variables):
        ds[name].attrs = _clean_attrs(dict(ds[name].attrs))
    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    return path


def check_writable(directory: str | os.PathLike, what: str) -> Path:
    """Create ``directory`` (and parents) and prove a file can be written there, before any work."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise SciflowError(f"{what} {d} is a file, not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=d)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise SciflowError(f"{what} {d} is not writable: {exc.strerror or exc}") from None
    return d


def check_replaceable(path: str | os.PathLike):
    """Refuse to replace an existing file that is not a dataset sciflow wrote (or a directory)."""
    import h5py

    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise SciflowError(f"{path} is a directory; give a file name ending in .nc")
    try:
        with h5py.File(path, "r") as f:
            ours = "sciflow_version" in f.attrs
    except OSError:
        ours = False
    if not ours:
        raise SciflowError(f"{path} exists and is not a dataset sciflow wrote; refusing to replace it "
                           "(delete it or choose another output)")


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_dataset(path: str | os.PathLike, required: tuple[str, ...] = ()) -> xr.Dataset:
    """Load a dataset fully into memory; ``required`` variables missing → one clear error."""
    path = Path(path)
    if not path.exists():
        raise SciflowError(f"dataset file not found: {path}")
    try:
        try:
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                ds = ds.load()
        except OSError:  # not HDF5: a netCDF3 classic file, read by whichever engine xarray has
            with xr.open_dataset(path) as ds:
                ds = ds.load()
    except Exception as exc:  # corrupt or foreign file
        raise SciflowError(f"cannot read dataset {path}: {exc}") from exc
    missing = [v for v in required if v not in ds.variables]
    if missing:
        raise SciflowError(f"dataset {path} lacks required variables {missing}; has {sorted(ds.data_vars)}")
    return ds


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write raw bytes atomically (temporary file + fsync + rename)."""

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(Path(path), write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def json_ready(obj):
    """Convert numpy scalars/arrays inside ``obj`` for json.dump; NaN and ±inf become ``None``
    (``null``: JSON has no literal for them)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
