"""Channel flow: `evaluate` writes the test-split forecasts next to the filtered DNS (prediction.nc, CF, and an
XDMF time series that meshio reads back with the same values) and the metrics of sciflow.evaluation.metrics per
velocity component; a user's trajectory file is taken through `problem.dataset: {path}` and gives the run the
recipe's file gives."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sciflow.api import build, evaluate, train
from sciflow.data.io import read_dataset, write_dataset
from sciflow.errors import SciflowError
from sciflow.spec import load_spec, spec_from_dict

meshio = pytest.importorskip("meshio")

TINY = {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 40, "gap": 0, "nx": 16, "ny": 24, "nz": 16,
        "coarse": [8, 13, 8], "n_trajectories": 4, "threads": 1, "split_fractions": {"validation": 0.25, "test": 0.25}}
METRICS = ("rel_l2", "nrmse", "vrmse", "rmse", "brmse", "crmse", "frmse_low", "max_error")


def _spec(dataset, name="tiny_channel_export"):
    problem = {"name": "channel", "t_in": 1, "horizon": 2}
    problem.update({"params": TINY} if dataset is None else {"dataset": dataset})
    return {"name": name, "seed": 0, "problem": problem,
            "model": {"name": "fno", "width": 4, "modes": 2, "layers": 1, "residual": True, "no_slip": False},
            "objective": {"name": "supervised", "batch_size": 2}, "evaluation": {"rollout_steps": 3},
            "training": {"phases": [{"optimizer": "adam", "steps": 3, "lr": 1e-3}], "tensorboard": False}}


@pytest.fixture(scope="module")
def data():
    """The recipe's file the native run trains on, as the channel problem reads it (trajectory, t, x, y, z)."""
    return build(spec_from_dict(_spec(None)))[0].reference(progress=False)


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """A run on the recipe's data, evaluated: (run directory, metrics)."""
    run = train(spec_from_dict(_spec(None)), out=tmp_path_factory.mktemp("runs") / "native", progress=False)
    return run, evaluate(run, progress=False)


def test_forecasts_are_exported_and_their_metrics_named_as_cited(native, data):
    run, m = native
    test = np.flatnonzero(np.asarray(data["split"].values).astype(str) == "test")
    ev = run / "evaluation"
    pred = read_dataset(ev / "prediction.nc")
    n_frames = data.sizes["t"] - 1  # t_in = 1: every later snapshot is forecast
    for f in ("u", "v", "w"):
        assert pred[f].dims == ("sample", "t", "z", "y", "x") and pred[f].attrs["units"] == "1"
        assert pred[f"{f}_error"].attrs["scale"] == "u_τ"
        want = data[f].isel(trajectory=test, t=slice(1, None)).transpose("trajectory", "t", "z", "y", "x").values
        np.testing.assert_array_equal(pred[f"{f}_reference"].values, want.astype(np.float64))
        np.testing.assert_array_equal(pred[f"{f}_error"].values, pred[f].values - pred[f"{f}_reference"].values)
    assert pred.sizes["t"] == n_frames and np.allclose(pred["t"].values, data["t"].values[1:])
    netCDF4 = pytest.importorskip("netCDF4")
    with netCDF4.Dataset(ev / "prediction.nc") as nc:  # netCDF-C reads it
        assert nc["u_error"].dimensions == ("sample", "t", "z", "y", "x") and nc.Conventions == "CF-1.8"
    from sciflow.data.schema import cf_violations

    assert cf_violations(pred) == []
    # ParaView's file: hexahedra on the coarse grid, x fastest, every snapshot of the first test trajectory
    with meshio.xdmf.TimeSeriesReader(str(ev / "prediction.xdmf")) as r:
        points, cells = r.read_points_cells()
        assert r.num_steps == n_frames and cells[0].type == "hexahedron"
        t, point_data, _ = r.read_data(n_frames - 1)
    assert t == pytest.approx(float(pred["t"][-1]))
    zz, yy, xx = np.meshgrid(pred["z"], pred["y"], pred["x"], indexing="ij")
    np.testing.assert_array_equal(points, np.stack([xx.ravel(), yy.ravel(), zz.ravel()], 1))
    for name in ("u", "w_reference", "v_error"):
        np.testing.assert_array_equal(point_data[name], pred[name].isel(sample=0, t=-1).values.ravel())
    # metrics.json: every metric per component, and its time series over the forecast states
    saved = json.loads((ev / "metrics.json").read_text())
    for f in ("u", "v", "w"):
        for k in METRICS:
            assert np.isfinite(saved[f"{f}_{k}"]) and len(saved[f"{f}_{k}_vs_time"]) == n_frames, (f, k)
    e, y = pred["v_error"].values, pred["v_reference"].values  # PDEBench nRMSE of the first state, by hand
    by_hand = np.mean([np.linalg.norm(e[s, 0]) / np.linalg.norm(y[s, 0]) for s in range(e.shape[0])])
    assert saved["v_nrmse_vs_time"][0] == pytest.approx(by_hand, rel=1e-12)
    assert saved["u_max_error_vs_time"][-1] == pytest.approx(np.abs(pred["u_error"].values[:, -1]).max(), rel=1e-12)
    assert saved["forecast_times"] == pytest.approx(pred["t"].values.tolist())


