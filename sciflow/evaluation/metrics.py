"""Error metrics shared by every evaluation (numpy arrays; NaN entries are ignored)."""

from __future__ import annotations

import numpy as np


def rel_l2(pred, ref) -> float:
    """‖pred − ref‖₂ / ‖ref‖₂ over the finite entries of ref."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    m = np.isfinite(ref) & np.isfinite(pred)
    return float(np.linalg.norm(pred[m] - ref[m]) / max(np.linalg.norm(ref[m]), 1e-300))


def rel_l2_up_to_constant(pred, ref) -> float:
    """Relative L2 after removing each field's mean (pressure is defined up to a constant)."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    m = np.isfinite(ref) & np.isfinite(pred)
    p, r = pred[m] - pred[m].mean(), ref[m] - ref[m].mean()
    return float(np.linalg.norm(p - r) / max(np.linalg.norm(r), 1e-300))


def velocity_rel_l2(u, v, u_ref, v_ref) -> float:
    """‖(u, v) − (u_ref, v_ref)‖₂ / ‖(u_ref, v_ref)‖₂ (the vector field as a whole)."""
    return rel_l2(np.stack([u, v]), np.stack([u_ref, v_ref]))


def nrmse(pred, ref) -> float:
    """Root-mean-square error normalised by the reference's standard deviation."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    m = np.isfinite(ref) & np.isfinite(pred)
    return float(np.sqrt(np.mean((pred[m] - ref[m]) ** 2)) / max(np.std(ref[m]), 1e-300))


def max_abs(pred, ref) -> float:
    return float(np.nanmax(np.abs(np.asarray(pred, float) - np.asarray(ref, float))))
