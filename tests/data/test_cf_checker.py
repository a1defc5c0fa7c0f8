"""The CF checker (cfchecker, CF-1.8) on one dataset of each kind: gridded, trajectories, scattered points, and
the prediction files `evaluate` writes (forecasts on a 3D grid, a steady field at scattered points).

cfchecker needs the udunits2 C library and reads its tables from the web; the minimal local tables
in ``cf_tables/`` stand in for them (sciflow uses no standard names). cfchecker comes with the
``dev`` extra; the udunits2 library is a system package (Debian: ``libudunits2-0``). Without it the
test is skipped with that reason, unless ``SCIFLOW_REQUIRE_CF_CHECKER=1`` (set by ``.ci/run`` once it
has installed the library), where a missing checker fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sciflow.data.io import write_dataset
from sciflow.data.recipes import run_recipe

try:
    import cfchecker.cfchecks  # noqa: F401  (loads udunits2 through cfunits: OSError without it)
except (ImportError, OSError) as exc:
    if os.environ.get("SCIFLOW_REQUIRE_CF_CHECKER") == "1":
        raise RuntimeError(f"SCIFLOW_REQUIRE_CF_CHECKER=1 but the CF checker cannot load: {exc}") from exc
    pytest.skip(f"CF checker unavailable ({exc}); needs cfchecker and the udunits2 library",
                allow_module_level=True)
TABLES = Path(__file__).parent / "cf_tables"


def _cf_errors(path) -> str:
    out = subprocess.run([sys.executable, "-m", "cfchecker.cfchecks", "-v", "1.8", "-s", str(TABLES / "sn.xml"),
                          "-a", str(TABLES / "area.xml"), "-r", str(TABLES / "region.xml"), str(path)],
                         capture_output=True, text=True, timeout=300)
    return out.stdout + out.stderr


def test_cf_checker_reports_no_errors(tmp_path):
    meshio = pytest.importorskip("meshio")
    from sciflow.data.importers import import_file

    files = [write_dataset(run_recipe("cavity_fem", {"Re": 100, "mesh": 4, "grid": 9}, progress=False),
                           tmp_path / "grid.nc"),
             write_dataset(run_recipe("ns2d", dict(nu=1e-3, T=2, resolution=8, solve_resolution=16, n_train=2,
                                                   n_validation=1, n_test=1, batch_size=4, dt=0.05, seed=1),
                                      progress=False), tmp_path / "trajectories.nc")]
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))],
                point_data={"U": 2 * pts, "p": pts[:, 0]}).write(tmp_path / "m.vtu")
    files.append(import_file("vtk", tmp_path / "m.vtu", tmp_path / "points.nc"))
    files += _prediction_files(tmp_path)
    for f in files:
        report = _cf_errors(f)
        assert "ERRORS detected: 0" in report and "WARNINGS given: 0" in report, f"{f.name}:\n{report}"


def _prediction_files(tmp_path):
    """prediction.nc as the channel evaluator writes it (sample, t, z, y, x) and as a scattered-point comparison does."""
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    rng = np.random.default_rng(0)
    shape = (2, 3, 4, 5, 6)
    grid = prediction_dataset({"u": rng.standard_normal(shape)}, {"u": rng.standard_normal(shape)},
                              {"sample": np.arange(2), "t": [0.2, 0.4, 0.6], "z": np.arange(4) * 0.4,
                               "y": np.linspace(-1, 1, 5), "x": np.arange(6) * 0.5}, ("sample", "t", "z", "y", "x"),
                              {"case": "forecasts"}, {"u": "u_τ"})
    scattered = prediction_dataset({"p": rng.standard_normal(7)}, {"p": rng.standard_normal(7)},
                                   {"x": (("point",), rng.random(7)), "y": (("point",), rng.random(7))}, ("point",),
                                   {"case": "steady"}, {"p": "rho U^2"})
    return [write_prediction(tmp_path / "forecast", grid)["netcdf"],
            write_prediction(tmp_path / "steady", scattered)["netcdf"]]
