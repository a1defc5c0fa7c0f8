"""Cavity PINN: sciflow vs DeepXDE (pytorch backend) on the same problem, in one run.

Same network (4 × 50 tanh, Glorot-normal init), same optimiser (Adam, lr 1e-3), same
points (2,000 interior; DeepXDE also gets 400 boundary points for its soft boundary
conditions — sciflow's hard constraint needs none). Measured:

1. iterations per second, in interleaved blocks so both see the same machine load;
2. velocity relative L2 against sciflow's FEM reference after the same wall time.

Writes benchmarks/results/pinn_cavity.json (+ .md table, + .meta.json with load average).
Usage: python benchmarks/pinn_cavity.py [--seconds 120] [--blocks 3] [--block-iters 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

N_INTERIOR, N_BOUNDARY, LR = 2000, 400, 1e-3


# ----------------------------------------------------------------------------- DeepXDE
def deepxde_model(seed=0):
    os.environ["DDE_BACKEND"] = "pytorch"
    import deepxde as dde

    dde.config.set_random_seed(seed)
    re = 100.0
    geom = dde.geometry.Rectangle([0, 0], [1, 1])

    def pde(x, y):
        u, v = y[:, 0:1], y[:, 1:2]
        u_x, u_y = dde.grad.jacobian(y, x, i=0, j=0), dde.grad.jacobian(y, x, i=0, j=1)
        v_x, v_y = dde.grad.jacobian(y, x, i=1, j=0), dde.grad.jacobian(y, x, i=1, j=1)
        p_x, p_y = dde.grad.jacobian(y, x, i=2, j=0), dde.grad.jacobian(y, x, i=2, j=1)
        u_xx, u_yy = dde.grad.hessian(y, x, component=0, i=0, j=0), dde.grad.hessian(y, x, component=0, i=1, j=1)
        v_xx, v_yy = dde.grad.hessian(y, x, component=1, i=0, j=0), dde.grad.hessian(y, x, component=1, i=1, j=1)
        return [u * u_x + v * u_y + p_x - (u_xx + u_yy) / re, u * v_x + v * v_y + p_y - (v_xx + v_yy) / re, u_x + v_y]

    lid = lambda x, on: on and np.isclose(x[1], 1.0) and 0 < x[0] < 1  # noqa: E731
    walls = lambda x, on: on and not (np.isclose(x[1], 1.0) and 0 < x[0] < 1)  # noqa: E731
    bcs = [dde.icbc.DirichletBC(geom, lambda x: 1.0, lid, component=0),
           dde.icbc.DirichletBC(geom, lambda x: 0.0, walls, component=0),
           dde.icbc.DirichletBC(geom, lambda x: 0.0, lambda x, on: on, component=1)]
    data = dde.data.PDE(geom, pde, bcs, num_domain=N_INTERIOR, num_boundary=N_BOUNDARY)
    net = dde.nn.FNN([2] + [50] * 4 + [3], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=LR)
    return model


def deepxde_train(model, iters):
    t0 = time.perf_counter()
    model.train(iterations=iters, display_every=10**9, verbose=0)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- sciflow
def sciflow_state(seed=0, boundary="hard"):
    from sciflow.api import build
    from sciflow.spec import spec_from_dict
    from sciflow.training.trainer import Trainer

    spec = spec_from_dict({
        "name": "bench_cavity", "seed": seed, "dtype": "float32",
        "problem": {"name": "cavity", "Re": 100},
        "model": {"name": "pinn", "width": 50, "depth": 4, "activation": "tanh", "boundary": boundary},
        "objective": {"name": "physics", "interior_points": N_INTERIOR, "boundary_points": N_BOUNDARY},
        "training": {"phases": [{"optimizer": "adam", "steps": 10**7, "lr": LR}], "log_every": 100,
                     "checkpoint_every": 10**8, "tensorboard": False}})
    torch.manual_seed(seed)
    problem, model, objective = build(spec)
    gen = torch.Generator().manual_seed(seed)
    objective.setup(torch.device("cpu"), torch.float32, gen)
    return spec, problem, model, objective, gen, Trainer


def sciflow_train(state, iters, run_dir):
    """Run `iters` more Adam steps through sciflow's Trainer (resuming its own state)."""
    spec, problem, model, objective, gen, Trainer = state
    done = sciflow_train.done.get(id(state), 0)
    from sciflow.spec import spec_from_dict

    s = spec_from_dict(spec.to_dict(), overrides={"training.phases.0.steps": done + iters})
    tr = Trainer(s, model, objective, run_dir, torch.device("cpu"), torch.float32, gen, progress=False)
    t0 = time.perf_counter()
    if done:
        tr.fit(resume=True)
    else:
        tr.fit()
    sciflow_train.done[id(state)] = done + iters
    return time.perf_counter() - t0


