"""GPU smoke test: four workloads on one GPU, their speed, and agreement with the CPU path.

    bash benchmarks/gpu_smoke.sh            # one CUDA GPU, <= 10 minutes on an H100
    bash benchmarks/gpu_smoke.sh --small    # CPU, small sizes: the same code paths, in about a minute

Workloads (full size / ``--small``):

1. cavity PINN (``configs/cavity_re100_pinn.yaml``) with ``amp: bf16`` and ``compile: true`` (``--small`` on a
   CPU: ``compile: true`` only, bf16 autocast being CUDA-only), 300 / 5 Adam steps. Check: the loss and its
   gradient at the initial weights and points, device path (bf16 autocast, compiled) against the CPU float32
   path: |ΔL|/L ≤ 5e-2 and cosine(∇L_device, ∇L_cpu) ≥ 0.99 (bf16 keeps 8 mantissa bits, ~4e-3 per product).
2. FNO (``configs/ns2d_nu1e-5_fno.yaml`` sizes) 500 / 5 Adam steps at 64² / 16² on ν = 1e-5 data made by the
   spectral solver on the same device. Check: one forward pass with the same weights and batch, device against
   CPU, relative L2 ≤ 2e-3 (TF32 convolutions on CUDA).
3. Channel DNS 100 / 3 steps at 128×129×128 / 16×33×16 (float32, the recipe's precision). Check: 2 steps from
   the same turbulent state in float64, device against CPU, relative difference of u ≤ 1e-9.
4. IFactFormer-m (``configs/channel_ifactformer_m.yaml`` sizes, untrained weights of seed 0) rolled out
   100 / 5 steps from the first test state of a short filtered-DNS set made on the device. Check: the first
   5 states, device against CPU, relative L2 ≤ 1e-3.

Prints one line per workload (speed, check, tolerance, PASS/FAIL) and writes ``<out>/gpu_smoke.json``; a full
run on CUDA also writes ``benchmarks/results/gpu_smoke.json``. Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

FULL = {"pinn_steps": 300, "pinn_points": 2000, "fno_steps": 500, "fno_resolution": 64, "fno_train": 64,
        "dns_grid": (128, 129, 128), "dns_steps": 100, "rollout_steps": 100,
        "channel_data": {"nx": 48, "ny": 80, "nz": 72, "spinup": 1.0, "n_trajectories": 4, "n_snapshots": 6,
                         "snapshot_every": 160, "gap": 0.2, "coarse": [16, 33, 16]}}
SMALL = {"pinn_steps": 5, "pinn_points": 256, "fno_steps": 5, "fno_resolution": 16, "fno_train": 8,
         "dns_grid": (16, 33, 16), "dns_steps": 3, "rollout_steps": 5,
         "channel_data": {"nx": 16, "ny": 24, "nz": 16, "spinup": 0.1, "n_trajectories": 4, "n_snapshots": 3,
                          "snapshot_every": 40, "gap": 0, "coarse": [8, 13, 8]}}
TOL = {"pinn_loss": 5e-2, "pinn_grad_cosine": 0.99, "fno_forward": 2e-3, "dns_state": 1e-9, "rollout": 1e-3}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = (torch.view_as_real(t) if t.is_complex() else t for t in (a.detach(), b.detach()))
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _spec(name: str, overrides: list[str]):
    from sciflow.spec import load_spec

    return load_spec(ROOT / "configs" / f"{name}.yaml", overrides)


def _steps_per_second(run: Path) -> float:
    """Training speed between the first and the last logged step (leaves out compilation in the first steps)."""
    from sciflow.training.metrics_csv import read_metrics

    _, rows = read_metrics(run / "metrics.csv")
    rows = [r for r in rows if r.get("elapsed_s") not in ("", None) and math.isfinite(float(r["elapsed_s"]))]
    first, last = rows[0], rows[-1]
    return (float(last["step"]) - float(first["step"])) / (float(last["elapsed_s"]) - float(first["elapsed_s"]))


def cavity_pinn(device: torch.device, size: dict, out: Path) -> dict:
    """Workload 1 (module docstring)."""
    import sciflow
    from sciflow.api import build

    amp = "bf16" if device.type == "cuda" else "none"
    steps = size["pinn_steps"]
    over = [f"device={device}", f"amp={amp}", "compile=true", f"objective.interior_points={size['pinn_points']}",
            f"training.phases=[{{optimizer: adam, steps: {steps}, lr: 1.0e-3}}]", f"training.log_every={steps // 2}",
            f"training.checkpoint_every={steps}", "training.tensorboard=false"]
    spec = _spec("cavity_re100_pinn", over)
    run = sciflow.train(spec, out=out / "cavity_pinn", progress=False, overwrite=True)
    speed = _steps_per_second(run)
    # the loss and its gradient at the same initial weights and points on both paths
    torch.manual_seed(spec.seed)
    _, model_cpu, obj_cpu = build(spec, torch.device("cpu"))
    obj_cpu.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    loss_cpu = obj_cpu.loss(model_cpu, 0)[0]
    loss_cpu.backward()
    g_cpu = torch.cat([p.grad.flatten() for p in model_cpu.parameters()])
    _, model_dev, obj_dev = build(spec, device)
    model_dev.load_state_dict(model_cpu.state_dict())
    obj_dev.setup(device, torch.float32, torch.Generator().manual_seed(0))
    model_dev.compile_jets()  # what compile: true does to a PINN in training
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
        loss_dev = obj_dev.loss(model_dev, 0)[0]
    loss_dev.backward()
    g_dev = torch.cat([p.grad.flatten() for p in model_dev.parameters()]).double().cpu()
    cosine = float(g_dev @ g_cpu.double() / (g_dev.norm() * g_cpu.double().norm()))
    dl = abs(float(loss_dev.detach()) - float(loss_cpu.detach())) / abs(float(loss_cpu.detach()))
    ok = dl <= TOL["pinn_loss"] and cosine >= TOL["pinn_grad_cosine"]
    return {"workload": f"cavity PINN, amp {amp}, compile", "size": f"{size['pinn_points']} points, {steps} steps",
            "speed": speed, "speed_unit": "steps/s", "check": f"|dL|/L {dl:.2e}, grad cosine {cosine:.5f}",
            "tolerance": f"{TOL['pinn_loss']:g}, {TOL['pinn_grad_cosine']:g}", "pass": ok}


def fno_ns2d(device: torch.device, size: dict, out: Path) -> dict:
    """Workload 2 (module docstring)."""
    import sciflow
    from sciflow.api import build

    n, steps = size["fno_resolution"], size["fno_steps"]
    params = (f"{{n_train: {size['fno_train']}, n_validation: 4, n_test: 4, resolution: {n}, solve_resolution: {n}, "
              f"batch_size: {size['fno_train'] + 8}, device: {device.type}}}")
    over = [f"device={device}", f"problem.params={params}", "problem.subsample=1",
            f"training.phases=[{{optimizer: adam, steps: {steps}, lr: 1.0e-3}}]", f"training.log_every={steps // 2}",
            f"training.checkpoint_every={steps}", "training.validate_every=0", "training.tensorboard=false"]
    if size is SMALL:
        over += ["model.width=8", "model.modes=4"]
    spec = _spec("ns2d_nu1e-5_fno", over)
    run = sciflow.train(spec, out=out / "fno_ns2d", progress=False, overwrite=True)
    speed = _steps_per_second(run)
    problem, model_cpu, obj = build(spec, torch.device("cpu"))
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    x, _ = obj.next_batch()
    _, model_dev, _ = build(spec, device)
    model_dev.load_state_dict(model_cpu.state_dict())
    with torch.no_grad():
        err = _rel(model_dev(x.to(device)), model_cpu(x))
    return {"workload": "FNO on 2D turbulence (nu 1e-5)", "size": f"{n}^2, {steps} steps, batch {x.shape[0]}",
            "speed": speed, "speed_unit": "steps/s", "check": f"forward rel L2 {err:.2e}",
            "tolerance": f"{TOL['fno_forward']:g}", "pass": err <= TOL["fno_forward"]}


def channel_dns(device: torch.device, size: dict) -> dict:
    """Workload 3 (module docstring)."""
    from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
    from sciflow.cfd.channel_initial import turbulent_initial_condition

    nx, ny, nz = size["dns_grid"]

    def solver(dev, dtype):
        s = ChannelSolver(ChannelConfig(nx=nx, ny=ny, nz=nz, lx=math.pi, lz=math.pi / 2, stretch=1.9, nu=1 / 178.12,
                                        dt=2.5e-4, dtype=dtype, device=str(dev), cfl_max=1.6))
        turbulent_initial_condition(s, 1.0, seed=0)
        return s

    s = solver(device, "float32")
    s.step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(size["dns_steps"]):
        s.step()
    _sync(device)
    ms = (time.perf_counter() - t0) / size["dns_steps"] * 1e3
    a, b = solver(device, "float64"), solver(torch.device("cpu"), "float64")
    for _ in range(2):
        a.step()
        b.step()
    err = max(_rel(getattr(a, k), getattr(b, k)) for k in ("uh", "vh", "wh"))
    return {"workload": "channel DNS, Re_tau 178", "size": f"{nx}x{ny}x{nz}, {size['dns_steps']} steps",
            "speed": ms, "speed_unit": "ms/step", "check": f"2 steps float64 rel diff {err:.2e}",
            "tolerance": f"{TOL['dns_state']:g}", "pass": err <= TOL["dns_state"]}


def ifactformer_rollout(device: torch.device, size: dict, out: Path) -> dict:
    """Workload 4 (module docstring)."""
    from sciflow.api import build_problem_model

    data = json.dumps({**size["channel_data"], "device": device.type, "threads": 0}).replace('"', "")
    spec = _spec("channel_ifactformer_m", [f"problem.params={data}", "problem.horizon=2"])
    torch.manual_seed(0)
    problem, model_cpu = build_problem_model(spec, torch.device("cpu"))
    _, model_dev = build_problem_model(spec, device)
    model_dev.load_state_dict(model_cpu.state_dict())
    test = problem.dataset("test", t_out=1, stride=None)
    x0 = torch.stack([test[i][0] for i in range(len(test))])
    steps, check = size["rollout_steps"], 5
    with torch.no_grad():
        x = x0.to(device)
        model_dev(x)  # warm-up (kernels, caches)
        _sync(device)
        t0 = time.perf_counter()
        outs = []
        for _ in range(steps):
            y = model_dev(x)
            outs.append(y)
            x = torch.cat([x, y], 1)[:, -x.shape[1]:]
        _sync(device)
        sec = time.perf_counter() - t0
        xc, ref = x0, []
        for _ in range(check):
            yc = model_cpu(xc)
            ref.append(yc)
            xc = torch.cat([xc, yc], 1)[:, -xc.shape[1]:]
    err = _rel(torch.cat(outs[:check], 1), torch.cat(ref, 1))
    dt = float(problem.reference(progress=False).attrs["dt_snapshot"])
    return {"workload": "IFactFormer-m rollout (channel)", "size": f"{tuple(x0.shape[2:5])}, {steps} steps, "
            f"{x0.shape[0]} trajectories", "speed": sec / steps / dt / x0.shape[0], "speed_unit": "s per h/u_tau",
            "check": f"first {check} states rel L2 {err:.2e}", "tolerance": f"{TOL['rollout']:g}",
            "pass": err <= TOL["rollout"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="small sizes on the CPU (the test of this script)")
    ap.add_argument("--out", default="runs/gpu_smoke", help="run directories and gpu_smoke.json")
    a = ap.parse_args(argv)
    small = a.small or os.environ.get("SCIFLOW_SMOKE_SMALL") == "1"
    if small:
        device = torch.device("cpu")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        print("gpu_smoke: no CUDA device; run with --small for the CPU version", file=sys.stderr)
        return 2
    size = SMALL if small else FULL
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SCIFLOW_DATA", str(out / "data"))
    rows = []
    t0 = time.perf_counter()
    for work in (lambda: cavity_pinn(device, size, out), lambda: fno_ns2d(device, size, out),
                 lambda: channel_dns(device, size), lambda: ifactformer_rollout(device, size, out)):
        row = work()
        rows.append(row)
        print(f"{'PASS' if row['pass'] else 'FAIL'}  {row['workload']:36s} {row['size']:40s} "
              f"{row['speed']:10.4g} {row['speed_unit']:14s} {row['check']} (tolerance {row['tolerance']})", flush=True)
    meta = {"machine": machine(), "device": str(device), "small": small, "wall_seconds": time.perf_counter() - t0,
            "tolerances": TOL}
    from sciflow.data.io import atomic_write_text, json_ready

    atomic_write_text(out / "gpu_smoke.json", json.dumps(json_ready({"rows": rows, "meta": meta}), indent=2))
    if not small:
        cols = ["workload", "size", "speed", "speed_unit", "check", "tolerance", "pass"]
        write_results("gpu_smoke", rows, meta, markdown_table(rows, cols))
    print(f"gpu_smoke: {sum(r['pass'] for r in rows)}/{len(rows)} checks passed in {meta['wall_seconds']:.0f} s")
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
