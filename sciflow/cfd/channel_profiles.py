"""Mean-velocity and rms profiles of channel states on a coarse grid, and their relative errors.

For states u_i(x, y, z) (i = u, v, w) sampled N times, the profiles are averages over samples, x and z:

    U_i(y) = ⟨u_i⟩,    u'_i(y) = ⟨(u_i − U_i)²⟩^{1/2} = (⟨u_i²⟩ − U_i²)^{1/2},
    ⟨u'v'⟩(y) = ⟨u v⟩ − U V   (the Reynolds shear stress; uv⁺ in wall units, odd in y)

accumulated online (float64 sums), so a rollout of thousands of states need not be stored.
Errors against reference profiles, after folding both channel halves onto each other
(f(y) ← ½ (f(y) + f(−y)); the grid is symmetric):

    U_plus_max_rel_err = max_y |Û − U| / max_y U,     rms_max_rel_err = max_{i, y} |û'_i − u'_i| / max_y u'_i,
    uv_plus_max_rel_err = max_y |⟨û'v̂'⟩ − ⟨u'v'⟩| / max_y |⟨u'v'⟩|   (⟨u'v'⟩ folded as an odd function:
                          f(y) ← ½ (f(y) − f(−y))).

The skin friction and the flow rate of a rollout against the reference (:func:`wall_shear_and_bulk`):

    wall_shear_ratio = τ̂_w / τ_w   (both walls' mean; τ_w = ν dU/dy at the wall from :func:`wall_slope_weights`,
                                   so the ratio is (Re_τ of the rollout / Re_τ)²),
    bulk_velocity_ratio = Û_b / U_b,   U_b = ½ ∫ U dy (trapezoid rule).
"""

from __future__ import annotations

import numpy as np
import torch


