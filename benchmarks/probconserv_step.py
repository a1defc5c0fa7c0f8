"""Cost of one ProbConserv-ANP training step on heat, PME and Stefan, against the machine's matmul rate.

Builds the ANP and ``likelihood`` objective of configs/probconserv_<problem>_paper.yaml (all at the
same ``--batch`` functions per step; the training set is ``--functions`` functions, enough for the
timed steps: its size does not enter a step's work) and times ``--steps`` Adam steps of each,
round-robin (heat, PME, Stefan, heat, ...), so that all three see the same machine state. Per
step it records the wall time (``time.perf_counter``) and the CPU time of the process
(``time.process_time``): on a shared machine the wall time grows with the other processes'
load, the CPU time does not. The floating-point operations of one step (forward and backward)
are counted by the torch profiler; the matmul floor is the rate of one-thread float32 matmuls of
the decoder's shape, (batch · 100, 384) @ (384, 384), timed in the same way.

    python benchmarks/probconserv_step.py [--batch 32] [--steps 15]

Writes benchmarks/results/probconserv_step.{json,meta.json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, markdown_table, write_results  # noqa: E402

PROBLEMS = ("heat", "pme", "stefan")
NAME = "probconserv_step"


def _setup(problem: str, batch: int, functions: int):
    from sciflow.api import build
    from sciflow.spec import load_spec

    spec = load_spec(ROOT / "configs" / f"probconserv_{problem}_paper.yaml",
                     [f"objective.batch_size={batch}", f"objective.functions={functions}", "seed=0"])
    torch.manual_seed(0)
    _, model, objective = build(spec)
    objective.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(1000))
    optimizer = torch.optim.Adam(model.parameters(), lr=float(spec.training.phases[0].lr))
    return model, objective, optimizer


def _step(model, objective, optimizer, k):
    optimizer.zero_grad(set_to_none=True)
    total, _ = objective.loss(model, k)
    total.backward()
    optimizer.step()
    return float(total.detach())


def _flops(model, objective, optimizer) -> float:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        _step(model, objective, optimizer, 0)
    return float(sum(e.flops for e in prof.key_averages() if e.flops))


def _matmul_floor(rows: int, width: int = 384, repeats: int = 20) -> dict:
    a, w = torch.randn(rows, width), torch.randn(width, width)
    a @ w
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(10):
            a @ w
        wall.append((time.perf_counter() - t0) / 10)
        cpu.append((time.process_time() - c0) / 10)
    flops = 2.0 * rows * width * width
    return {"shape": f"({rows}, {width}) @ ({width}, {width})", "gflops_per_wall_s": flops / statistics.median(wall) / 1e9,
            "gflops_per_cpu_s": flops / statistics.median(cpu) / 1e9}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32, help="functions per step (all problems)")
    ap.add_argument("--steps", type=int, default=15, help="timed steps per problem (after 3 untimed)")
    ap.add_argument("--functions", type=int, default=512, help="training-set size")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    load_before = os.getloadavg()
    nets = {p: _setup(p, args.batch, args.functions) for p in PROBLEMS}
    for p in PROBLEMS:
        for k in range(3):
            _step(*nets[p], k)
    flops = {p: _flops(*nets[p]) for p in PROBLEMS}
    wall = {p: [] for p in PROBLEMS}
    cpu = {p: [] for p in PROBLEMS}
    for k in range(args.steps):
        for p in PROBLEMS:
            t0, c0 = time.perf_counter(), time.process_time()
            _step(*nets[p], k)
            wall[p].append(time.perf_counter() - t0)
            cpu[p].append(time.process_time() - c0)
    floor = _matmul_floor(args.batch * 100)
    rows = []
    for p in PROBLEMS:
        c = statistics.median(cpu[p])
        rows.append({"problem": p, "batch": args.batch, "steps": args.steps,
                     "wall_s_per_step": statistics.median(wall[p]), "cpu_s_per_step": c,
                     "wall_s_per_step_max": max(wall[p]), "gflop_per_step": flops[p] / 1e9,
                     "gflops_per_cpu_s": flops[p] / c / 1e9,
                     "fraction_of_matmul_rate": flops[p] / c / 1e9 / floor["gflops_per_cpu_s"]})
    meta = {**machine(), "load_average_before": list(load_before), "matmul_floor": floor}
    md = ["# ProbConserv-ANP training step: heat, PME, Stefan at the same batch", "",
          f"`python benchmarks/probconserv_step.py --batch {args.batch} --steps {args.steps}`: median over "
          f"{args.steps} steps of each problem (round-robin), one thread, load average "
          f"{load_before[0]:.2f} before / {meta['load_average'][0]:.2f} after; {args.batch} functions × "
          "100 contexts × 100 targets per step, the network of configs/probconserv_*_paper.yaml. "
          f"Matmul floor {floor['shape']}: {floor['gflops_per_cpu_s']:.1f} GFLOP per CPU second.", "",
          markdown_table(rows, ["problem", "batch", "wall_s_per_step", "cpu_s_per_step", "gflop_per_step",
                                "gflops_per_cpu_s", "fraction_of_matmul_rate"])]
    write_results(NAME, rows, meta, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
