"""Pseudo-spectral 2D incompressible Navier-Stokes in vorticity form on the periodic box [0, L)².

Equations (Li et al., FNO, ICLR 2021, eq. 14; nondimensional, L = 1 by default):

    ∂_t ω + u·∇ω = ν Δω − μ ω + f,      u = (∂_y ψ, −∂_x ψ),   −Δψ = ω,             (1)

with viscosity ν, optional linear drag μ and a time-independent forcing f(x, y).

Discretisation (per Fourier mode k = 2π(k_x, k_y)/L, ω̂ = rfft2(ω)):
- derivatives exact in Fourier space; the product u·∇ω is evaluated on the grid and
  dealiased with the 2/3 rule: only modes with |k_x|, |k_y| < n/3 (integer wavenumbers) are kept,
  so the retained modes of the product of two band-limited fields are free of aliasing;
- the linear part and the forcing are integrated exactly: with Λ_k = −ν|k|² − μ, the Stokes
  state ω̂_s = −f̂/Λ solves Λ ω̂_s + f̂ = 0, and ζ = ω − ω_s obeys ζ' = Λζ + N(ζ + ω_s) with
  N(ω) = −P(u·∇ω);  N is advanced with the integrating-factor (Lawson) RK4 scheme:

      k1 = N(ζ)                              a = E½ (ζ + h/2 k1),      k2 = N(a)
      b  = E½ ζ + h/2 k2,       k3 = N(b)    c = E ζ + h E½ k3,        k4 = N(c)
      ζ⁺ = E ζ + h/6 (E k1 + 2 E½ (k2 + k3) + k4),      E = exp(Λh), E½ = exp(Λh/2).

  Taylor-Green vortices (N = 0) decay exactly, the laminar Kolmogorov state is a fixed point
  to round-off, and the scheme's only restriction is the advective CFL number
  C = h (max|u| + max|v|) n / L (stable to C ≈ 1.3 on the imaginary axis; default target 0.5).
- forcing is transformed once (projected to the retained modes) and never re-evaluated.
- the time stepper keeps only the retained columns k_y < n/3 of the rfft2 layout (all others are
  zero in every state): its operators, stage updates and column FFTs act on n × kc arrays
  (kc ≈ n/3), the row transforms zero-pad to n.  On a CPU, large batches are stepped in blocks of
  trajectories whose grid fields fit in cache (``CPU_BLOCK_BYTES``); one step size for the batch.

Tensors: physical fields have shape (batch, n, n) with index [b, i, j] at (x_i, y_j) = (iL/n, jL/n);
spectral fields (batch, n, n//2+1).  Works on any torch device; float32 or float64.
The dataset recipe ``ns2d`` (FNO/DyMixOp trajectories) is :mod:`sciflow.cfd.ns2d_recipe`.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from sciflow.errors import SciflowError


def resolve_device(device) -> torch.device:
    """``"auto"`` → CUDA, then MPS, then CPU; anything else is passed to ``torch.device``."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def grid(n: int, length: float = 1.0, device="cpu", dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid coordinates ``x, y`` of shape (n, n) (``indexing="ij"``): x_i = iL/n, y_j = jL/n."""
    c = torch.arange(n, device=device, dtype=dtype) * (length / n)
    return torch.meshgrid(c, c, indexing="ij")


def fno_forcing(amplitude: float = 0.1) -> Callable:
    """f(x, y) = A (sin 2π(x+y) + cos 2π(x+y)), the forcing of the FNO Navier-Stokes data (A = 0.1)."""

    def f(x, y):
        return amplitude * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))

    f.formula = f"{amplitude} * (sin(2*pi*(x+y)) + cos(2*pi*(x+y)))"
    return f