def test_a_user_trajectory_file_trains_like_the_recipe_file(native, data, tmp_path):
    run, m = native
    ref = data
    # what another solver would hand over: its own names, a 'sample' dim, Re_τ and nothing sciflow derives
    user = ref[["u", "v", "w", "split"]].rename({"u": "U_x", "v": "U_y", "w": "U_z", "trajectory": "sample"})
    user.attrs = {"re_tau": float(ref.attrs["re_tau_nominal"]), "case": "channel from another solver"}
    write_dataset(user, tmp_path / "cfd" / "channel.nc")
    raw = _spec({"path": "../cfd/channel.nc", "variables": {"u": "U_x", "v": "U_y", "w": "U_z"}}, "byo_channel")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "byo.yaml").write_text(yaml.safe_dump(raw))
    spec = load_spec(tmp_path / "specs" / "byo.yaml")
    problem = build(spec)[0]
    got = problem.reference(progress=False)
    assert got.attrs["box"] == pytest.approx(ref.attrs["box"]) and got.attrs["dt_snapshot"] == pytest.approx(
        ref.attrs["dt_snapshot"])
    np.testing.assert_allclose(got["norm_mean"].values, ref["norm_mean"].values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["norm_std"].values, ref["norm_std"].values, rtol=1e-5)
    assert problem.params["re_tau"] == pytest.approx(178.12)
    byo = train(spec, out=tmp_path / "byo", progress=False)
    mb = evaluate(byo, progress=False)
    for key in ("one_step_rel_l2", "u_nrmse", "w_vrmse", "v_rel_l2"):
        assert mb[key] == pytest.approx(m[key], rel=1e-3), key
    assert read_dataset(byo / "evaluation" / "prediction.nc")["u"].dims == ("sample", "t", "z", "y", "x")


def test_channel_file_errors_name_what_is_missing(data, tmp_path):
    ref = data
    spec = _spec({"path": str(tmp_path / "c.nc")})
    no_re = ref[["u", "v", "w", "split"]]
    no_re.attrs = {}
    write_dataset(no_re, tmp_path / "c.nc")
    with pytest.raises(SciflowError, match=r"c\.nc: the file does not state Re_τ; add the global attribute re_tau"):
        build(spec_from_dict(spec))
    half = ref[["u", "v", "w", "split"]].isel(y=slice(0, 7))
    half.attrs = {"re_tau": 180.0}
    write_dataset(half, tmp_path / "c.nc")
    with pytest.raises(SciflowError, match=r"coordinate y must increase from wall to wall, y = -1 … 1"):
        build(spec_from_dict(spec))
    bad = ref[["u", "v", "w", "split"]]
    bad.attrs = {"re_tau": 180.0, "dt_snapshot": 1.0}
    write_dataset(bad, tmp_path / "c.nc")
    with pytest.raises(SciflowError, match=r"attribute dt_snapshot = 1.0 contradicts the coordinates"):
        build(spec_from_dict(spec))
    spec["problem"]["params"] = {"nx": 8}
    with pytest.raises(SciflowError, match="problem.params: recipe overrides apply to a recipe dataset"):
        build(spec_from_dict(spec))


def test_a_grid_the_les_cannot_take_is_evaluated_without_the_les_comparison(data, tmp_path):
    user = data[["u", "v", "w", "split"]].assign_coords(y=np.linspace(-1.0, 1.0, data.sizes["y"]))  # not tanh faces
    user.attrs = {"re_tau": 178.12}
    write_dataset(user, tmp_path / "uniform_y.nc")
    run = train(spec_from_dict(_spec({"path": str(tmp_path / "uniform_y.nc")}, "uniform_y")), out=tmp_path / "run",
                progress=False)
    m = evaluate(run, progress=False)
    assert m["les_comparison"].startswith("not made: LES: the dataset's wall-normal points are not the faces")
    assert "les_seconds_per_time_unit" not in m and "speedup_vs_les" not in m
    assert np.isfinite(m["u_nrmse"]) and (run / "evaluation" / "prediction.xdmf").exists()
    report = (run / "evaluation" / "report.md").read_text()
    assert "| u_nrmse |" in report and "| u_rmse |" in report and "u_τ" in report


def test_a_target_that_is_no_number_is_refused_before_any_work(native):
    from sciflow.api import load_run
    from sciflow.evaluation.report import evaluate_run

    run = load_run(native[0])
    run.spec.evaluation["targets"] = {"u_nrmse": "small"}
    before = (native[0] / "evaluation" / "metrics.json").stat().st_mtime_ns
    with pytest.raises(SciflowError, match=r"evaluation.targets.u_nrmse: expected an upper bound \(a number\), got 'small'"):
        evaluate_run(run, progress=False)
    assert (native[0] / "evaluation" / "metrics.json").stat().st_mtime_ns == before
