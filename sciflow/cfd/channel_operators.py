"""Wall-normal grid and second-order operators of the staggered channel solver.

Grid (Harlow & Welch 1965 staggering in y, Fourier in x and z):

* faces ``yf[j]``, ``j = 0..Ny``, tanh-stretched, walls at ``yf[0] = -1`` and ``yf[Ny] = +1``;
  the wall-normal velocity ``v`` lives on the ``Ny - 1`` interior faces (``v = 0`` on walls);
* centres ``yc[j] = (yf[j] + yf[j+1]) / 2``, ``j = 0..Ny-1``; ``u``, ``w`` and ``p`` live there.

Every 1D operator used implicitly has the form ``A = diag(1/m) K`` with ``K`` symmetric
negative (semi-)definite and ``m > 0`` (cell widths), so ``A`` is diagonalisable with real
eigenvalues through the symmetric matrix ``diag(m)^(-1/2) K diag(m)^(-1/2) = Q Λ Q^T``:
``A = V Λ V^{-1}`` with ``V = diag(m)^(-1/2) Q`` and ``V^{-1} = Q^T diag(m)^(1/2)``.
The Helmholtz problems ``(I - c (A - k^2)) x = r`` and the Poisson problem
``(A - k^2) x = r`` for all horizontal wave numbers are then a dense matmul into the
eigenbasis, a division by ``1 - c (λ - k^2)`` (or ``λ - k^2``) and a matmul back — no
per-mode tridiagonal loops, the same code on CPU and GPU (cf. the partial-diagonalisation
Poisson solvers of Schumann & Sweet 1988).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def tanh_faces(ny: int, stretch: float) -> np.ndarray:
    """Face coordinates ``yf`` (shape ``(ny+1,)``) in [-1, 1]: ``tanh(γ ξ)/tanh(γ)``, ξ uniform.

    ``stretch = γ``; γ → 0 gives a uniform grid.
    """
    xi = np.linspace(-1.0, 1.0, ny + 1)
    if stretch <= 1e-8:
        return xi
    yf = np.tanh(stretch * xi) / np.tanh(stretch)
    yf[0], yf[-1] = -1.0, 1.0
    return yf


@dataclass
class WallNormalGrid:
    """Staggered wall-normal grid: arrays in float64 numpy.

    yf: (Ny+1,) faces; yc: (Ny,) centres; dy: (Ny,) cell widths ``yf[j+1]-yf[j]``;
    h: (Ny+1,) centre-to-centre distances incl. the half cells at the walls
    (``h[0] = yc[0]-yf[0]``, ``h[Ny] = yf[Ny]-yc[Ny-1]``); h_int = h[1:-1] (Ny-1,).
    """

    yf: np.ndarray

    def __post_init__(self):
        yf = np.asarray(self.yf, dtype=np.float64)
        self.yf = yf
        self.ny = len(yf) - 1
        self.yc = 0.5 * (yf[1:] + yf[:-1])
        self.dy = np.diff(yf)
        self.h = np.concatenate([[self.yc[0] - yf[0]], np.diff(self.yc), [yf[-1] - self.yc[-1]]])
        self.h_int = self.h[1:-1]

    @classmethod
    def tanh(cls, ny: int, stretch: float) -> "WallNormalGrid":
        return cls(tanh_faces(ny, stretch))

    # --- incidence matrices -------------------------------------------------
    def face_difference(self) -> np.ndarray:
        """C: (Ny, Ny-1); ``(C v)_j = v_{j+1} - v_j`` for interior-face values v (walls 0)."""
        n = self.ny
        C = np.zeros((n, n - 1))
        for j in range(n):
            if j < n - 1:
                C[j, j] = 1.0  # v_{j+1} is interior column j
            if j > 0:
                C[j, j - 1] = -1.0  # v_j is interior column j-1
        return C

    def centre_difference_with_walls(self) -> np.ndarray:
        """B: (Ny+1, Ny); ``(B u)_j = u_j - u_{j-1}`` at face j, with u = 0 on the walls."""
        n = self.ny
        B = np.zeros((n + 1, n))
        for j in range(n + 1):
            if j < n:
                B[j, j] = 1.0
            if j > 0:
                B[j, j - 1] = -1.0
        return B

    # --- symmetric parts K and weights m of the operators A = diag(1/m) K ---
    def laplacian_centres(self):
        """d²/dy² at centres with Dirichlet 0 on the walls (value at the wall face).

        (D2 u)_j = [(u_{j+1}-u_j)/h_{j+1} - (u_j-u_{j-1})/h_j] / dy_j, u_{-1} = u_{Ny} = 0.
        Returns (K, m) with D2 = diag(1/m) K.
        """
        B = self.centre_difference_with_walls()
        return -B.T @ np.diag(1.0 / self.h) @ B, self.dy.copy()

    def laplacian_faces(self):
        """d²/dy² at interior faces with v = 0 on the walls; returns (K, m = h_int)."""
        C = self.face_difference()
        return -C.T @ np.diag(1.0 / self.dy) @ C, self.h_int.copy()

    def laplacian_pressure(self):
        """div(grad p) in y at centres: D_c G_f with v-type (zero-flux) walls; (K, m = dy).

        (G p)_j = (p_j - p_{j-1}) / h_j at interior faces, (D v)_j = (v_{j+1}-v_j)/dy_j.
        K has one zero eigenvalue (constant p).
        """
        C = self.face_difference()
        return -C @ np.diag(1.0 / self.h_int) @ C.T, self.dy.copy()


class EigenOperator:
    """``A = diag(1/m) K = V Λ V^{-1}`` stored as torch tensors for batched solves.

    Fields are stored y-first: a spectral array has shape ``(n, Nx, Nz//2+1)`` complex;
    ``to_eig``/``from_eig`` multiply along dim 0 with real matrices (complex viewed as
    pairs of reals, so one real GEMM per transform).
    """

    def __init__(self, K: np.ndarray, m: np.ndarray, device, dtype):
        s = 1.0 / np.sqrt(m)
        S = s[:, None] * K * s[None, :]
        S = 0.5 * (S + S.T)
        lam, Q = np.linalg.eigh(S)
        self.lam_np = lam
        self.lam = torch.as_tensor(lam, device=device, dtype=dtype)
        self.V = torch.as_tensor(s[:, None] * Q, device=device, dtype=dtype).contiguous()
        self.Vinv = torch.as_tensor(Q.T * np.sqrt(m)[None, :], device=device, dtype=dtype).contiguous()
        self.A = torch.as_tensor(K / m[:, None], device=device, dtype=dtype)

    @staticmethod
    def _apply(M: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        xr = torch.view_as_real(x.contiguous()).reshape(n, -1)
        y = (M @ xr).reshape(M.shape[0], *x.shape[1:], 2)
        return torch.view_as_complex(y)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """A x along dim 0 (x complex (n, ...))."""
        return self._apply(self.A, x)

    def to_eig(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(self.Vinv, x)

    def from_eig(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(self.V, x)

    def solve(self, rhs: torch.Tensor, inv_diag: torch.Tensor) -> torch.Tensor:
        """x = V diag(inv_diag) V^{-1} rhs; ``inv_diag`` real, broadcastable to rhs (n, Nx, Nzr)."""
        return self.from_eig(self.to_eig(rhs) * inv_diag)


def wall_slope(yc: np.ndarray, prof: np.ndarray, wall: float = -1.0) -> float:
    """dU/dy at a wall from the quadratic through (wall, 0) and the two nearest centres.

    prof: (Ny,) at centres yc; wall = -1 (lower) or +1 (upper; slope returned as -dU/dy so
    both walls give a positive value for a positive flow).
    """
    if wall < 0:
        d0, d1, u0, u1 = yc[0] + 1.0, yc[1] + 1.0, prof[0], prof[1]
    else:
        d0, d1, u0, u1 = 1.0 - yc[-1], 1.0 - yc[-2], prof[-1], prof[-2]
    return float((u0 * d1**2 - u1 * d0**2) / (d0 * d1 * (d1 - d0)))
