"""Error metrics as the benchmarks users cite define them (numpy; NaN entries of the reference are ignored
where noted). ``e = pred − ref``; arrays of rollouts are ``(batch, t, *space)``.

=================  ===========================================================================  ==============
name               formula                                                                      source
=================  ===========================================================================  ==============
``rel_l2``         ‖e‖₂ / ‖y‖₂ over every entry (all samples, frames and points at once)         (standard)
``nrmse``          mean over samples b and frames t of ‖e_bt‖₂ / ‖y_bt‖₂ (per-frame rel. L2)      PDEBench [1] "nRMSE"
``vrmse``          mean_bt sqrt( ⟨e_bt²⟩ / (⟨(y_bt − ⟨y_bt⟩)²⟩ + 1e-7) ), ⟨·⟩ the spatial mean   The Well [2] "VRMSE"
``rmse``           mean_bt sqrt(⟨e_bt²⟩)                                                        PDEBench "RMSE"
``brmse``          mean_bt sqrt( Σ_boundary e² / N_boundary ), boundary = first and last          PDEBench "bRMSE"
                   index along every space axis (2D: the four edges, N = 2 n_x + 2 n_y)
``crmse``          mean_t sqrt( mean_b (⟨pred_bt⟩ − ⟨y_bt⟩)² ): the error of the conserved         PDEBench "cRMSE"
                   (domain-mean) quantity
``frmse_low|mid|`` sqrt(mean_b Σ_{⌊|k|⌋ = κ} |ê_b(k)|²) · Π L_a / Π n_a per shell κ, averaged over  PDEBench "fRMSE"
``high``           κ < 4, 4 ≤ κ < 12, κ ≥ 12 (then over t); 2D/3D shells use the modes
                   0 ≤ k_a < n_a/2 as PDEBench does; 1D uses every rfft mode
``max_error``      max |e| over every entry                                                      PDEBench "Max"
=================  ===========================================================================  ==============

[1] Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine Learning", NeurIPS 2022
    Datasets & Benchmarks (``pdebench/models/metrics.py``: ``metric_func``).
[2] Ohana et al., "The Well: a Large-Scale Collection of Diverse Physics Simulations for Machine
    Learning", NeurIPS 2024 Datasets & Benchmarks (``the_well/benchmark/metrics``: ``VRMSE``).

Note the names: PDEBench's nRMSE is a *relative L2* per frame (‖e‖/‖y‖), not an RMSE divided by a
standard deviation; that quantity is The Well's VRMSE. Earlier sciflow versions reported RMSE/std
under the name "nrmse"; it is ``vrmse`` now (its values are unchanged).
:func:`field_metrics` returns all of them for one field with a prefix (``u_rel_l2``, ``u_vrmse``, ...);
:func:`rollout_series` returns each of them per frame.
"""

from __future__ import annotations

import math

import numpy as np

VRMSE_EPS = 1e-7
FOURIER_BANDS = (4, 12)  # PDEBench's iLow, iHigh


def _pair(pred, ref):
    return np.asarray(pred, dtype=np.float64), np.asarray(ref, dtype=np.float64)


def rel_l2(pred, ref) -> float:
    """‖pred − ref‖₂ / ‖ref‖₂ over the finite entries of ref."""
    pred, ref = _pair(pred, ref)
    m = np.isfinite(ref) & np.isfinite(pred)
    return float(np.linalg.norm(pred[m] - ref[m]) / max(np.linalg.norm(ref[m]), 1e-300))


def rel_l2_up_to_constant(pred, ref) -> float:
    """Relative L2 after removing each field's mean (pressure is defined up to a constant)."""
    pred, ref = _pair(pred, ref)
    m = np.isfinite(ref) & np.isfinite(pred)
    p, r = pred[m] - pred[m].mean(), ref[m] - ref[m].mean()
    return float(np.linalg.norm(p - r) / max(np.linalg.norm(r), 1e-300))


def velocity_rel_l2(u, v, u_ref, v_ref) -> float:
    """‖(u, v) − (u_ref, v_ref)‖₂ / ‖(u_ref, v_ref)‖₂ (the vector field as a whole)."""
    return rel_l2(np.stack([u, v]), np.stack([u_ref, v_ref]))


