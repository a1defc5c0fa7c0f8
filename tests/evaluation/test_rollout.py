"""Evaluator ``rollout``: metrics against exact answers (perfect and zero forecasts, a known
spectrum) and the keys/figures a run's evaluation writes on a tiny ν = 1e-5 set."""

import json
import math

import numpy as np
import pytest

from sciflow.cfd.energy_spectrum2d import energy_spectrum
from sciflow.evaluation.rollout import rollout_metrics


def _fields(s=3, f=4, n=16, seed=0):
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(n, 1.0 / n)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    spec = rng.standard_normal((s, f, n, n)) + 1j * rng.standard_normal((s, f, n, n))
    spec *= (np.abs(kx) <= 5) & (np.abs(ky) <= 5)
    w = np.fft.ifft2(spec).real
    return w - w.mean(axis=(-2, -1), keepdims=True)


def test_energy_spectrum_of_a_single_mode_and_parseval():
    """ω = cos(2π·3x): u = (0, −sin(2π·3x)/(2π·3)) so ½⟨|u|²⟩ = 1/(4 (6π)²), all in shell |k| = 3."""
    n = 32
    x = np.arange(n) / n
    w = np.cos(2 * math.pi * 3 * x)[:, None] * np.ones((1, n))
    ks, e = energy_spectrum(w)
    assert np.isclose(e[ks == 3][0], 1 / (4 * (6 * math.pi) ** 2), rtol=1e-12)
    assert np.abs(np.delete(e, np.flatnonzero(ks == 3))).max() < 1e-20


def test_metrics_of_perfect_zero_and_scaled_forecasts():
    truth = _fields()
    times = np.arange(10.0, 14.0)
    perfect = rollout_metrics(truth.copy(), truth, times, horizon=4)
    assert perfect["test_rel_l2"] < 1e-14 and perfect["spectrum_error"] < 1e-12
    assert perfect["decorrelation_time"] == 14.0  # never decorrelates: last time + Δt
    zero = rollout_metrics(np.zeros_like(truth), truth, times, horizon=4)
    assert np.isclose(zero["test_rel_l2"], 1.0) and np.allclose(zero["nrmse_vs_time"], 1.0)
    assert np.allclose(zero["vrmse_vs_time"], 1.0, rtol=1e-4)  # RMSE/std = 1 for a zero-mean field (up to the 1e-7 in VRMSE)
    assert np.isclose(zero["vorticity_nrmse"], 1.0) and np.isclose(zero["vorticity_max_error"], np.abs(truth).max())
    half = rollout_metrics(0.5 * truth, truth, times, horizon=4)
    assert np.isclose(half["test_rel_l2"], 0.5)
    assert np.isclose(half["spectrum_error"], math.log10(4))  # E ∝ ω²
    assert np.allclose(half["correlation_vs_time"], 1.0)
    # a forecast that becomes uncorrelated noise from the third frame decorrelates at t = 12
    mixed = truth.copy()
    mixed[:, 2:] = _fields(seed=7)[:, 2:]
    assert rollout_metrics(mixed, truth, times, horizon=4)["decorrelation_time"] == 12.0


def test_whole_forecast_statistics_of_perfect_and_scaled_forecasts():
    """Perfect: every error 0.  ω̂ = 2ω: Z and E ×4 (rel. err 3), mean spectrum ×4 (log err log10 4), the
    autocorrelation (normalised) unchanged.  A travelling wave ω = cos 2π(x − ct): R(τ) = cos 2πcτ, 1/e at
    arccos(1/e)/(2πc); a forecast of twice the speed decorrelates in half the time."""
    truth = _fields()
    times = np.arange(10.0, 14.0)
    perfect = rollout_metrics(truth.copy(), truth, times, horizon=4)
    assert perfect["spectrum_rollout_error"] == 0 and perfect["enstrophy_rel_err"] == 0 and perfect["energy_rel_err"] == 0
    double = rollout_metrics(2 * truth, truth, times, horizon=4)
    assert np.isclose(double["enstrophy_rel_err"], 3.0) and np.isclose(double["energy_rel_err"], 3.0)
    assert np.isclose(double["spectrum_rollout_error"], math.log10(4))
    assert np.allclose(double["autocorrelation_pred"], double["autocorrelation_true"])
    n, c, dt = 32, 0.04, 0.5
    x = (np.arange(n) / n)[:, None] * np.ones((1, n))
    t = np.arange(30) * dt
    wave = lambda speed: np.stack([[np.cos(2 * math.pi * (x - speed * tt)) for tt in t]] * 2)  # noqa: E731
    m = rollout_metrics(wave(2 * c), wave(c), t, horizon=4)
    exact = math.acos(math.exp(-1)) / (2 * math.pi * c)
    assert np.allclose(m["autocorrelation_true"], np.cos(2 * math.pi * c * t), atol=1e-12)
    assert np.isclose(m["autocorrelation_time_true"], exact, rtol=2e-3)
    assert np.isclose(m["autocorrelation_time_pred"], exact / 2, rtol=5e-3)
    assert np.isclose(m["autocorrelation_time_rel_err"], 0.5, rtol=1e-2)
    assert m["enstrophy_rel_err"] < 1e-12 and m["energy_rel_err"] < 1e-12  # same one-point statistics


