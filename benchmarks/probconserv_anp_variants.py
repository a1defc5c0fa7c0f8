"""ProbConserv heat: the ANP network variants against each other at one short, equal budget.

Trains configs/probconserv_heat_paper.yaml (data of the paper's size: 10,000 training functions,
hidden 128) for ``--steps`` Adam steps of ``--batch`` functions at learning rate ``--lr`` for each
network variant below, then evaluates every run with the paper's protocol at k = 1 (t = 0.5,
50 test functions, :mod:`sciflow.evaluation.probconserv_protocol`) and records the seconds per
step on this machine:

* ``compact``: the network sciflow used before (σ_min = 0.01, latent σ_z = 0.1 + 0.9·sigmoid,
  one cross-attention layer, decoder 2 × 128),
* ``compact_floor``: the same with the paper's σ_min = 1e-3,
* ``paper``: the public code's layout (σ_min = 1e-3, free latent σ_z, two cross-attention
  layers, decoder 3 × 384).

    python benchmarks/probconserv_anp_variants.py [--steps 300] [--batch 32] [--lr 1e-3] [--seeds 0]

Writes benchmarks/results/probconserv_anp_variants.json/.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, markdown_table, write_results  # noqa: E402

VARIANTS = {
    "compact": ["model.min_std=0.01", "model.latent_std=bounded", "model.cross_attention_layers=1",
                "model.decoder_hidden=128", "model.decoder_layers=2"],
    "compact_floor": ["model.min_std=0.001", "model.latent_std=bounded", "model.cross_attention_layers=1",
                      "model.decoder_hidden=128", "model.decoder_layers=2"],
    "paper": ["model.min_std=0.001", "model.latent_std=free", "model.cross_attention_layers=2",
              "model.decoder_hidden=384", "model.decoder_layers=3"],
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", default=str(ROOT / "runs" / "probconserv_anp_variants"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)

    from sciflow.api import load_run, train
    from sciflow.evaluation.probconserv_eval import variants_for
    from sciflow.evaluation.probconserv_protocol import evaluate_paper_protocol

    rows, started = [], time.time()
    for seed in args.seeds:
        for name in args.variants:
            ov = [f"name=heat_{name}_s{seed}", f"seed={seed}", "training.validate_every=0", "training.checkpoint_every=100000",
                  f"objective.batch_size={args.batch}", f"training.phases.0.steps={args.steps}",
                  f"training.phases.0.lr={args.lr}"] + VARIANTS[name]
            run_dir = train(ROOT / "configs" / "probconserv_heat_paper.yaml", overrides=ov,
                            out=Path(args.out) / f"{name}_s{seed}", progress=False, overwrite=True)
            run = load_run(run_dir)
            secs = float(run.metrics()["elapsed_s"][-1])
            res, _ = evaluate_paper_protocol(run.model, run.problem, variants_for(run.model), test_values=[1.0],
                                             samples=32)
            for r in res:
                if r["variant"] in ("ANP", "ProbConserv"):
                    rows.append({"variant": name, "seed": seed, "model": r["variant"], "mse": r["mse"],
                                 "mse_se": r["mse_se"], "log_likelihood": r["log_likelihood"],
                                 "conservation_error": r["conservation_error"], "train_steps": run.step,
                                 "train_seconds": secs, "seconds_per_step": secs / max(run.step, 1)})
            print(markdown_table(rows[-2:], ["variant", "seed", "model", "mse", "log_likelihood",
                                             "seconds_per_step"]), flush=True)
    meta = {**machine(), "wall_seconds": time.time() - started, "steps": args.steps, "batch": args.batch,
            "lr": args.lr, "seeds": args.seeds}
    md = (f"# ProbConserv heat: ANP network variants ({args.steps} steps × {args.batch} functions, lr {args.lr}, "
          f"one thread)\n\nPaper protocol at k = 1, t = 0.5, 50 test functions (mean; se in the JSON). "
          f"Load average {meta.get('load_average')}.\n\n"
          + markdown_table(rows, ["variant", "seed", "model", "mse", "mse_se", "log_likelihood", "conservation_error",
                                  "train_steps", "seconds_per_step"]))
    write_results("probconserv_anp_variants", rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
