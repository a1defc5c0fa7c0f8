"""One PINN training step (forward jets, loss, backward, Adam) against its matmul floor, on one core.

For each case (a config's problem, model and collocation points):

* matmul FLOPs of one step: torch's ``FlopCounterMode`` over forward + backward;
* the core's small-matmul rate: an (N × W) @ (W × W) matmul in the case's dtype (N collocation
  points, W the width), timed in the same run;
* floor_ms = FLOPs / rate: the step if it were nothing but its matmuls at that rate;
* step_ms: median wall time of a step (after warm-up); ratio = step_ms / floor_ms.

Matmul and step timings alternate in blocks (``--rounds``) so both see the same machine load,
which is recorded (load average before and after). The step runs three ways: with the fused jets
``MLP.jet`` (what training uses), with the op-by-op jet rules ``MLP.jet_op_by_op`` (the
formula the fused path replaced) with the compiled jets (``MLP.compile_jets``), with the module wrapped in ``torch.compile`` and with
both (what training does with ``compile: true``), on the same points from the same initial weights; the first losses of all
are recorded to show they agree. Like ``sciflow train``, the process keeps freed
memory for reuse (``sciflow/training/allocator.py``); page faults per step are counted.

Writes benchmarks/results/pinn_step.json (+ .md, + .meta.json).
Usage: python benchmarks/pinn_step.py [--steps 60] [--rounds 5] [--cases cavity stream]
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "cavity": ROOT / "configs" / "cavity_re100_pinn.yaml",  # primitive (u, v, p), second-order jets
    "stream": ROOT / "configs" / "sinusoidal_pipe_periodic_pinn.yaml",  # stream function, third-order jets
}


def build_case(config: Path):
    from sciflow.api import DTYPES, build
    from sciflow.spec import load_spec

    spec = load_spec(config)
    torch.manual_seed(spec.seed)
    problem, model, objective = build(spec)
    dtype = DTYPES[spec.dtype]
    objective.setup(torch.device("cpu"), dtype, torch.Generator().manual_seed(spec.seed))
    return spec, model, objective, dtype


def stepper(model, objective, call=None):
    """One Adam step of ``model`` (through ``call``, a wrapper of it, when given)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        total, _ = objective.loss(model if call is None else call, 0)
        total.backward()
        opt.step()
        return float(total.detach())

    return step


def matmul_flops(step) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def timed(fn, repeats: int, cpu: list | None = None) -> list[float]:
    """Wall times of ``repeats`` calls (and this thread's CPU times appended to ``cpu``)."""
    out = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        out.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.thread_time() - c0)
    return out


def measure(name: str, config: Path, steps: int, rounds: int) -> list[dict]:
    spec, model, objective, dtype = build_case(config)
    op_by_op = copy.deepcopy(model)
    order = 3 if model.output == "stream" else model.order
    op_by_op.net.jet = lambda x, order=order, net=op_by_op.net: net.jet_op_by_op(x, order)
    compiled = copy.deepcopy(model)
    compiled.net.compile_jets()
    module, both = copy.deepcopy(model), copy.deepcopy(compiled)
    variants = {"fused jets": stepper(model, objective), "op-by-op jets": stepper(op_by_op, objective),
                "compiled jets": stepper(compiled, objective),
                "torch.compile(module)": stepper(module, objective, torch.compile(module)),
                "compile: true": stepper(both, objective, torch.compile(both))}
    first_loss, first_s = {}, {}
    for k, step in variants.items():  # same weights, same points; the compiled variant compiles here
        t0 = time.perf_counter()
        first_loss[k] = step()
        first_s[k] = time.perf_counter() - t0
    flops = matmul_flops(variants["fused jets"])
    cfg = spec.section("model")
    n, width = objective.x.shape[0], cfg["width"]
    a, b = torch.randn(n, width, dtype=dtype), torch.randn(width, width, dtype=dtype)
    mm = lambda: a @ b  # noqa: E731
    for fn in (mm, *variants.values()):  # warm-up
        timed(fn, 10)
    mm_times, step_times, faults = [], {k: [] for k in variants}, {k: 0 for k in variants}
    step_cpu = {k: [] for k in variants}
    for _ in range(rounds):
        mm_times += timed(mm, 200)
        for k, step in variants.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            step_times[k] += timed(step, steps, step_cpu[k])
            faults[k] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    rate = 2 * n * width * width / statistics.median(mm_times)
    floor_ms = flops / rate * 1e3
    rows = []
    for k in variants:
        step_ms = statistics.median(step_times[k]) * 1e3
        rows.append({"case": name, "jets": k, "config": config.name, "dtype": spec.dtype,
                     "net": f"{cfg['depth']}x{width} {cfg['activation']}", "points": n,
                     "step_ms": step_ms, "step_ms_min": min(step_times[k]) * 1e3,
                     "step_cpu_ms": statistics.median(step_cpu[k]) * 1e3, "floor_ms": floor_ms,
                     "ratio": step_ms / floor_ms, "matmul_mflop": flops / 1e6, "matmul_gflop_s": rate / 1e9,
                     "page_faults_per_step": faults[k] / (rounds * steps), "first_loss": first_loss[k],
                     "first_step_s": first_s[k],
                     "threads": torch.get_num_threads()})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60, help="timed steps per round and variant")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    from sciflow.training.allocator import keep_freed_memory

    malloc = keep_freed_memory()
    load_before = os.getloadavg()
    rows = [row for case in args.cases for row in measure(case, CASES[case], args.steps, args.rounds)]
    meta = machine() | {"load_average_before": list(load_before), "malloc": malloc, "steps": args.steps,
                        "rounds": args.rounds}
    md = (f"# PINN step against its matmul floor, one core\n\n{meta['date']}, {meta['threads']} thread, "
          f"load average {load_before[0]:.2f} before, {meta['load_average'][0]:.2f} after "
          f"({meta['cpu_count']} cores; other processes share the machine)\n\n"
          + markdown_table(rows, ["case", "jets", "dtype", "net", "points", "step_ms", "step_ms_min", "step_cpu_ms",
                                  "floor_ms", "ratio", "matmul_mflop", "matmul_gflop_s", "page_faults_per_step",
                                  "first_loss", "first_step_s"])
          + "\nfloor_ms = matmul FLOPs of one step (FlopCounterMode) / the rate of an (points × W) @ (W × W) "
            "matmul timed in the same run; step_ms = median wall time of a step (Adam), step_cpu_ms the "
            "median CPU time of this thread in it; ratio = step_ms / floor_ms. 'op-by-op jets' is the same "
            "step through the Jet rules with every product recorded by autograd (the formula the fused activation replaced); "
            "'compiled jets' the fused activations as TorchInductor kernels ("
            "sciflow/autodiff/compiled_activation.py), 'torch.compile(module)' the whole model wrapped in torch.compile "
            "(what compile: true does to other models), 'compile: true' both (what it does to a PINN); first_step_s "
            "includes compilation (less when Inductor's on-disk cache already holds the kernels).\n")
    write_results("pinn_step", rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
