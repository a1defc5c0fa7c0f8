"""Speed of sciflow's 2D pseudo-spectral Navier-Stokes step, next to jax-cfd measured in the same run.

Problem timed (both codes): Kolmogorov-forced 2D NS in vorticity form, ν = 1e-3, 2/3 dealiasing,
one trajectory (batch 1), grids 64² / 128² / 256², float32 and float64, torch on each of
``--threads`` thread counts (default 2 and 1: on a busy 2-core machine two torch threads stall at
every parallel region, so both are recorded).  sciflow: integrating-factor RK4 (4 right-hand sides per step), forcing kept in Fourier
space.  jax-cfd (``jax_cfd.spectral``): ``NavierStokes2D`` with ``kolmogorov_forcing`` (k = 4) and
``crank_nicolson_rk4`` (5 right-hand sides per step; its forcing is evaluated on the grid and
transformed at every stage), jit-compiled ``repeated`` steps.  Timings of the two codes are
interleaved (``--repeats`` rounds) and the median is reported; the load average is recorded.

Also measured: the solve-resolution error of the FNO setting (``--accuracy``): the same GRF initial
vorticity solved at 64², 128² and 256² with the recipe's adaptive CFL-0.5 step, compared on the
64² output grid against the 256² run (relative L2 at the last snapshot).

    python benchmarks/spectral2d_solver.py [--threads 2 1] [--repeats 3] [--accuracy]

Writes benchmarks/results/spectral2d_solver.json and benchmarks/results/spectral2d_solver.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sciflow.cfd.random_fields import GaussianRandomField  # noqa: E402
from sciflow.cfd.spectral2d import PseudoSpectralNS2D, fno_forcing, kolmogorov_forcing  # noqa: E402
from sciflow.data.io import atomic_write_text, json_ready  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NU, DT = 1e-3, 1e-3


def steps_for(n: int) -> int:
    return max(10, 5_000 // n)


def time_sciflow(n: int, dtype, steps: int) -> float:
    """Median-free single measurement: ms per step of ``steps`` IF-RK4 steps (after warm-up)."""
    solver = PseudoSpectralNS2D(n, NU, forcing=kolmogorov_forcing(1.0, 4), dtype=dtype)
    z = solver.to_state(GaussianRandomField(n).sample(1, torch.Generator().manual_seed(0)))
    for _ in range(3):
        z = solver.step(z, DT)
    t0 = time.perf_counter()
    for _ in range(steps):
        z = solver.step(z, DT)
    elapsed = time.perf_counter() - t0
    assert bool(torch.isfinite(z).all())
    return 1e3 * elapsed / steps


class JaxCfd:
    """jax-cfd spectral Kolmogorov step, jit-compiled over ``steps`` repeated steps."""

    def __init__(self, n: int, dtype: str, steps: int):
        import jax

        jax.config.update("jax_enable_x64", dtype == "float64")
        import jax.numpy as jnp
        import jax_cfd.base as cfd
        import jax_cfd.spectral as spectral

        grid = cfd.grids.Grid((n, n), domain=((0, 2 * math.pi), (0, 2 * math.pi)))
        eq = spectral.equations.NavierStokes2D(
            NU, grid, smooth=True, forcing_fn=lambda g: cfd.forcings.kolmogorov_forcing(g, k=4))
        step = spectral.time_stepping.crank_nicolson_rk4(eq, DT)
        self.run = jax.jit(cfd.funcutils.repeated(step, steps))
        w0 = GaussianRandomField(n).sample(1, torch.Generator().manual_seed(0))[0].numpy()
        jdt = jnp.float64 if dtype == "float64" else jnp.float32
        self.w_hat = jnp.fft.rfftn(jnp.asarray(w0, dtype=jdt))
        self.steps = steps
        self.run(self.w_hat).block_until_ready()  # compile

    def time(self) -> float:
        t0 = time.perf_counter()
        out = self.run(self.w_hat).block_until_ready()
        elapsed = time.perf_counter() - t0
        assert bool(abs(out).max() < 1e30)
        return 1e3 * elapsed / self.steps


def speed(threads: list[int], repeats: int, sizes) -> list[dict]:
    rows = []
    for dtype_name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        for n in sizes:
            steps = steps_for(n)
            try:
                peer, peer_error = JaxCfd(n, dtype_name, steps), None
            except Exception as exc:  # record why the peer could not run
                peer, peer_error = None, f"{type(exc).__name__}: {exc}"
            ours, theirs = {t: [] for t in threads}, []
            for _ in range(repeats):  # interleave the two codes
                for t in threads:
                    torch.set_num_threads(t)
                    ours[t].append(time_sciflow(n, dtype, steps))
                if peer is not None:
                    theirs.append(peer.time())
            row = {"n": n, "dtype": dtype_name, "steps_timed": steps,
                   **{f"sciflow_{t}thr_ms_per_step": statistics.median(ours[t]) for t in threads},
                   **{f"sciflow_{t}thr_all_ms": ours[t] for t in threads},
                   "jax_cfd_ms_per_step": statistics.median(theirs) if theirs else None,
                   "jax_cfd_ms_per_rhs": statistics.median(theirs) / 5 if theirs else None,
                   "jax_cfd_all_ms": theirs, "jax_cfd_error": peer_error, "load_avg_1min": os.getloadavg()[0]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def _lowpass(w: torch.Tensor, n_low: int) -> torch.Tensor:
    """(batch, n, n) → same shape, keeping only the modes |k_x|, |k_y| < n_low/3."""
    n = w.shape[-1]
    wh = torch.fft.rfft2(w)
    ix = torch.fft.fftfreq(n, 1 / n).abs().reshape(-1, 1)
    iy = torch.fft.rfftfreq(n, 1 / n).reshape(1, -1)
    return torch.fft.irfft2(wh * ((ix < n_low / 3) & (iy < n_low / 3)), s=(n, n))


def accuracy(threads: int, n_samples: int = 2) -> list[dict]:
    """Solve-resolution error of the FNO setting (adaptive CFL 0.5, float64), on the 64² output grid.

    The initial vorticity is band-limited to the 64² grid's 2/3 band, so all grids start from the
    same field and the differences are the solver's resolution error (plus chaotic growth)."""
    torch.set_num_threads(threads)
    rows = []
    w0 = _lowpass(GaussianRandomField(256).sample(n_samples, torch.Generator().manual_seed(0)), 64)
    for nu, T in ((1e-3, 20.0), (1e-5, 20.0)):  # T = 20 keeps the 256² reference affordable on a CPU
        fields, info = {}, {}
        for n in (64, 128, 256):
            solver = PseudoSpectralNS2D(n, nu, forcing=fno_forcing(0.1))
            t0 = time.perf_counter()
            out, st = solver.integrate(w0[:, :: 256 // n, :: 256 // n], [0.0, T], progress=True, desc=f"nu={nu:g} n={n}")
            fields[n], info[n] = out[:, -1, :: n // 64, :: n // 64], {**st, "wall_s": time.perf_counter() - t0}
        for n in (64, 128):
            err = (fields[n] - fields[256]).flatten(1).norm(dim=1) / fields[256].flatten(1).norm(dim=1)
            row = {"nu": nu, "T": T, "solve_n": n, "reference_n": 256, "rel_l2_at_T": err.tolist(),
                   "steps": info[n]["n_steps"], "wall_s": info[n]["wall_s"], "reference_wall_s": info[256]["wall_s"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def markdown(result: dict) -> str:
    lines = ["# 2D pseudo-spectral Navier-Stokes: time per step", "",
             f"Machine: {result['machine']}, torch {result['torch']}, jax {result.get('jax')}, "
             f"jax-cfd {result.get('jax_cfd')} (XLA's own thread pool), batch 1, Kolmogorov forcing, "
             f"nu = {NU}; median of {result['repeats']} interleaved rounds.", "",
             "| grid | dtype | " + " | ".join(f"sciflow ms/step, {t} thr (4 RHS)" for t in result["threads"])
             + " | jax-cfd ms/step (5 RHS) | load avg |",
             "|---|---|" + "---|" * (len(result["threads"]) + 2)]
    for r in result["speed"]:
        j = f"{r['jax_cfd_ms_per_step']:.2f}" if r["jax_cfd_ms_per_step"] else f"failed: {r['jax_cfd_error']}"
        ours = " | ".join(f"{r[f'sciflow_{t}thr_ms_per_step']:.2f}" for t in result["threads"])
        lines.append(f"| {r['n']}² | {r['dtype']} | {ours} | {j} | {r['load_avg_1min']:.1f} |")
    lines += ["", "Load avg is the 1-minute load of the 2-core machine while the row was timed: above 2, two torch "
              "threads wait for a time slice at every parallel region (tens of times slower), one thread does "
              "not. jax-cfd's `crank_nicolson_rk4` takes 5 right-hand sides per step and evaluates its forcing "
              "on the grid at each; sciflow's IF-RK4 takes 4, forcing precomputed in Fourier space."]
    if result.get("accuracy"):
        lines += ["", "## Solve-resolution error (FNO forcing, GRF initial vorticity band-limited to 64², adaptive "
                  "CFL 0.5, float64, 2 samples)", "",
                  "| nu | T | solve grid | rel. L2 vs 256² at T (per sample) | steps | wall s |", "|---|---|---|---|---|---|"]
        for r in result["accuracy"]:
            errs = ", ".join(f"{e:.2e}" for e in r["rel_l2_at_T"])
            lines.append(f"| {r['nu']:g} | {r['T']:g} | {r['solve_n']}² | {errs} | {r['steps']} | {r['wall_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1], help="torch thread counts timed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--accuracy", action="store_true", help="also run the solve-resolution study (minutes)")
    ap.add_argument("--accuracy-threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    torch.set_flush_denormal(True)
    result = {"benchmark": "spectral2d_solver", "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "torch": torch.__version__, "threads": args.threads, "repeats": args.repeats,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_avg_start": os.getloadavg()}
    try:
        import jax
        import jax_cfd

        result["jax"], result["jax_cfd"] = jax.__version__, getattr(jax_cfd, "__version__", "0.2.1")
    except Exception as exc:
        result["jax_cfd_unavailable"] = f"{type(exc).__name__}: {exc}"
    result["speed"] = speed(args.threads, args.repeats, args.sizes)
    if args.accuracy:
        result["accuracy"] = accuracy(args.accuracy_threads)
    result["load_avg_end"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "spectral2d_solver.json", json.dumps(json_ready(result), indent=2))
    atomic_write_text(out / "spectral2d_solver.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
