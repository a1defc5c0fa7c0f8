"""The dataset schema: recipe outputs are valid netCDF4 + CF; the validator names what is missing."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sciflow.data.io import read_dataset, write_dataset
from sciflow.data.recipes import run_recipe
from sciflow.data.schema import cf_dim_order, cf_violations, check_dataset, rename_variables, to_cf
from sciflow.errors import SciflowError

NS2D_SMALL = dict(nu=1e-3, T=2, resolution=8, solve_resolution=16, n_train=2, n_validation=1, n_test=1,
                  batch_size=4, dt=0.05, seed=1)


def _netcdf_c_reads(path):
    """netCDF-C (through netCDF4-python) opens the file; returns its variable names."""
    netCDF4 = pytest.importorskip("netCDF4")
    with netCDF4.Dataset(path) as nc:
        assert nc.file_format == "NETCDF4"
        return set(nc.variables)


@pytest.mark.parametrize("recipe,params,axes", [
    ("cavity_fem", {"Re": 100, "mesh": 4, "grid": 9}, {"X", "Y"}),
    ("burgers1d", {"n": 64, "nx": 16, "nt": 4, "dt": 1e-3, "t_final": 0.01}, {"X"}),  # t nondimensional
    ("ns2d", NS2D_SMALL, {"X", "Y"}),
])
def test_recipe_outputs_follow_cf(tmp_path, recipe, params, axes):
    cf_xarray = pytest.importorskip("cf_xarray")  # noqa: F841  (registers the .cf accessor)
    path = write_dataset(run_recipe(recipe, params, progress=False), tmp_path / f"{recipe}.nc")
    ds = read_dataset(path)
    assert cf_violations(ds) == []
    assert axes <= set(ds.cf.axes)  # cf-xarray finds every space axis from the attrs
    for name in ds.variables:
        if ds[name].dtype.kind in "fiu":
            assert ds[name].attrs["units"]
    for c in ("x", "y", "t"):
        if c in ds.coords:
            assert "_FillValue" not in ds[c].encoding or ds[c].encoding["_FillValue"] is None
    assert "_NCProperties" not in ds.attrs and ds.attrs["Conventions"] == "CF-1.8"
    assert {"u", "vorticity"} & _netcdf_c_reads(path)
    with xr.open_dataset(path, engine="netcdf4") as nc:  # the netCDF-C engine of xarray
        fields = [v for v in ("u", "vorticity") if v in nc]
        assert np.array_equal(nc[fields[0]].values, ds[fields[0]].values, equal_nan=True)


def test_ns2d_file_is_in_cf_order_and_problem_reads_x_first(tmp_path):
    ds = run_recipe("ns2d", NS2D_SMALL, progress=False)
    assert ds["vorticity"].dims == ("sample", "t", "y", "x")
    path = write_dataset(ds, tmp_path / "ns.nc")
    layout = check_dataset(read_dataset(path), ("vorticity",), str(path), trajectories=True)
    assert layout.kind == "grid" and layout.sample_dim == "sample" and layout.spatial_dims == ("y", "x")


def test_to_cf_reorders_dims_and_keeps_values():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4, 5, 6))
    ds = xr.Dataset({"u": (("trajectory", "t", "x", "y", "z"), a)},
                    coords={"x": np.arange(4.0), "y": np.arange(5.0), "z": np.arange(6.0), "t": np.arange(3.0)})
    cf = to_cf(ds)
    assert cf["u"].dims == ("trajectory", "t", "z", "y", "x")
    np.testing.assert_array_equal(cf["u"].transpose("trajectory", "t", "x", "y", "z").values, a)
    assert [cf[c].attrs["axis"] for c in ("x", "y", "z")] == ["X", "Y", "Z"]
    assert "axis" not in cf["t"].attrs  # units "1": not a CF time axis
    cf_time = to_cf(ds.assign_coords(t=("t", np.arange(3.0), {"units": "s since 2000-01-01"})))
    assert cf_time["t"].attrs["axis"] == "T"
    assert cf_dim_order(("point", "t", "sample")) == ("sample", "t", "point")


def test_validator_names_missing_variable_dim_and_coordinate():
    grid = xr.Dataset({"U_x": (("y", "x"), np.zeros((3, 4)))}, coords={"x": np.arange(4.0), "y": np.arange(3.0)})
    with pytest.raises(SciflowError, match=r"my\.nc: missing variable\(s\) \['u'\].*variables: \{u: <name in file>\}"):
        check_dataset(grid, ("u",), "my.nc")
    ok = rename_variables(grid, {"u": "U_x"}, "my.nc")
    assert check_dataset(ok, ("u",), "my.nc").spatial_dims == ("y", "x")
    with pytest.raises(SciflowError, match=r"my\.nc: variables mapping \{'v': 'U_y'\}: not in the file"):
        rename_variables(grid, {"v": "U_y"}, "my.nc")
    line = xr.Dataset({"u": (("x",), np.zeros(4))}, coords={"x": np.arange(4.0)})
    with pytest.raises(SciflowError, match=r"lacks the space dim\(s\) \['y'\]"):
        check_dataset(line, ("u",), "line.nc", spatial=2)
    pts = xr.Dataset({"u": (("point",), np.zeros(5))}, coords={"x": ("point", np.arange(5.0))})
    with pytest.raises(SciflowError, match=r"pts\.nc: scattered data \(dim 'point'\) lacks coordinate 'y' \(point\)"):
        check_dataset(pts, ("u",), "pts.nc")
    odd = xr.Dataset({"u": (("time", "y", "x"), np.zeros((2, 3, 4)))})
    with pytest.raises(SciflowError, match=r"dim\(s\) \['time'\] the schema does not know"):
        check_dataset(odd, ("u",), "odd.nc")
    traj = xr.Dataset({"u": (("sample", "t", "y", "x"), np.zeros((2, 3, 3, 4)))},
                      coords={"x": np.arange(4.0), "y": np.arange(3.0)})
    with pytest.raises(SciflowError, match=r"needs a variable 'split' \(sample\)"):
        check_dataset(traj, ("u",), "traj.nc", trajectories=True)
    traj["split"] = ("sample", np.array(["train", "holdout"]))
    with pytest.raises(SciflowError, match=r"'split' has values \['holdout'\]"):
        check_dataset(traj, ("u",), "traj.nc", trajectories=True)


def test_cf_violations_lists_departures():
    ds = xr.Dataset({"u": (("x", "y"), np.zeros((2, 3)))}, coords={"x": [0.0, 1.0], "y": [0.0, 2.0, 1.0]})
    found = cf_violations(ds)
    assert "global attribute 'Conventions' missing or not CF-x.y" in found
    assert "u: no 'units'" in found and "x: coordinate without axis='X'" in found
    assert "y: coordinate values not strictly monotonic" in found
    assert "u: dims ('x', 'y') not in CF order ('y', 'x')" in found