sciflow_train.done = {}


def velocity_error(predict, ref):
    from sciflow.evaluation.metrics import velocity_rel_l2

    xs, ys = ref["x"].values, ref["y"].values
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    out = predict(np.stack([xx.ravel(), yy.ravel()], 1))
    u, v = out[:, 0].reshape(yy.shape), out[:, 1].reshape(yy.shape)
    return velocity_rel_l2(u, v, ref["u"].values, ref["v"].values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0, help="equal wall-time budget per method")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--block-iters", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import tempfile

    from sciflow.problems.navier_stokes import LidDrivenCavity

    ref = LidDrivenCavity(Re=100).reference()
    tmp = Path(tempfile.mkdtemp())
    dx = deepxde_model()
    sf = sciflow_state()
    sf_soft = sciflow_state(boundary="soft")
    # warm-up (first calls compile/allocate), then interleaved timing blocks
    deepxde_train(dx, 20)
    sciflow_train(sf, 20, tmp / "sf")
    sciflow_train(sf_soft, 20, tmp / "sf_soft")
    t_dx, t_sf, t_soft = [], [], []
    for _ in range(args.blocks):
        t_dx.append(deepxde_train(dx, args.block_iters))
        t_sf.append(sciflow_train(sf, args.block_iters, tmp / "sf"))
        t_soft.append(sciflow_train(sf_soft, args.block_iters, tmp / "sf_soft"))
    ips_dx = args.block_iters * args.blocks / sum(t_dx)
    ips_sf = args.block_iters * args.blocks / sum(t_sf)
    ips_soft = args.block_iters * args.blocks / sum(t_soft)
    # equal wall time from a fresh start
    dx = deepxde_model()
    n_dx = max(int(ips_dx * args.seconds), 1)
    w_dx = deepxde_train(dx, n_dx)
    err_dx = velocity_error(lambda p: dx.predict(p), ref)
    sf = sciflow_state()
    n_sf = max(int(ips_sf * args.seconds), 1)
    w_sf = sciflow_train(sf, n_sf, tmp / "sf2")
    model = sf[2]
    err_sf = velocity_error(lambda p: model.predict(torch.tensor(p, dtype=torch.float32)).double().numpy(), ref)
    rows = [
        {"framework": "DeepXDE 1.x (pytorch), soft BCs", "iterations_per_s": ips_dx, "iterations": n_dx,
         "wall_s": w_dx, "velocity_rel_l2": err_dx},
        {"framework": "sciflow, hard BCs, forward jets", "iterations_per_s": ips_sf, "iterations": n_sf,
         "wall_s": w_sf, "velocity_rel_l2": err_sf},
        {"framework": "sciflow, soft BCs (same work as DeepXDE), forward jets", "iterations_per_s": ips_soft},
    ]
    meta = machine() | {"speedup": ips_sf / ips_dx, "speedup_soft_bc": ips_soft / ips_dx, "seconds_budget": args.seconds, "blocks": args.blocks,
                        "block_iters": args.block_iters, "net": "4x50 tanh", "points": [N_INTERIOR, N_BOUNDARY]}
    try:
        import deepxde

        meta["deepxde"] = deepxde.__version__
    except Exception:
        pass
    md = (f"# Cavity PINN, Re 100: sciflow vs DeepXDE\n\n{meta['date']}, {meta['threads']} threads, "
          f"load average {meta.get('load_average')}\n\n"
          + markdown_table(rows, ["framework", "iterations_per_s", "iterations", "wall_s", "velocity_rel_l2"])
          + f"\nspeed ratio sciflow / DeepXDE: {ips_sf / ips_dx:.2f} (hard BCs), {ips_soft / ips_dx:.2f} (soft BCs, "
          "identical work)\n")
    write_results("pinn_cavity", rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
