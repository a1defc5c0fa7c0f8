"""Mesh convergence of the Taylor-Hood cavity solver against Ghia, Ghia & Shin (1982).

For each mesh (n×n×2 triangles) the Reynolds continuation 100 → 400 → 1000 is run with
``solve_steady_ns`` (each Re starts from the previous converged solution; Re 100 starts from
Stokes). Per (mesh, Re): wall seconds of that stage, Newton iterations, unknowns, and the max
|FEM − Ghia| over the u(x=0.5) and v(y=0.5) table points (Re 400: misprinted v(0.9063) dropped).

    python benchmarks/fem_cavity.py [--meshes 32 64 128] [--threads 1]

Writes benchmarks/results/fem_cavity.json and benchmarks/results/fem_cavity.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meshes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--reynolds", type=float, nargs="+", default=[100.0, 400.0, 1000.0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (SuperLU itself is serial)")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import scipy
    import skfem

    from sciflow.cfd.fem import solve_steady_ns
    from sciflow.cfd.fem_cases import ghia_deviation, rectangle_mesh
    from sciflow.data.io import atomic_write_text, json_ready

    rows = []
    for n in args.meshes:
        mesh = rectangle_mesh(0.0, 1.0, 0.0, 1.0, n, n)
        dirichlet = {(lambda x: np.isclose(x[1], 1.0)): (1.0, 0.0), (lambda x: ~np.isclose(x[1], 1.0)): (0.0, 0.0)}
        prev = None
        for Re in args.reynolds:
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            sol = solve_steady_ns(mesh, 1.0 / Re, dirichlet, initial=prev, progress=True,
                                  desc=f"mesh {n} Re {Re:g}")
            seconds = time.perf_counter() - t0
            dev = ghia_deviation(sol, int(Re))
            rows.append({"mesh": n, "Re": Re, "n_dofs": sol.n_dofs, "seconds": seconds,
                         "newton_iterations": sol.newton_iterations[-1], "final_residual": sol.residuals[-1],
                         "ghia_max_dev_u": dev["u"], "ghia_max_dev_v": dev["v"], "ghia_max_dev": dev["max"],
                         "loadavg_1min_start": load0, "loadavg_1min_end": os.getloadavg()[0]})
            print(rows[-1], flush=True)
            prev = sol

    meta = {"benchmark": "fem_cavity", "python": sys.version.split()[0], "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-fem": getattr(skfem, "__version__", "?"),
            "machine": platform.machine(), "cpu_count": os.cpu_count(), "threads": args.threads,
            "linear_solver": "scipy.sparse.linalg.splu (SuperLU, COLAMD ordering)",
            "element": "Taylor-Hood P2/P1 on n x n x 2 right triangles",
            "reference": "Ghia, Ghia & Shin (1982) Tables I/II, 17 points per centerline"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "fem_cavity.json", json_ready_dump({"meta": meta, "rows": rows}, json_ready))
    lines = ["# FEM lid-driven cavity: mesh convergence vs Ghia et al. (1982)", "",
             f"Taylor-Hood P2/P1, Newton with continuation {' → '.join(f'{r:g}' for r in args.reynolds)}; "
             f"SuperLU; {args.threads} thread(s); {os.cpu_count()} CPU cores; seconds per Re stage "
             "(Re 100 includes the Stokes initial solve). Max deviation over all table points "
             "(Re 400: v(0.9063) misprint excluded). 1-min load average at the start of each stage.", "",
             "| mesh | unknowns | Re | seconds | Newton its | max dev u | max dev v | max dev | load |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['mesh']} | {r['n_dofs']} | {r['Re']:g} | {r['seconds']:.1f} | {r['newton_iterations']} | "
                     f"{r['ghia_max_dev_u']:.4f} | {r['ghia_max_dev_v']:.4f} | {r['ghia_max_dev']:.4f} | "
                     f"{r['loadavg_1min_start']:.1f} |")
    if max(r["loadavg_1min_start"] for r in rows) > (os.cpu_count() or 1):
        lines += ["", f"Note: the 1-min load average exceeded the {os.cpu_count()} cores during these runs (other "
                  "processes shared the machine), so the seconds are inflated; compare only rows of similar load."]
    atomic_write_text(RESULTS / "fem_cavity.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def json_ready_dump(obj, json_ready) -> str:
    import json

    return json.dumps(json_ready(obj), indent=2) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