def max_error(pred, ref) -> float:
    """max |pred − ref| over the finite entries."""
    pred, ref = _pair(pred, ref)
    return float(np.nanmax(np.abs(pred - ref)))


max_abs = max_error


def _frames(pred, ref, n_space: int):
    """Both as (B, T, N) float64 with N the flattened space: (…, *space) with n_space space axes."""
    pred, ref = _pair(pred, ref)
    lead = pred.shape[: pred.ndim - n_space]
    b = int(np.prod(lead[:-1])) if len(lead) >= 2 else 1
    t = lead[-1] if lead else 1
    return pred.reshape(b, t, -1), ref.reshape(b, t, -1)


def nrmse_frames(pred, ref, n_space: int) -> np.ndarray:
    """(B, T): ‖e_bt‖₂ / ‖y_bt‖₂ per sample and frame (PDEBench's nRMSE before averaging)."""
    p, r = _frames(pred, ref, n_space)
    return np.sqrt(((p - r) ** 2).mean(-1)) / np.maximum(np.sqrt((r ** 2).mean(-1)), 1e-300)


def nrmse(pred, ref, n_space: int | None = None) -> float:
    """PDEBench nRMSE: mean over samples and frames of the per-frame ‖e‖/‖y‖ (n_space: default all axes)."""
    pred = np.asarray(pred)
    return float(nrmse_frames(pred, ref, pred.ndim if n_space is None else n_space).mean())


def vrmse_frames(pred, ref, n_space: int) -> np.ndarray:
    """(B, T): sqrt(⟨e²⟩ / (⟨(y − ⟨y⟩)²⟩ + 1e-7)) per sample and frame (The Well's VRMSE)."""
    p, r = _frames(pred, ref, n_space)
    var = ((r - r.mean(-1, keepdims=True)) ** 2).mean(-1)
    return np.sqrt(((p - r) ** 2).mean(-1) / (var + VRMSE_EPS))


def vrmse(pred, ref, n_space: int | None = None) -> float:
    """The Well's VRMSE, averaged over samples and frames (n_space: default all axes are space)."""
    pred = np.asarray(pred)
    return float(vrmse_frames(pred, ref, pred.ndim if n_space is None else n_space).mean())


def rmse_frames(pred, ref, n_space: int) -> np.ndarray:
    p, r = _frames(pred, ref, n_space)
    return np.sqrt(((p - r) ** 2).mean(-1))


def brmse_frames(pred, ref, n_space: int) -> np.ndarray:
    """(B, T): RMS of e over the boundary points (first/last index of every space axis; PDEBench bRMSE)."""
    pred, ref = _pair(pred, ref)
    e2 = (pred - ref) ** 2
    lead = e2.shape[: e2.ndim - n_space]
    e2 = e2.reshape(-1, lead[-1] if lead else 1, *e2.shape[e2.ndim - n_space:])
    total, count = 0.0, 0
    for a in range(n_space):
        ax = 2 + a
        for idx in (0, -1):
            face = np.take(e2, idx, axis=ax)
            total = total + face.reshape(*face.shape[:2], -1).sum(-1)
            count += int(np.prod(face.shape[2:])) if face.ndim > 2 else 1
    return np.sqrt(total / count)


def crmse_frames(pred, ref, n_space: int) -> np.ndarray:
    """(T,): sqrt(mean_b (⟨pred⟩ − ⟨y⟩)²) per frame, ⟨·⟩ the domain mean (PDEBench cRMSE)."""
    p, r = _frames(pred, ref, n_space)
    return np.sqrt(((p.mean(-1) - r.mean(-1)) ** 2).mean(0))


