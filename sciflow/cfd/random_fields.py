"""Gaussian random fields on the periodic box, used as initial vorticity for 2D Navier-Stokes.

The field is a zero-mean Gaussian measure with covariance operator

    C = c · (−Δ + τ² I)^(−α)          on [0, L)^2 with periodic boundary conditions,

as in Li et al., "Fourier Neural Operator for Parametric PDEs" (ICLR 2021), §5.3:
ω₀ ~ N(0, 7^{3/2} (−Δ + 49 I)^{−2.5}).  The eigenfunctions of −Δ are
e_k(x) = exp(2πi k·x / L) / L (orthonormal in L²) with eigenvalues λ_k = 4π²|k|²/L², so the
Karhunen-Loève expansion gives the point covariance

    E[ω(x) ω(x')] = Σ_{k≠0} c (λ_k + τ²)^(−α) cos(2π k·(x − x')/L) / L²        (1)

truncated to the modes the grid resolves.  The k = 0 mode is removed (zero-mean field).

Prefactor ``c``: the paper writes it as τ^{(2α−d)/2} = 7^{3/2}; the generator released with the
paper (and used for the published FNO datasets) multiplies complex white noise by
√2·τ^{(2α−d)/2}·(λ_k + τ²)^{−α/2} and takes the real part, which realises c = 2 τ^{2α−d}
(= 686 for α = 2.5, τ = 7, d = 2).  ``scale="fno"`` (default) uses that value so that sciflow's
trajectories are statistically the FNO data; ``scale="paper"`` uses 7^{3/2}; a number sets c.

Sampling (exact for the truncated measure): draw real white noise ξ on the n×n grid,
ξ̂ = FFT(ξ) has E[ξ̂_k ξ̂*_k'] = n² δ_kk' and Hermitian symmetry, and
ω = IFFT(√C_k ξ̂_k / n) / L has covariance (1) exactly (Nyquist modes included).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciflow.errors import SciflowError


def wavenumbers(n: int, device=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer wavenumbers of an ``rfft2`` array: ``kx`` shape (n, 1), ``ky`` shape (1, n//2+1)."""
    kx = torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype).reshape(n, 1)
    ky = torch.fft.rfftfreq(n, d=1.0 / n, device=device, dtype=dtype).reshape(1, n // 2 + 1)
    return kx, ky


class GaussianRandomField:
    """Zero-mean periodic GRF with covariance c (−Δ + τ²)^(−α) on [0, L)², sampled on an n×n grid.

    Args:
        n: grid points per direction (samples have shape (num, n, n), index [b, i, j] at
           x_i = i L / n, y_j = j L / n).
        alpha, tau: smoothness and inverse length scale of the covariance.
        scale: covariance prefactor c: ``"fno"`` (2 τ^{2α−2}, the released FNO generator),
           ``"paper"`` (τ^{(2α−2)/2}, as printed in the FNO paper) or a positive number.
        length: box side L.
    """

    def __init__(self, n: int, alpha: float = 2.5, tau: float = 7.0, scale="fno", length: float = 1.0,
                 device="cpu", dtype=torch.float64):
        if n < 2:
            raise SciflowError(f"GaussianRandomField: n must be >= 2, got {n}")
        if isinstance(scale, str):
            if scale == "fno":
                c = 2.0 * tau ** (2 * alpha - 2)
            elif scale == "paper":
                c = tau ** (0.5 * (2 * alpha - 2))
            else:
                raise SciflowError(f"GaussianRandomField: scale must be 'fno', 'paper' or a number, got {scale!r}")
        else:
            c = float(scale)
        if not c > 0:
            raise SciflowError(f"GaussianRandomField: scale must be positive, got {scale!r}")
        self.n, self.alpha, self.tau, self.scale, self.length = n, alpha, tau, c, length
        self.device, self.dtype = torch.device(device), dtype
        self.eigenvalues = self.covariance_eigenvalues()  # (n, n//2+1), C_k in (1)

    def covariance_eigenvalues(self) -> torch.Tensor:
        """C_k = c (4π²|k|²/L² + τ²)^(−α) on the rfft2 layout (n, n//2+1), with C_0 = 0."""
        kx, ky = wavenumbers(self.n, device=self.device, dtype=torch.float64)
        lam = 4 * math.pi**2 * (kx**2 + ky**2) / self.length**2
        eig = self.scale * (lam + self.tau**2) ** (-self.alpha)
        eig[0, 0] = 0.0
        return eig

    def pointwise_variance(self) -> float:
        """E[ω(x)²] of the grid-truncated field, Σ_k C_k / L² over the full (n, n) spectrum (1)."""
        eig = self.eigenvalues
        # rfft layout holds ky >= 0; columns 1..n/2-1 (and n/2 when n is odd) stand for ±ky.
        weight = torch.full((1, eig.shape[1]), 2.0, dtype=eig.dtype, device=eig.device)
        weight[0, 0] = 1.0
        if self.n % 2 == 0:
            weight[0, -1] = 1.0
        return float((eig * weight).sum()) / self.length**2

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``num`` independent fields, shape (num, n, n), dtype/device of the field."""
        noise = torch.randn(num, self.n, self.n, generator=generator, dtype=torch.float64,
                            device=generator.device if generator is not None else self.device)
        noise = noise.to(self.device)
        coef = torch.fft.rfft2(noise) * (self.eigenvalues.sqrt() / self.n)
        field = torch.fft.irfft2(coef, s=(self.n, self.n), norm="forward") / self.length
        return field.to(self.dtype)

    def sample_indexed(self, seed: int, first: int, count: int) -> torch.Tensor:
        """Samples number first, …, first+count−1 of a seeded sequence, shape (count, n, n).

        Sample i is drawn from its own generator (seed spawned from ``seed`` and i by numpy's
        SeedSequence), so a data set does not depend on how it is cut into batches or on the device."""
        seqs = np.random.SeedSequence(int(seed)).spawn(first + count)[first:]
        gens = [torch.Generator().manual_seed(int(q.generate_state(1, np.uint64)[0] >> np.uint64(1))) for q in seqs]
        cpu = GaussianRandomField(self.n, self.alpha, self.tau, self.scale, self.length, "cpu", self.dtype)
        return torch.cat([cpu.sample(1, g) for g in gens]).to(self.device)