def test_evaluate_run_writes_rollout_metrics(tmp_path):
    from sciflow.api import evaluate, train
    from sciflow.spec import spec_from_dict

    spec = spec_from_dict({
        "name": "tiny_eval", "seed": 0,
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "t_in": 2, "horizon": 3,
                    "params": {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6, "resolution": 16,
                               "solve_resolution": 16, "batch_size": 8}},
        "model": {"name": "fno", "width": 4, "modes": 3, "layers": 1},
        "objective": {"name": "supervised", "batch_size": 4},
        "training": {"phases": [{"optimizer": "adam", "steps": 4, "lr": 1e-2}], "log_every": 1,
                     "validate_every": 2, "tensorboard": False}})
    run = train(spec, out=tmp_path / "run", progress=False)
    metrics = evaluate(run, progress=False)
    saved = json.loads((run / "evaluation" / "metrics.json").read_text())
    for key in ("test_rel_l2", "rel_l2_vs_time", "nrmse_vs_time", "vrmse_vs_time", "vorticity_vrmse",
                "vorticity_frmse_low", "vorticity_brmse", "spectrum_error", "decorrelation_time",
                "spectrum_rollout_error", "enstrophy_rel_err", "energy_rel_err", "autocorrelation_true",
                "autocorrelation_time_true", "checkpoint", "parameters"):
        assert key in saved
    assert saved["checkpoint"] == "best.pt" and saved["test_samples"] == 2
    assert len(saved["rel_l2_vs_time"]) == 5  # frames t = 2 … 6 forecast from t = 0, 1
    assert 0 < metrics["test_rel_l2"] < 10
    for png in ("rollout_fields.png", "rollout_error.png", "spectra.png", "rollout_statistics.png"):
        assert (run / "evaluation" / png).stat().st_size > 1000
    assert "test_rel_l2" in (run / "evaluation" / "report.md").read_text()
    assert saved["constraints"] == "none" and saved["constraint_residual_zero_mean_vorticity"] > 0
    # the forecasts next to the stored test trajectories: netCDF (xarray and netCDF-C) and an XDMF time series
    meshio = pytest.importorskip("meshio")
    netCDF4 = pytest.importorskip("netCDF4")

    from sciflow.api import build
    from sciflow.data.io import read_dataset

    data = build(spec)[0].reference(progress=False)  # (sample, t, x, y)
    test = np.flatnonzero(np.asarray(data["split"].values).astype(str) == "test")
    pred = read_dataset(run / "evaluation" / "prediction.nc")
    assert pred["vorticity"].dims == ("sample", "t", "y", "x") and pred.sizes["t"] == 5
    want = data["vorticity"].isel(sample=test, t=slice(2, None)).transpose("sample", "t", "y", "x").values.astype(float)
    np.testing.assert_array_equal(pred["vorticity_reference"].values, want)
    np.testing.assert_array_equal(pred["vorticity_error"].values, pred["vorticity"].values - want)
    with netCDF4.Dataset(run / "evaluation" / "prediction.nc") as nc:
        assert nc["vorticity"].dimensions == ("sample", "t", "y", "x")
    e = pred["vorticity_error"].values
    assert saved["nrmse_vs_time"][0] == pytest.approx(np.mean([np.linalg.norm(e[s, 0]) / np.linalg.norm(want[s, 0])
                                                               for s in range(2)]), rel=1e-12)
    with meshio.xdmf.TimeSeriesReader(str(run / "evaluation" / "prediction.xdmf")) as r:
        points, cells = r.read_points_cells()
        assert r.num_steps == 5 and cells[0].type == "quad"
        t, point_data, _ = r.read_data(3)
    assert t == pytest.approx(float(pred["t"][3]))
    for name in ("vorticity", "vorticity_reference", "vorticity_error"):
        np.testing.assert_array_equal(point_data[name], pred[name].isel(sample=0, t=3).values.ravel())


def test_forecasts_through_the_constraint_layer_have_zero_mean_vorticity(tmp_path):
    """``evaluation.constraints``: the evaluator's forecasts (model in float64) hold ∫ω = 0 to round-off."""
    from sciflow.api import load_run, train
    from sciflow.evaluation.rollout import constraint_residuals, forecast_test
    from sciflow.spec import spec_from_dict

    spec = spec_from_dict({
        "name": "tiny_eval_constrained", "seed": 0,
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "t_in": 2, "horizon": 3,
                    "params": {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6, "resolution": 16,
                               "solve_resolution": 16, "batch_size": 8}},
        "model": {"name": "fno", "width": 4, "modes": 3, "layers": 1},
        "objective": {"name": "supervised", "batch_size": 4},
        "training": {"phases": [{"optimizer": "adam", "steps": 2, "lr": 1e-2}], "tensorboard": False}})
    run = load_run(train(spec, out=tmp_path / "run", progress=False))
    run.model.double()
    free, truth, _ = forecast_test(run)
    held, _, _ = forecast_test(run, constraints=["zero_mean_vorticity"])
    scale = np.abs(truth).max()
    assert constraint_residuals(run.problem, free, None)["constraint_residual_zero_mean_vorticity"] > 1e-6
    assert constraint_residuals(run.problem, held, None)["constraint_residual_zero_mean_vorticity"] <= 1e-12
    assert np.abs(held.mean(axis=(-2, -1))).max() <= 1e-12 * scale
    # the first frame is the model's first output less its mean (HardC with G = (1/N, …, 1/N))
    assert np.allclose(held[:, 0], free[:, 0] - free[:, 0].mean(axis=(-2, -1), keepdims=True), atol=1e-12 * scale)