def frmse_frames(pred, ref, n_space: int, lengths=None, bands=FOURIER_BANDS) -> dict[str, np.ndarray]:
    """{"low"|"mid"|"high": (T,)}: PDEBench's Fourier-band RMSE per frame (see the module table);
    a band with no shell on this grid is left out."""
    pred, ref = _pair(pred, ref)
    shape = pred.shape[pred.ndim - n_space:]
    lead = pred.shape[: pred.ndim - n_space]
    e = (pred - ref).reshape(-1, lead[-1] if lead else 1, *shape)
    lengths = [1.0] * n_space if lengths is None else [float(v) for v in lengths]
    axes = tuple(range(2, 2 + n_space))
    scale = math.prod(lengths) / math.prod(shape)
    if n_space == 1:
        spec = np.sqrt((np.abs(np.fft.rfft(e, axis=2)) ** 2).mean(0)) * scale  # (T, K)
        shell = spec.T
    else:
        power = np.abs(np.fft.fftn(e, axes=axes)) ** 2
        half = [n // 2 for n in shape]
        n_shell = min(half)
        power = power[(slice(None), slice(None), *[slice(0, h) for h in half])]
        k = np.sqrt(sum(g ** 2 for g in np.meshgrid(*[np.arange(h) for h in half], indexing="ij")))
        which = np.floor(k).astype(int)
        sums = np.zeros((*power.shape[:2], n_shell))
        for s in range(n_shell):
            sums[..., s] = power[..., which == s].sum(-1)
        shell = (np.sqrt(sums.mean(0)) * scale).T  # (K, T)
    lo, hi = bands
    out = {}
    for name, sl in (("low", slice(0, lo)), ("mid", slice(lo, hi)), ("high", slice(hi, None))):
        part = shell[sl]
        if part.shape[0]:  # a grid too coarse for a band (e.g. no shell >= 12 below n/2) has no value for it
            out[name] = part.mean(0)
    return out


def field_metrics(pred, ref, prefix: str, n_space: int, boundary: bool = True, fourier: bool = True,
                  lengths=None) -> dict[str, float]:
    """Every metric of the module table for one field, keys ``<prefix>_<metric>``.

    ``pred``, ``ref``: ``(batch, t, *space)``, ``(t, *space)`` or ``(*space)`` with ``n_space`` space
    axes. ``boundary``/``fourier``: include bRMSE / fRMSE (only meaningful on a full grid)."""
    out = {
        f"{prefix}_rel_l2": rel_l2(pred, ref),
        f"{prefix}_nrmse": float(nrmse_frames(pred, ref, n_space).mean()),
        f"{prefix}_vrmse": float(vrmse_frames(pred, ref, n_space).mean()),
        f"{prefix}_rmse": float(rmse_frames(pred, ref, n_space).mean()),
        f"{prefix}_crmse": float(crmse_frames(pred, ref, n_space).mean()),
        f"{prefix}_max_error": max_error(pred, ref),
    }
    if boundary:
        out[f"{prefix}_brmse"] = float(brmse_frames(pred, ref, n_space).mean())
    if fourier:
        for band, v in frmse_frames(pred, ref, n_space, lengths).items():
            out[f"{prefix}_frmse_{band}"] = float(np.mean(v))
    return out


def rollout_series(pred, ref, n_space: int, lengths=None) -> dict[str, list[float]]:
    """Each metric per frame of ``(batch, t, *space)`` rollouts (sample means), keys ``<metric>_vs_time``."""
    pred, ref = _pair(pred, ref)
    p, r = _frames(pred, ref, n_space)
    series = {
        "rel_l2_vs_time": np.sqrt(((p - r) ** 2).sum((0, 2)) / np.maximum((r ** 2).sum((0, 2)), 1e-300)),
        "nrmse_vs_time": nrmse_frames(pred, ref, n_space).mean(0),
        "vrmse_vs_time": vrmse_frames(pred, ref, n_space).mean(0),
        "rmse_vs_time": rmse_frames(pred, ref, n_space).mean(0),
        "brmse_vs_time": brmse_frames(pred, ref, n_space).mean(0),
        "crmse_vs_time": crmse_frames(pred, ref, n_space),
        "max_error_vs_time": np.abs(p - r).max(axis=(0, 2)),
    }
    for band, v in frmse_frames(pred, ref, n_space, lengths).items():
        series[f"frmse_{band}_vs_time"] = v
    return {k: [float(x) for x in v] for k, v in series.items()}
