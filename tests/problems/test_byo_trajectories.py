"""A PDEBench-layout and a The Well-layout file, written here from sciflow's own 2D NS trajectories,
imported, trained on with an FNO through `problem.dataset: {path}`, and evaluated."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sciflow.api import build, evaluate, train
from sciflow.cli import main
from sciflow.data.recipes import run_recipe
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict

pytest.importorskip("neuralop")

NS = dict(nu=1e-3, T=6, resolution=16, solve_resolution=32, n_train=4, n_validation=2, n_test=2, batch_size=8,
          dt=0.05, seed=3)


@pytest.fixture(scope="module")
def flow():
    """vorticity (sample, t, x, y) of 8 trajectories and the velocity (u, v) = (∂ψ/∂y, −∂ψ/∂x), −Δψ = ω."""
    ds = run_recipe("ns2d", NS, progress=False).transpose("sample", "t", "x", "y")
    w = ds["vorticity"].values.astype(np.float64)
    n = w.shape[-1]
    k = np.fft.fftfreq(n, 1.0 / n) * 2 * np.pi
    kx, ky = np.meshgrid(k, k, indexing="ij")
    k2 = np.where(kx ** 2 + ky ** 2 > 0, kx ** 2 + ky ** 2, 1.0)
    psi = np.fft.fft2(w) / k2
    u = np.real(np.fft.ifft2(1j * ky * psi))
    v = np.real(np.fft.ifft2(-1j * kx * psi))
    return {"w": w, "u": u, "v": v, "x": ds["x"].values, "t": ds["t"].values}


def _train_and_evaluate(tmp_path, path, name):
    spec = spec_from_dict({
        "name": name, "seed": 0,
        "problem": {"name": "ns2d", "dataset": {"path": str(path)}, "t_in": 2, "horizon": 3},
        "model": {"name": "fno", "width": 4, "modes": 3, "layers": 1},
        "objective": {"name": "supervised", "batch_size": 4},
        "training": {"phases": [{"optimizer": "adam", "steps": 4, "lr": 1e-2}], "log_every": 1,
                     "validate_every": 2, "tensorboard": False}})
    run = train(spec, out=tmp_path / name, progress=False)
    evaluate(run, progress=False)
    return json.loads((run / "evaluation" / "metrics.json").read_text())


def test_pdebench_incompressible_ns_file_trains_an_fno(tmp_path, flow):
    with h5py.File(tmp_path / "ns_incom_inhom_2d.h5", "w") as f:
        f["velocity"] = np.stack([flow["u"], flow["v"]], -1).astype(np.float32)  # (batch, t, x, y, 2)
        f["t"] = np.tile(flow["t"], (8, 1))
        f["x-coordinate"] = f["y-coordinate"] = flow["x"]
    out = tmp_path / "pdebench.nc"
    assert main(["data", "import", "pdebench", str(tmp_path / "ns_incom_inhom_2d.h5"), "--out", str(out),
                 "--fractions", "0.5,0.25,0.25"]) == 0
    problem = build(spec_from_dict({"name": "x", "problem": {"name": "ns2d", "dataset": {"path": str(out)},
                                                              "t_in": 2, "horizon": 3},
                                    "model": {"name": "fno", "width": 4, "modes": 3, "layers": 1},
                                    "objective": {"name": "supervised"}}))[0]
    w = problem.reference(progress=False)["vorticity"].values  # (sample, t, x, y), central differences of u, v
    # second-order differences of the spectral velocity recover the solver's vorticity (16² grid, periodic field)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    err = np.linalg.norm(w[inner] - flow["w"][inner]) / np.linalg.norm(flow["w"][inner])
    assert err < 0.1
    m = _train_and_evaluate(tmp_path, out, "pdebench_fno")
    assert m["test_samples"] == 2 and np.isfinite(m["test_rel_l2"]) and 0 < m["vorticity_nrmse"] < 10
    assert len(m["vrmse_vs_time"]) == 5
    # the forecasts as CF netCDF and as an XDMF time series that meshio (and ParaView) reads
    import meshio

    from sciflow.data.io import read_dataset
    from sciflow.data.schema import cf_violations

    ev = tmp_path / "pdebench_fno" / "evaluation"
    pred = read_dataset(ev / "prediction.nc")
    assert pred["vorticity"].dims == ("sample", "t", "y", "x") and cf_violations(pred) == []
    with meshio.xdmf.TimeSeriesReader(str(ev / "prediction.xdmf")) as r:
        points, _ = r.read_points_cells()
        assert r.num_steps == pred.sizes["t"] == 5
        t, data, _ = r.read_data(4)
    assert t == pytest.approx(float(pred["t"][4]))
    np.testing.assert_allclose(data["vorticity_error"], pred["vorticity_error"].isel(sample=0, t=4).values.ravel())


def test_the_well_file_trains_an_fno(tmp_path, flow):
    with h5py.File(tmp_path / "ns2d_well.hdf5", "w") as f:
        f.attrs.update(dataset_name="ns2d_test", grid_type="cartesian", n_spatial_dims=2, n_trajectories=8,
                       simulation_parameters=["nu"], nu=1e-3)
        d = f.create_group("dimensions")
        d.attrs["spatial_dims"] = ["x", "y"]
        d["time"], d["x"], d["y"] = flow["t"], flow["x"], flow["x"]
        f.create_group("boundary_conditions")
        f.create_group("t0_fields")
        g1 = f.create_group("t1_fields")
        g1["velocity"] = np.stack([flow["u"], flow["v"]], -1).astype(np.float32)
        g1["velocity"].attrs.update(sample_varying=True, time_varying=True)
    out = tmp_path / "well.nc"
    assert main(["data", "import", "the_well", str(tmp_path / "ns2d_well.hdf5"), "--out", str(out),
                 "--fractions", "0.5,0.25,0.25"]) == 0
    m = _train_and_evaluate(tmp_path, out, "well_fno")
    assert m["test_samples"] == 2 and np.isfinite(m["test_rel_l2"]) and np.isfinite(m["vorticity_vrmse"])


def test_dataset_file_errors(tmp_path, flow):
    import xarray as xr

    from sciflow.data.io import write_dataset

    ds = xr.Dataset({"omega": (("sample", "t", "y", "x"), flow["w"][:, :, :4, :4])},
                    coords={"x": flow["x"][:4], "y": flow["x"][:4], "t": flow["t"]})
    write_dataset(ds, tmp_path / "nosplit.nc")
    spec = {"name": "x", "problem": {"name": "ns2d", "dataset": {"path": str(tmp_path / "nosplit.nc"),
                                                                 "variables": {"vorticity": "omega"}},
                                     "t_in": 2, "horizon": 3},
            "model": {"name": "fno", "width": 4, "modes": 3, "layers": 1}, "objective": {"name": "supervised"}}
    with pytest.raises(SciflowError, match=r"nosplit\.nc: trajectory data needs a variable 'split' \(sample\)"):
        build(spec_from_dict(spec))
    spec["problem"]["params"] = {"n_train": 2}
    with pytest.raises(SciflowError, match="problem.params: recipe overrides apply to a recipe dataset"):
        build(spec_from_dict(spec))
