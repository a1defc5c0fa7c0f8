"""``sciflow data import FORMAT SOURCE --out FILE.nc``: CFD data from other tools into sciflow's schema.

One module per format, each exposing ``read(source, **options) -> xarray.Dataset`` in the form of
:mod:`sciflow.data.schema` (fields named u, v, w, p, ...; dims (sample, t, z, y, x) or
(t, point) with coordinates x, y[, z] on ``point``):

==========  =====================================================================
``vtk``     VTU/VTK/XDMF and other meshio formats; point or cell data; time series
            (XDMF time series, ``.pvd`` collections, a directory of files)
``openfoam``  an ASCII OpenFOAM case directory (own reader): volScalarField/volVectorField
            internal fields at cell centres (from a ``C`` field or computed from polyMesh)
``pdebench``  PDEBench HDF5: ``Vx, Vy, density, pressure`` / ``tensor`` / incompressible-NS
            ``velocity`` arrays (batch, t, x, y), and the per-seed group layout
``the_well``  The Well HDF5: root attrs, ``dimensions``, ``boundary_conditions``, ``t0/t1/t2_fields``
==========  =====================================================================
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from sciflow.errors import SciflowError

FORMATS = ("vtk", "openfoam", "pdebench", "the_well")


def read_source(fmt: str, source: str | os.PathLike, **options):
    """The dataset that format ``fmt`` reads from ``source`` (not written)."""
    if fmt not in FORMATS:
        raise SciflowError(f"data import: unknown format '{fmt}'; known: {list(FORMATS)}")
    source = Path(source)
    if not source.exists():
        raise SciflowError(f"data import {fmt}: source not found: {source}")
    module = importlib.import_module(f"sciflow.data.importers.{fmt}")
    return module.read(source, **options)


def import_file(fmt: str, source: str | os.PathLike, out: str | os.PathLike, **options) -> Path:
    """Read ``source`` in format ``fmt``, check it against the schema, write ``out`` (netCDF4, CF)."""
    from sciflow.data.io import write_dataset
    from sciflow.data.schema import check_dataset

    ds = read_source(fmt, source, **options)
    check_dataset(ds, where=f"data import {fmt} {source}", trajectories="sample" in ds.dims)
    return write_dataset(ds, out)
