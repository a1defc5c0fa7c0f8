"""Speed of sciflow's 2D pseudo-spectral Navier-Stokes step, next to jax-cfd measured in the same run.

Problem timed (both codes): Kolmogorov-forced 2D NS in vorticity form, ν = 1e-3, 2/3 dealiasing,
grids 64² / 128² / 256², float32 and float64, batches of 1 and 16 trajectories (``--batch``).
sciflow: integrating-factor RK4 (4 right-hand sides per step), ``PseudoSpectralNS2D.advance``.
jax-cfd (``jax_cfd.spectral``): ``NavierStokes2D`` with ``kolmogorov_forcing`` (k = 4) and
``crank_nicolson_rk4`` (5 right-hand sides per step), jit-compiled ``repeated`` steps (``vmap``-ed
over the batch).  One thread each: torch ``set_num_threads(1)``, XLA with
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``, and the whole process
pinned to one core (``--core``, like ``taskset``).  The two codes are timed in interleaved rounds
(``--repeats``); each row reports the median wall time and the median process CPU time per step
(CPU time does not count waiting for a time slice on a loaded machine), their ratios, and the load.

Also measured: the solve-resolution error of the FNO setting (``--accuracy``): the same GRF initial
vorticity solved at 64², 128² and 256² with the recipe's adaptive CFL-0.5 step, compared on the
64² output grid against the 256² run (relative L2 at the last snapshot).

    python benchmarks/spectral2d_solver.py [--repeats 7] [--batch 1 16] [--core 0] [--accuracy]

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

# one XLA thread, set before jax is imported (jax is imported lazily by JaxCfd)
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sciflow.cfd.random_fields import GaussianRandomField  # noqa: E402
from sciflow.cfd.spectral2d import PseudoSpectralNS2D, fno_forcing, kolmogorov_forcing  # noqa: E402
from sciflow.data.io import atomic_write_text, json_ready  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NU, DT = 1e-3, 1e-3


def steps_for(n: int) -> int:
    return max(10, 10_000 // n)


def _clocks():
    return time.perf_counter(), time.process_time()


class Sciflow:
    """sciflow's IF-RK4 on a batch of GRF vorticity fields, ``steps`` steps per timing."""

    def __init__(self, n: int, dtype: str, steps: int, batch: int):
        self.solver = PseudoSpectralNS2D(n, NU, forcing=kolmogorov_forcing(1.0, 4), dtype=getattr(torch, dtype))
        w0 = GaussianRandomField(n).sample(batch, torch.Generator().manual_seed(0))
        self.z = self.solver.to_state(w0.to(self.solver.dtype))
        self.steps = steps
        self.z = self.solver.advance(self.z, DT, 3)  # warm-up

    def time(self) -> tuple[float, float]:
        """(wall, CPU) ms per step."""
        w0, c0 = _clocks()
        out = self.solver.advance(self.z, DT, self.steps)
        w1, c1 = _clocks()
        assert bool(torch.isfinite(out).all())
        return 1e3 * (w1 - w0) / self.steps, 1e3 * (c1 - c0) / self.steps


class JaxCfd:
    """jax-cfd spectral Kolmogorov step, jit-compiled over ``steps`` repeated steps, vmap-ed over the batch."""

    def __init__(self, n: int, dtype: str, steps: int, batch: int):
        import jax

        jax.config.update("jax_enable_x64", dtype == "float64")
        import jax.numpy as jnp
        import jax_cfd.base as cfd
        import jax_cfd.spectral as spectral

        grid = cfd.grids.Grid((n, n), domain=((0, 2 * math.pi), (0, 2 * math.pi)))
        eq = spectral.equations.NavierStokes2D(
            NU, grid, smooth=True, forcing_fn=lambda g: cfd.forcings.kolmogorov_forcing(g, k=4))
        step = spectral.time_stepping.crank_nicolson_rk4(eq, DT)
        self.run = jax.jit(jax.vmap(cfd.funcutils.repeated(step, steps)))
        w0 = GaussianRandomField(n).sample(batch, torch.Generator().manual_seed(0)).numpy()
        jdt = jnp.float64 if dtype == "float64" else jnp.float32
        self.w_hat = jnp.fft.rfftn(jnp.asarray(w0, dtype=jdt), axes=(-2, -1))
        self.steps = steps
        self.run(self.w_hat).block_until_ready()  # compile

    def time(self) -> tuple[float, float]:
        w0, c0 = _clocks()
        out = self.run(self.w_hat).block_until_ready()
        w1, c1 = _clocks()
        assert bool(abs(out).max() < 1e30)
        return 1e3 * (w1 - w0) / self.steps, 1e3 * (c1 - c0) / self.steps


