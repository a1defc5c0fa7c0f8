"""Each metric against a case small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sciflow.evaluation import metrics as M


def test_rel_l2_nrmse_vrmse_rmse_by_hand():
    # one sample, two frames of 2 points: y = (3, 4), (1, 1); e = (0, 5)·0.1 and (1, -1)
    ref = np.array([[[3.0, 4.0], [1.0, 1.0]]])
    pred = ref + np.array([[[0.0, 0.5], [1.0, -1.0]]])
    assert M.rel_l2(pred, ref) == pytest.approx(math.sqrt(0.25 + 2) / math.sqrt(27))
    # per frame ‖e‖/‖y‖: 0.5/5 and sqrt(2)/sqrt(2) → mean 0.55
    assert M.nrmse(pred, ref, n_space=1) == pytest.approx(0.55)
    # VRMSE per frame: sqrt(mean e² / var y): frame 0: sqrt(0.125/0.25) ; frame 1: var = 0 → sqrt(1/1e-7)
    v = M.vrmse_frames(pred, ref, 1)
    assert v[0, 0] == pytest.approx(math.sqrt(0.125 / (0.25 + 1e-7)))
    assert v[0, 1] == pytest.approx(math.sqrt(1 / 1e-7))
    assert M.rmse_frames(pred, ref, 1)[0].tolist() == pytest.approx([math.sqrt(0.125), 1.0])
    assert M.max_error(pred, ref) == 1.0


def test_brmse_counts_the_four_edges():
    ref = np.zeros((3, 4))
    e = np.zeros((3, 4))
    e[1, 1] = 7.0  # interior: no boundary error
    assert M.brmse_frames(e, ref, 2)[0, 0] == 0.0
    e[0, 0] = 2.0  # a corner lies on two edges: counted twice over 2·3 + 2·4 = 14 edge points
    assert M.brmse_frames(e, ref, 2)[0, 0] == pytest.approx(math.sqrt(2 * 4 / 14))
    line = np.array([1.0, 0.0, 0.0, 3.0])
    assert M.brmse_frames(line, np.zeros(4), 1)[0, 0] == pytest.approx(math.sqrt((1 + 9) / 2))


def test_crmse_is_the_error_of_the_domain_mean():
    ref = np.zeros((2, 1, 4))  # 2 samples, 1 frame, 4 points
    pred = np.array([[[1.0, 1.0, 1.0, 1.0]], [[2.0, -2.0, 0.0, 0.0]]])  # means 1 and 0
    assert M.crmse_frames(pred, ref, 1).tolist() == pytest.approx([math.sqrt((1 + 0) / 2)])


def test_frmse_puts_a_single_mode_in_its_band():
    n = 32
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    ref = np.zeros((n, n))
    for k, band in ((2, "low"), (6, "mid"), (13, "high")):
        err = np.cos(2 * math.pi * k * X)  # |ê| = n²/2 at (k, 0) (and at (−k, 0), outside the quadrant)
        got = M.frmse_frames(err, ref, 2)
        shell = (n * n / 2) / (n * n)  # sqrt(|ê|²) · L² / n² in shell k
        n_shells = {"low": 4, "mid": 8, "high": n // 2 - 12}[band]
        assert got[band][0] == pytest.approx(shell / n_shells)
        for other in {"low", "mid", "high"} - {band}:
            assert got[other][0] == pytest.approx(0.0, abs=1e-12)
    # 1D: every rfft mode, |ê_k| = n/2 at k = 3, scaled by L/n
    got = M.frmse_frames(np.sin(2 * math.pi * 3 * x), np.zeros(n), 1)
    assert got["low"][0] == pytest.approx((n / 2) / n / 4)


def test_field_metrics_names_and_rollout_series():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 3, 32, 32))
    pred = ref + 0.1 * rng.standard_normal(ref.shape)
    m = M.field_metrics(pred, ref, "u", n_space=2)
    assert set(m) == {f"u_{k}" for k in ("rel_l2", "nrmse", "vrmse", "rmse", "crmse", "max_error", "brmse",
                                          "frmse_low", "frmse_mid", "frmse_high")}
    s = M.rollout_series(pred, ref, n_space=2)
    assert all(len(v) == 3 for v in s.values()) and "vrmse_vs_time" in s and "frmse_high_vs_time" in s
    assert np.mean(s["nrmse_vs_time"]) == pytest.approx(m["u_nrmse"])
    assert max(s["max_error_vs_time"]) == pytest.approx(m["u_max_error"])
    coarse = M.field_metrics(pred[..., :8, :8], ref[..., :8, :8], "u", n_space=2)
    assert "u_frmse_low" in coarse and "u_frmse_mid" not in coarse  # 8² has shells 0-3 only
