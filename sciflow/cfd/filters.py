"""Filters that coarse-grain channel DNS fields onto training grids.

Homogeneous directions (x, z, periodic): a sharp spectral cutoff at the coarse grid's
resolvable wavenumbers (``|k| < N_c/2``; the coarse Nyquist mode is dropped), optionally
preceded by a top-hat (box) filter of width equal to the coarse spacing, whose transfer
function is ``sin(kΔ/2)/(kΔ/2)`` (Pope 2000, Table 13.2). The result is sampled exactly on
the coarse uniform grid (trigonometric interpolation).

Wall-normal direction (non-uniform, walls at ±1): a box filter of local width
``Δ_y(y_c) = min(coarse spacing, 2·wall distance)`` applied to the piecewise-linear
interpolant of the fine data (wall values included), evaluated at the coarse points; the
width shrinks to zero at the walls so the filtered field keeps the no-slip condition.
It is a linear map, built once as a matrix ``W (n_coarse, n_fine)``.

Arrays are y-first like the solver: ``(ny, nx, nz)``.
"""

from __future__ import annotations

import numpy as np
import torch

from sciflow.cfd.channel_operators import tanh_faces


def coarse_y_points(ny: int, stretch: float) -> np.ndarray:
    """``ny`` wall-normal points incl. both walls, tanh-stretched like the solver grid."""
    return tanh_faces(ny - 1, stretch)


def box_width_y(yc: np.ndarray) -> np.ndarray:
    """Local box width min(½(y_{j+1}-y_{j-1}), 2·(1-|y_j|)) at coarse points (ends one-sided)."""
    sp = np.gradient(yc)
    return np.minimum(sp, 2.0 * (1.0 - np.abs(yc)))


def interp_matrix(xs: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Linear-interpolation matrix P (len(xq), len(xs)) with P @ f(xs) ≈ f(xq), xs increasing."""
    P = np.zeros((len(xq), len(xs)))
    idx = np.clip(np.searchsorted(xs, xq) - 1, 0, len(xs) - 2)
    t = np.clip((xq - xs[idx]) / (xs[idx + 1] - xs[idx]), 0.0, 1.0)
    P[np.arange(len(xq)), idx] = 1.0 - t
    P[np.arange(len(xq)), idx + 1] = t
    return P


def box_matrix_y(y_fine: np.ndarray, y_coarse: np.ndarray, width: np.ndarray, n_quad: int = 64,
                 wall_value_zero: bool = True) -> np.ndarray:
    """W (n_coarse, n_fine): box average of the linear interpolant over [y - Δ/2, y + Δ/2].

    If ``wall_value_zero`` the fine data are extended by zeros at y = ±1 (velocity at
    centres; the no-slip wall value). Midpoint quadrature with ``n_quad`` points per box.
    """
    ys = y_fine
    ext = wall_value_zero and (ys[0] > -1.0 or ys[-1] < 1.0)
    if ext:
        ys = np.r_[-1.0, y_fine, 1.0]
    W = np.zeros((len(y_coarse), len(ys)))
    for j, (yc, d) in enumerate(zip(y_coarse, width)):
        if d <= 0.0:
            W[j] = interp_matrix(ys, np.array([yc]))[0]
        else:
            q = yc - 0.5 * d + d * (np.arange(n_quad) + 0.5) / n_quad
            W[j] = interp_matrix(ys, q).mean(0)
    return W[:, 1:-1] if ext else W


def spectral_coarsen_xz(f: torch.Tensor, nx_c: int, nz_c: int, box: bool = False, lx: float = 1.0,
                        lz: float = 1.0) -> torch.Tensor:
    """Sharp spectral (optionally box-then-sharp) filter in x, z and sampling on the coarse grid.

    f: (ny, Nx, Nz) real → (ny, nx_c, nz_c) real. Keeps |kx| < nx_c/2 and kz < nz_c/2.
    ``box`` multiplies by the top-hat transfer function of width lx/nx_c, lz/nz_c first.
    """
    ny, nx, nz = f.shape
    fh = torch.fft.rfftn(f, dim=(1, 2))
    kx = torch.fft.fftfreq(nx, 1.0 / nx, device=f.device, dtype=f.dtype)
    kz = torch.fft.rfftfreq(nz, 1.0 / nz, device=f.device, dtype=f.dtype)
    if box:
        hx = torch.sinc(kx / nx_c)  # sinc(x) = sin(πx)/(πx); kΔ/2 = π k_int / nx_c
        hz = torch.sinc(kz / nz_c)
        fh = fh * hx[None, :, None] * hz[None, None, :]
    kxm, kzm = (nx_c - 1) // 2, (nz_c - 1) // 2
    out = torch.zeros(ny, nx_c, nz_c // 2 + 1, dtype=fh.dtype, device=f.device)
    kxm_eff, kzm_eff = min(kxm, (nx - 1) // 2), min(kzm, nz // 2)
    out[:, : kxm_eff + 1, : kzm_eff + 1] = fh[:, : kxm_eff + 1, : kzm_eff + 1]
    if kxm_eff > 0:
        out[:, nx_c - kxm_eff :, : kzm_eff + 1] = fh[:, nx - kxm_eff :, : kzm_eff + 1]
    scale = (nx_c * nz_c) / (nx * nz)
    return torch.fft.irfftn(out * scale, s=(nx_c, nz_c), dim=(1, 2))


class ChannelCoarsener:
    """Filter (u, v, w) of a ``ChannelSolver`` onto a coarse (nx_c, ny_c, nz_c) grid.

    The coarse y points include the walls (``coarse_y_points``); u and w come from the fine
    centres (wall value 0 added), v from the fine faces. Output arrays (ny_c, nx_c, nz_c).
    """

    def __init__(self, solver, nx_c: int, ny_c: int, nz_c: int, kind: str = "spectral", stretch: float | None = None):
        s = solver
        self.s, self.nx_c, self.ny_c, self.nz_c, self.kind = s, nx_c, ny_c, nz_c, kind
        if kind not in ("spectral", "box"):
            raise ValueError(f"filter kind must be 'spectral' or 'box', got {kind!r}")
        self.y = coarse_y_points(ny_c, s.cfg.stretch if stretch is None else stretch)
        self.width_y = box_width_y(self.y)
        t = lambda a: torch.as_tensor(a, device=s.device, dtype=s.rdtype)  # noqa: E731
        self.Wc = t(box_matrix_y(s.grid.yc, self.y, self.width_y))
        self.Wf = t(box_matrix_y(s.grid.yf, self.y, self.width_y))
        self.x = np.arange(nx_c) * s.cfg.lx / nx_c
        self.z = np.arange(nz_c) * s.cfg.lz / nz_c
        self.width_x, self.width_z = s.cfg.lx / nx_c, s.cfg.lz / nz_c

    def _y(self, W, f):
        ny = f.shape[0]
        return (W @ f.reshape(ny, -1)).reshape(W.shape[0], *f.shape[1:])

    def __call__(self):
        """Filtered (u, v, w) on the coarse grid, each (ny_c, nx_c, nz_c) torch tensors."""
        u, v, w = self.s.fields()
        box = self.kind == "box"
        cx = lambda f: spectral_coarsen_xz(f, self.nx_c, self.nz_c, box)  # noqa: E731
        return self._y(self.Wc, cx(u)), self._y(self.Wf, cx(v)), self._y(self.Wc, cx(w))