def speed(repeats: int, sizes, batches) -> list[dict]:
    torch.set_num_threads(1)
    rows = []
    for dtype in ("float32", "float64"):
        for batch in batches:
            for n in sizes:
                steps = max(4, steps_for(n) // batch)
                ours = Sciflow(n, dtype, steps, batch)
                try:
                    peer, peer_error = JaxCfd(n, dtype, steps, batch), None
                except Exception as exc:  # record why the peer could not run
                    peer, peer_error = None, f"{type(exc).__name__}: {exc}"
                t_ours, t_peer, loads = [], [], []
                for _ in range(repeats):  # interleave the two codes
                    t_ours.append(ours.time())
                    if peer is not None:
                        t_peer.append(peer.time())
                    loads.append(os.getloadavg()[0])
                med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
                row = {"n": n, "dtype": dtype, "batch": batch, "steps_timed": steps,
                       "sciflow_ms_per_step": med(t_ours, 0), "sciflow_cpu_ms_per_step": med(t_ours, 1),
                       "sciflow_all_ms": t_ours, "jax_cfd_error": peer_error,
                       "load_avg_1min": statistics.median(loads)}
                if t_peer:
                    row.update(jax_cfd_ms_per_step=med(t_peer, 0), jax_cfd_cpu_ms_per_step=med(t_peer, 1),
                               jax_cfd_all_ms=t_peer,
                               speedup_wall=med(t_peer, 0) / med(t_ours, 0), speedup_cpu=med(t_peer, 1) / med(t_ours, 1))
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
             f"jax-cfd {result.get('jax_cfd')}.  One thread each (torch `set_num_threads(1)`; XLA_FLAGS "
             f"`{result['xla_flags']}`), process pinned to CPU core(s) {result['cpu_affinity']}.  "
             f"Kolmogorov forcing, nu = {NU}, dt = {DT}; median of {result['repeats']} interleaved rounds; "
             f"load average {result['load_avg_start'][0]:.1f} at the start, {result['load_avg_end'][0]:.1f} at the end.", "",
             "| grid | dtype | batch | sciflow ms/step (4 RHS) | jax-cfd ms/step (5 RHS) | jax-cfd / sciflow (wall) "
             "| sciflow CPU ms/step | jax-cfd CPU ms/step | jax-cfd / sciflow (CPU) | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["speed"]:
        if r.get("jax_cfd_ms_per_step") is None:
            peer = f"failed: {r['jax_cfd_error']} | – | {r['sciflow_cpu_ms_per_step']:.3f} | – | –"
        else:
            peer = (f"{r['jax_cfd_ms_per_step']:.3f} | **{r['speedup_wall']:.2f}×** | {r['sciflow_cpu_ms_per_step']:.3f} | "
                    f"{r['jax_cfd_cpu_ms_per_step']:.3f} | {r['speedup_cpu']:.2f}×")
        lines.append(f"| {r['n']}² | {r['dtype']} | {r['batch']} | {r['sciflow_ms_per_step']:.3f} | {peer} | "
                     f"{r['load_avg_1min']:.1f} |")
    lines += ["", "ms/step is per step of the whole batch.  The load average is that of the 2-core machine during "
              "the row (median over rounds): above 1 the pinned core is shared and wall times grow for both codes; "
              "CPU time counts only the time the process ran.  jax-cfd's `crank_nicolson_rk4` takes 5 right-hand "
              "sides per step and evaluates its forcing on the grid at each; sciflow's IF-RK4 takes 4, its "
              "forcing precomputed in Fourier space, its state and column FFTs restricted to the 2/3-rule band."]
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
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16], help="trajectories per solve")
    ap.add_argument("--core", type=int, default=0, help="CPU core the process is pinned to (-1: no pinning)")
    ap.add_argument("--accuracy", action="store_true", help="also run the solve-resolution study (minutes)")
    ap.add_argument("--accuracy-threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    torch.set_flush_denormal(True)
    result = {"benchmark": "spectral2d_solver", "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "torch": torch.__version__, "torch_threads": 1, "xla_flags": os.environ["XLA_FLAGS"],
              "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
              "repeats": args.repeats, "batches": args.batch,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_avg_start": os.getloadavg()}
    try:
        import jax
        import jax_cfd

        result["jax"], result["jax_cfd"] = jax.__version__, getattr(jax_cfd, "__version__", "0.2.1")
    except Exception as exc:
        result["jax_cfd_unavailable"] = f"{type(exc).__name__}: {exc}"
    result["speed"] = speed(args.repeats, args.sizes, args.batch)
    if args.accuracy:
        result["accuracy"] = accuracy(args.accuracy_threads)
    elif (RESULTS / "spectral2d_solver.json").exists():  # keep the last solve-resolution study
        result["accuracy"] = json.loads((RESULTS / "spectral2d_solver.json").read_text()).get("accuracy")
    result["load_avg_end"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "spectral2d_solver.json", json.dumps(json_ready(result), indent=2))
    atomic_write_text(out / "spectral2d_solver.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