class ProfileAccumulator:
    """Running sums of u_i, u_i² and u v over samples, x and z; states (N, X, Y, Z, 3)."""

    def __init__(self):
        self.n, self.s1, self.s2, self.suv = 0, None, None, None

    def add(self, states: np.ndarray):
        f = np.asarray(states, dtype=np.float64)
        if f.ndim != 5 or f.shape[-1] != 3:
            raise ValueError(f"ProfileAccumulator: states must be (N, X, Y, Z, 3), got {f.shape}")
        s1, s2 = f.sum(axis=(0, 1, 3)), (f * f).sum(axis=(0, 1, 3))  # (Y, 3)
        suv = (f[..., 0] * f[..., 1]).sum(axis=(0, 1, 3))  # (Y,)
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.suv = suv if self.suv is None else self.suv + suv
        self.n += f.shape[0] * f.shape[1] * f.shape[3]

    def profiles(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (3, Y) and rms (3, Y)."""
        if not self.n:
            raise ValueError("ProfileAccumulator: no states added")
        mean = self.s1 / self.n
        return mean.T, np.sqrt(np.maximum(self.s2 / self.n - mean * mean, 0.0)).T

    def shear_stress(self) -> np.ndarray:
        """Reynolds shear stress ⟨u'v'⟩ = ⟨u v⟩ − U V, shape (Y,)."""
        if not self.n:
            raise ValueError("ProfileAccumulator: no states added")
        mean = self.s1 / self.n
        return self.suv / self.n - mean[:, 0] * mean[:, 1]


def profiles(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fields (N, X, Y, Z, 3) → mean (3, Y) and rms (3, Y) over samples, x and z."""
    acc = ProfileAccumulator()
    acc.add(fields)
    return acc.profiles()


PLANE_STATISTICS = ("U", "u_rms", "v_rms", "w_rms", "uv")


def plane_statistics(frames: torch.Tensor) -> torch.Tensor:
    """The profiles of each single state, differentiable (torch): frames (B, F, X, Y, Z, 3) → (B, F, 5, Y − 2),
    over the interior rows 1 … Y−2 (the walls hold u = 0), in the order of ``PLANE_STATISTICS``:
    U(y) = ⟨u⟩_xz, u'_i(y) = ⟨(u_i − ⟨u_i⟩_xz)²⟩_xz^{1/2} (i = u, v, w), ⟨u'v'⟩_xz(y)."""
    if frames.dim() != 6 or frames.shape[-1] != 3:
        raise ValueError(f"plane_statistics: frames must be (B, F, X, Y, Z, 3), got {tuple(frames.shape)}")
    f = frames[:, :, :, 1:-1]
    mean = f.mean(dim=(2, 4), keepdim=True)  # (B, F, 1, Y−2, 1, 3)
    fl = f - mean
    rms = (fl * fl).mean(dim=(2, 4)).clamp_min(1e-30).sqrt()  # (B, F, Y−2, 3)
    uv = (fl[..., 0] * fl[..., 1]).mean(dim=(2, 4))  # (B, F, Y−2)
    return torch.stack([mean[:, :, 0, :, 0, 0], rms[..., 0], rms[..., 1], rms[..., 2], uv], dim=2)


def wall_slope_weights(y: np.ndarray) -> np.ndarray:
    """Weights g (Y,) with ½ (dU/dη|_{y=−1} + dU/dη|_{y=1}) = Σ_j g_j U(y_j), η the distance from the wall: the
    second-order one-sided difference through the wall value (taken as zero, no slip) and the first two rows
    off each wall (U = a η + b η² through them: dU/dη = a). y (Y,) increasing from −1 to 1, walls included."""
    y = np.asarray(y, dtype=np.float64)
    g = np.zeros_like(y)
    for rows, eta in (([1, 2], y[[1, 2]] - y[0]), ([-2, -3], y[-1] - y[[-2, -3]])):
        h1, h2 = float(eta[0]), float(eta[1])
        g[rows[0]] += 0.5 * h2 ** 2 / (h1 * h2 * (h2 - h1))
        g[rows[1]] -= 0.5 * h1 ** 2 / (h1 * h2 * (h2 - h1))
    return g


def wall_shear_and_bulk(u_pred: np.ndarray, u_ref: np.ndarray, y: np.ndarray) -> dict:
    """``wall_shear_ratio``, ``wall_shear_rel_err`` (|ratio − 1|) and ``bulk_velocity_ratio`` (module docstring)
    of mean streamwise profiles u_pred, u_ref (Y,) on y (Y,)."""
    g = wall_slope_weights(y)
    ratio = float(g @ u_pred / (g @ u_ref))
    return {"wall_shear_ratio": ratio, "wall_shear_rel_err": abs(ratio - 1.0),
            "bulk_velocity_ratio": float(np.trapezoid(u_pred, y) / np.trapezoid(u_ref, y))}


def _fold(a: np.ndarray, odd: bool = False) -> np.ndarray:
    return 0.5 * (a - a[..., ::-1]) if odd else 0.5 * (a + a[..., ::-1])


def profile_errors(pred: ProfileAccumulator, ref: ProfileAccumulator) -> dict:
    """Max relative profile errors (module docstring) and the folded profiles."""
    mp, rp = pred.profiles()
    mr, rr = ref.profiles()
    u_err = float(np.max(np.abs(_fold(mp[0]) - _fold(mr[0]))) / np.max(np.abs(mr[0])))
    rms_err = float(max(np.max(np.abs(_fold(rp[i]) - _fold(rr[i]))) / np.max(rr[i]) for i in range(3)))
    uvp, uvr = _fold(pred.shear_stress(), odd=True), _fold(ref.shear_stress(), odd=True)
    uv_err = float(np.max(np.abs(uvp - uvr)) / np.max(np.abs(uvr)))
    return {"U_plus_max_rel_err": u_err, "rms_max_rel_err": rms_err, "uv_plus_max_rel_err": uv_err,
            "U_pred": _fold(mp[0]).tolist(), "U_ref": _fold(mr[0]).tolist(), "rms_pred": _fold(rp).tolist(),
            "rms_ref": _fold(rr).tolist(), "uv_pred": uvp.tolist(), "uv_ref": uvr.tolist()}