def kolmogorov_forcing(amplitude: float = 1.0, wavenumber: int = 4, length: float = 1.0) -> Callable:
    """Kolmogorov forcing f(x, y) = A sin(2π m y / L) of the vorticity equation."""

    def f(x, y):
        return amplitude * torch.sin(2 * math.pi * wavenumber * y / length)

    f.formula = f"{amplitude} * sin(2*pi*{wavenumber}*y/{length})"
    return f


CPU_BLOCK_BYTES = 1 << 20  # ~ one core's L2: larger batches are stepped in blocks (measured, 64²/128²)


class PseudoSpectralNS2D:
    """Batched pseudo-spectral solver of (1) on an n×n periodic grid.

    Args:
        n: grid points per direction (even, >= 8).
        nu: kinematic viscosity ν >= 0.  drag: linear drag μ >= 0.
        forcing: None, a tensor (n, n) of f on the grid, or a callable ``f(x, y)`` of (n, n)
            coordinate tensors (see :func:`grid`); transformed once and kept in Fourier space.
        length: box side L.  dealias: apply the 2/3 rule (turn off only to study aliasing).
        device, dtype: where and in which precision to solve.  ``torch.set_flush_denormal(True)``
            is switched on (denormals otherwise slow float64 CPU runs by more than 100×).
    """

    def __init__(self, n: int, nu: float, forcing=None, drag: float = 0.0, length: float = 1.0,
                 dealias: bool = True, device="cpu", dtype=torch.float64):
        if n < 8 or n % 2:
            raise SciflowError(f"spectral2d: grid size n must be even and >= 8, got {n}")
        if nu < 0 or drag < 0:
            raise SciflowError(f"spectral2d: nu and drag must be >= 0, got nu={nu}, drag={drag}")
        if dtype not in (torch.float32, torch.float64):
            raise SciflowError(f"spectral2d: dtype must be float32 or float64, got {dtype}")
        torch.set_flush_denormal(True)
        self.n, self.nu, self.drag, self.length = n, float(nu), float(drag), float(length)
        self.device, self.dtype = resolve_device(device), dtype
        dev = self.device
        ix = torch.fft.fftfreq(n, d=1.0 / n, device=dev, dtype=torch.float64).reshape(n, 1)
        iy = torch.fft.rfftfreq(n, d=1.0 / n, device=dev, dtype=torch.float64).reshape(1, n // 2 + 1)
        kx, ky = 2 * math.pi / length * ix, 2 * math.pi / length * iy
        k2 = kx**2 + ky**2
        keep = (ix.abs() < n / 3) & (iy.abs() < n / 3) if dealias else torch.ones_like(k2, dtype=torch.bool)
        self.mask = keep.to(dtype)  # (n, n//2+1) 0/1
        self.ikx = (1j * kx).to(self._cdtype)  # (n, 1)
        self.iky = (1j * ky).to(self._cdtype)  # (1, n//2+1)
        self.k2 = k2.to(dtype)
        self.inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0).to(dtype)
        lam = -self.nu * k2 - self.drag  # Λ_k, float64 for accurate exponentials
        self._lam = lam
        self.forcing_hat = torch.zeros(n, n // 2 + 1, dtype=self._cdtype, device=dev)
        self.forcing_formula = "0"
        if forcing is not None:
            if callable(forcing):
                x, y = grid(n, length, dev, torch.float64)
                fphys = forcing(x, y)
                self.forcing_formula = getattr(forcing, "formula", repr(forcing))
            else:
                fphys = torch.as_tensor(forcing, dtype=torch.float64, device=dev)
                self.forcing_formula = "tabulated"
            if tuple(fphys.shape) != (n, n):
                raise SciflowError(f"spectral2d: forcing must have shape ({n}, {n}), got {tuple(fphys.shape)}")
            self.forcing_hat = (torch.fft.rfft2(fphys.to(torch.float64)) * keep).to(self._cdtype)
        # Stokes state ω̂_s = −f̂/Λ where Λ ≠ 0; forcing on modes with Λ = 0 stays in N.
        nz = lam != 0
        safe = torch.where(nz, lam, 1.0)
        fh = self.forcing_hat.to(torch.complex128)
        self.stokes_hat = torch.where(nz, -fh / safe, 0).to(self._cdtype)
        self.forcing_rest = torch.where(nz, 0, fh).to(self._cdtype)
        self._has_rest = bool((self.forcing_rest != 0).any())
        # one multiplier for (u, v, ∂_xω, ∂_yω)^ = (ik_y/|k|², −ik_x/|k|², ik_x, ik_y) ω̂, shape (4, 1, n, n//2+1)
        inv = self.inv_k2.to(self._cdtype)
        self._grad_mult = torch.stack([self.iky * inv, -self.ikx * inv, self.ikx.expand_as(inv),
                                       self.iky.expand_as(inv)]).unsqueeze(1)
        self._neg_mask = -self.mask
        # ---- the time stepper's operators on the retained columns k_y < n/3: compact state (batch, n, kc)
        kc = int(keep[0].sum())
        self._kc = kc
        gm = self._grad_mult[:, :, :, :kc].contiguous()  # (4, 1, n, kc)
        self._grad_mult_c = gm
        self._stokes_grad_c = (self.stokes_hat[:, :kc] * gm).contiguous()  # ω̂_s's (u, v, ∂_xω, ∂_yω)^
        self._neg_mask_c = self._neg_mask[:, :kc].to(self._cdtype).contiguous()
        self._rest_c = self.forcing_rest[:, :kc].contiguous()
        self._lam_c = lam[:, :kc]
        # trajectories stepped together on a CPU: their four grid fields stay within CPU_BLOCK_BYTES
        item = 8 if dtype == torch.float64 else 4
        self._batch_block = max(1, CPU_BLOCK_BYTES // (4 * n * n * item)) if dev.type == "cpu" else None
        self._pad_buffers: dict = {}
        self._cache_h, self._cache_E = None, None

    @property
    def _cdtype(self):
        return torch.complex128 if self.dtype == torch.float64 else torch.complex64

    # ------------------------------------------------------------------ transforms
    def _as_batch(self, w) -> torch.Tensor:
        w = torch.as_tensor(w, device=self.device, dtype=self.dtype)
        if w.dim() == 2:
            w = w.unsqueeze(0)
        if w.dim() != 3 or tuple(w.shape[-2:]) != (self.n, self.n):
            raise SciflowError(f"spectral2d: vorticity must have shape (batch, {self.n}, {self.n}), got {tuple(w.shape)}")
        return w

    def to_state(self, w) -> torch.Tensor:
        """Physical vorticity (batch, n, n) → solver state ζ̂ = P ω̂ − ω̂_s, shape (batch, n, n//2+1)."""
        return torch.fft.rfft2(self._as_batch(w)) * self.mask - self.stokes_hat

    def from_state(self, z: torch.Tensor) -> torch.Tensor:
        """Solver state ζ̂ → physical vorticity (batch, n, n)."""
        return torch.fft.irfft2(z + self.stokes_hat, s=(self.n, self.n))

    def velocity(self, w) -> tuple[torch.Tensor, torch.Tensor]:
        """u = ∂_y ψ, v = −∂_x ψ with −Δψ = ω; each (batch, n, n)."""
        psi = torch.fft.rfft2(self._as_batch(w)) * self.inv_k2
        uv = torch.fft.irfft2(torch.stack([self.iky * psi, -self.ikx * psi]), s=(self.n, self.n))
        return uv[0], uv[1]

    # ------------------------------------------------------------------ right-hand side
    def nonlinear(self, w_hat: torch.Tensor, with_speed: bool = False):
        """N̂(ω) = −P[u·∇ω]^ (+ forcing on modes with Λ = 0), shape (batch, n, n//2+1).

        Advective form on the full rfft2 layout (four inverse transforms of u, v, ∂_xω, ∂_yω) of any
        spectrum; with ``dealias=False`` it shows the aliasing of the grid product.  The time stepper evaluates the
        same operator on the retained columns only (:meth:`_rhs`).  With ``with_speed`` also returns
        max|u| + max|v| over the batch (a Python float)."""
        u, v, wx, wy = torch.fft.irfft2(w_hat * self._grad_mult, s=(self.n, self.n))
        out = torch.fft.rfft2(torch.addcmul(u * wx, v, wy)) * self._neg_mask
        if self._has_rest:
            out = out + self.forcing_rest
        if with_speed:
            return out, float(u.abs().amax() + v.abs().amax())
        return out

    def _compact(self, z: torch.Tensor) -> torch.Tensor:
        """(batch, n, n//2+1) → the retained columns k_y < n/3, (batch, n, kc); the rest is zero in every state."""
        return z[..., : self._kc].contiguous()

    def _expand(self, zc: torch.Tensor) -> torch.Tensor:
        """(batch, n, kc) → (batch, n, n//2+1) with zeros in the dropped columns."""
        return torch.nn.functional.pad(zc, (0, self.n // 2 + 1 - self._kc))

    def _rhs(self, zc: torch.Tensor, with_speed: bool = False):
        """N̂ of the compact state ζ̂ (batch, n, kc), same shape: :meth:`nonlinear` of ω̂ = ζ̂ + ω̂_s.

        Same advective form and the same two passes of the 2D transforms, pruned to the kc retained
        columns: the inverse runs the length-n column FFT on kc columns only and zero-pads them for the
        row c2r; the forward keeps the first kc columns of the row r2c before the column FFT (2/3 of
        the column FFTs of ``irfft2``/``rfft2``).  Fields and operators stay at the width kc; the padded
        spectra live in one zero buffer per batch shape."""
        n = self.n
        g = torch.addcmul(self._stokes_grad_c, zc, self._grad_mult_c)  # (u, v, ∂_xω, ∂_yω)^, (4, batch, n, kc)
        buf = self._pad_buffers.get(g.shape)
        if buf is None:  # zero beyond column kc for good: only [..., :kc] is ever written
            buf = self._pad_buffers[g.shape] = g.new_zeros(g.shape[:-1] + (n // 2 + 1,))
        torch.fft.ifft(g, dim=-2, out=buf[..., : self._kc])
        u, v, wx, wy = torch.fft.irfft(buf, n=n, dim=-1)  # each (batch, n, n)
        adv = torch.addcmul(u * wx, v, wy)  # u·∇ω on the grid
        adv_hat = torch.fft.fft(torch.fft.rfft(adv)[..., : self._kc], dim=-2)
        out = adv_hat * self._neg_mask_c
        if self._has_rest:
            out = out + self._rest_c
        if with_speed:
            return out, float(u.abs().amax() + v.abs().amax())
        return out

    def _exponentials(self, h: float):
        """E½ = exp(Λh/2) and E = exp(Λh) on the compact columns, each (n, kc) in the complex dtype."""
        if h != self._cache_h:
            e_half = torch.exp(self._lam_c * (0.5 * h))
            self._cache_E = (e_half.to(self._cdtype), (e_half * e_half).to(self._cdtype))
            self._cache_h = h
        return self._cache_E

    def _step_compact(self, z: torch.Tensor, h: float, k1: torch.Tensor | None = None) -> torch.Tensor:
        """One integrating-factor RK4 step of size h on the compact state (batch, n, kc).

        The stages of the module docstring, with E½(k2 + k3) = E½k2 + (E½k3) reusing c's product."""
        e_half, e_full = self._exponentials(h)
        if k1 is None:
            k1 = self._rhs(z)
        ez_full = z * e_full
        k2 = self._rhs(torch.add(z, k1, alpha=0.5 * h).mul_(e_half))  # a = E½(ζ + h/2 k1)
        k3 = self._rhs((z * e_half).add_(k2, alpha=0.5 * h))  # b = E½ζ + h/2 k2
        k3.mul_(e_half)  # E½ k3
        k4 = self._rhs(torch.add(ez_full, k3, alpha=h))  # c = Eζ + h E½ k3
        acc = torch.addcmul(k4, k1, e_full)  # E k1 + k4
        acc.addcmul_(k2, e_half, value=2.0).add_(k3, alpha=2.0)  # + 2 E½ (k2 + k3)
        return ez_full.add_(acc, alpha=h / 6.0)

    def _blocks(self, z: torch.Tensor) -> list[torch.Tensor]:
        """State (batch, n, n//2+1) → compact blocks of trajectories stepped together (see CPU_BLOCK_BYTES)."""
        zc = self._compact(z)
        return list(zc.split(self._batch_block)) if self._batch_block else [zc]

    def step(self, z: torch.Tensor, h: float) -> torch.Tensor:
        """One integrating-factor RK4 step of size h on the state ζ̂ (batch, n, n//2+1)."""
        return self._expand(torch.cat([self._step_compact(b, h) for b in self._blocks(z)]))

    def advance(self, z: torch.Tensor, h: float, steps: int) -> torch.Tensor:
        """``steps`` fixed steps of size h on the state ζ̂ (batch, n, n//2+1), without CFL monitoring.

        Trajectories are independent: each block runs all its steps before the next one starts."""
        out = []
        for b in self._blocks(z):
            for _ in range(steps):
                b = self._step_compact(b, h)
            out.append(b)
        return self._expand(torch.cat(out))

    # ------------------------------------------------------------------ time integration
    def integrate(self, w0, times: Sequence[float], dt: float | None = None, cfl: float = 0.5,
                  cfl_max: float = 1.0, dt_max: float | None = None, progress: bool = False,
                  desc: str = "spectral2d") -> tuple[torch.Tensor, dict]:
        """Advance ω₀ (batch, n, n) and return snapshots (batch, len(times), n, n) and step stats.

        ``times`` are increasing, >= 0 (t = 0 returns the dealiased initial field).  With ``dt``
        None the step is adaptive: at each snapshot interval (and whenever the CFL number passes
        1.2·``cfl``) the remaining time is cut into equal steps with CFL <= ``cfl`` (batch maximum
        of the velocity, steps at most ``dt_max``).  With a fixed ``dt`` each interval is cut into equal steps <= dt and
        a CFL number above ``cfl_max`` stops the run with a SciflowError.  Snapshot times are hit
        exactly.  Stats: number of steps, min/max/mean dt, max CFL."""
        times = [float(t) for t in times]
        if not times or times[0] < 0 or any(b <= a for a, b in zip(times, times[1:])):
            raise SciflowError(f"spectral2d: snapshot times must be increasing and >= 0, got {times}")
        if dt is not None and not dt > 0:
            raise SciflowError(f"spectral2d: dt must be positive, got {dt}")
        blocks = self._blocks(self.to_state(w0))  # trajectories stepped together, one h for the whole batch
        out = torch.empty((sum(b.shape[0] for b in blocks), len(times), self.n, self.n), dtype=self.dtype,
                          device=self.device)
        dx = self.length / self.n
        n_steps, h_min, h_max, cfl_seen, t = 0, math.inf, 0.0, 0.0, 0.0
        bar = tqdm(total=times[-1], desc=desc, unit="t", disable=not progress, leave=False,
                   bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} [{elapsed}<{remaining}{postfix}]")
        try:
            for j, t1 in enumerate(times):
                h, left = None, 0  # step size and steps left in this interval
                while t1 - t > 1e-12 * max(1.0, abs(t1)):
                    k1s, speeds = zip(*(self._rhs(b, with_speed=True) for b in blocks))
                    speed = max(speeds)
                    c_now = h * speed / dx if h is not None else 0.0
                    if h is None or (dt is None and c_now > min(cfl_max, 1.2 * cfl)):
                        remaining = t1 - t
                        target = dt if dt is not None else (cfl * dx / speed if speed > 0 else remaining)
                        if dt_max is not None:
                            target = min(target, dt_max)
                        left = max(1, math.ceil(remaining / target - 1e-9))
                        h = remaining / left
                        c_now = h * speed / dx
                    if c_now > cfl_max:
                        raise SciflowError(f"spectral2d: CFL number {c_now:.3g} > cfl_max={cfl_max} at t={t:.4g} "
                                           f"with dt={h:.3g}; reduce dt or use the adaptive step (dt: null)")
                    blocks = [self._step_compact(b, h, k1=k1) for b, k1 in zip(blocks, k1s)]
                    left -= 1
                    t = t1 - left * h if left > 0 else t1
                    n_steps += 1
                    h_min, h_max, cfl_seen = min(h_min, h), max(h_max, h), max(cfl_seen, c_now)
                    bar.update(h)
                    if n_steps % 50 == 0:
                        bar.set_postfix(dt=f"{h:.2e}", cfl=f"{c_now:.2f}")
                z = torch.cat(blocks)
                if not bool(torch.isfinite(z).all()):
                    raise SciflowError(f"spectral2d: non-finite vorticity at t={t1:.4g} (dt={h}); reduce dt/cfl")
                out[:, j] = self.from_state(self._expand(z))
        finally:
            bar.close()
        stats = {"n_steps": n_steps, "dt_min": h_min if n_steps else 0.0, "dt_max": h_max,
                 "dt_mean": times[-1] / n_steps if n_steps else 0.0, "cfl_max_seen": cfl_seen}
        return out, stats

    # ------------------------------------------------------------------ diagnostics (Parseval)
    def _inner(self, a_hat: torch.Tensor, b_hat: torch.Tensor) -> torch.Tensor:
        """∫ a b dx over the box from rfft2 coefficients; shape (...)."""
        w = torch.full((self.n // 2 + 1,), 2.0, dtype=self.dtype, device=self.device)
        w[0] = 1.0
        w[-1] = 1.0  # n even: Nyquist column appears once
        prod = (a_hat * b_hat.conj()).real * w
        return prod.sum(dim=(-2, -1)) * (self.length**2 / self.n**4)

    def energy(self, w) -> torch.Tensor:
        """Kinetic energy E = ½ ∫ |u|² dx, shape (batch,)."""
        wh = torch.fft.rfft2(self._as_batch(w))
        return 0.5 * self._inner(wh * self.inv_k2, wh)

    def enstrophy(self, w) -> torch.Tensor:
        """Enstrophy Z = ½ ∫ ω² dx, shape (batch,)."""
        wh = torch.fft.rfft2(self._as_batch(w))
        return 0.5 * self._inner(wh, wh)

    def palinstrophy(self, w) -> torch.Tensor:
        """P = ½ ∫ |∇ω|² dx, shape (batch,)."""
        wh = torch.fft.rfft2(self._as_batch(w))
        return 0.5 * self._inner(wh * self.k2, wh)

    def budgets(self, w) -> dict[str, torch.Tensor]:
        """Right-hand sides of the energy and enstrophy budgets of (1), each (batch,):

        dE/dt = −2ν Z − 2μ E + ∫ ψ f dx,      dZ/dt = −2ν P − 2μ Z + ∫ ω f dx."""
        wh = torch.fft.rfft2(self._as_batch(w))
        e, z, p = self.energy(w), self.enstrophy(w), self.palinstrophy(w)
        return {"dE_dt": -2 * self.nu * z - 2 * self.drag * e + self._inner(wh * self.inv_k2, self.forcing_hat),
                "dZ_dt": -2 * self.nu * p - 2 * self.drag * z + self._inner(wh, self.forcing_hat)}
