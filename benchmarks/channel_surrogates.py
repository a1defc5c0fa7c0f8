"""Channel-flow surrogates: one-step error, rollout stability, U+/rms errors and cost vs the LES solver.

Trains each configured surrogate (``configs/channel_<model>.yaml``) for ``--steps`` optimiser steps on
the channel dataset, evaluates it with the ``channel`` evaluator and writes
``benchmarks/results/channel_surrogates.json`` (flat rows: model, params, one_step_rel_l2,
rollout_steps_stable, U_plus_max_rel_err, rms_max_rel_err, seconds_per_time_unit, device) plus a
markdown table.  Usage::

    python benchmarks/channel_surrogates.py --steps 150 --rollout 50 --models ifactformer_m ifactformer_o fno ifno

``fno`` / ``ifno``: neuraloperator's FNO in 3D (x, y, z; y treated as periodic, the FNO practice) on the
3 velocity channels, and its implicit form (one Fourier block iterated with shared weights,
v ← v + block(v)/L); built here as benchmark-local models ``channel_fno3d`` / ``channel_ifno3d``
with the same I/O as IFactFormer (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3), increment over the last state.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

import sciflow  # noqa: E402
from sciflow.models.baselines import _ComplexSafe  # noqa: E402  (keeps complex spectral weights complex)

ROOT = Path(__file__).resolve().parents[1]
FNO_WIDTH, FNO_MODES, FNO_LAYERS = 16, 2, 4  # IFNO ≈ 27k parameters, IFactFormer-m (CPU config) 24k


class _Neuralop3D(_ComplexSafe):
    """(B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3) through neuralop's 3D FNO (channel-first inside)."""

    def __init__(self, problem=None, width: int = FNO_WIDTH, modes: int = FNO_MODES, layers: int = FNO_LAYERS,
                 implicit: bool = False):
        super().__init__()
        from neuralop.models import FNO

        self.t_in, self.t_out, self.implicit, self.layers = int(getattr(problem, "t_in", 1)), 1, implicit, layers
        self.net = FNO(n_modes=(2 * modes,) * 3, in_channels=3 * self.t_in, out_channels=3, hidden_channels=width,
                       n_layers=2 if implicit else layers, positional_embedding="grid")
        if implicit:  # keep block 0 only and iterate it (IFNO)
            blocks = self.net.fno_blocks
            for name, child in list(blocks.named_children()):
                if isinstance(child, torch.nn.ModuleList):
                    setattr(blocks, name, torch.nn.ModuleList([child[0]]))

    def forward(self, x):
        b, t, nx, ny, nz, c = x.shape
        u = x.permute(0, 1, 5, 2, 3, 4).reshape(b, t * c, nx, ny, nz)
        if self.implicit:
            net = self.net
            v = net.lifting(net.positional_embedding(u))
            for _ in range(self.layers):
                v = v + net.fno_blocks(v, 0) / self.layers
            y = net.projection(v)
        else:
            y = self.net(u)
        return (x[:, -1] + y.permute(0, 2, 3, 4, 1)).unsqueeze(1)


def _register_baselines():
    from sciflow.models.registry import MODELS, register_model

    if "channel_fno3d" in MODELS._items:
        return

    @register_model("channel_fno3d")
    class ChannelFNO3D(_Neuralop3D):
        def __init__(self, problem=None, width: int = FNO_WIDTH, modes: int = FNO_MODES, layers: int = FNO_LAYERS):
            super().__init__(problem, width, modes, layers, implicit=False)

    @register_model("channel_ifno3d")
    class ChannelIFNO3D(_Neuralop3D):
        def __init__(self, problem=None, width: int = FNO_WIDTH, modes: int = FNO_MODES, layers: int = FNO_LAYERS):
            super().__init__(problem, width, modes, layers, implicit=True)


def _spec(name):
    """Spec of model ``name``: a config file for IFactFormer, the IFactFormer-m spec with a 3D FNO/IFNO model."""
    from sciflow.spec import load_spec

    if name.startswith("ifactformer"):
        return ROOT / "configs" / f"channel_{name}.yaml"
    raw = load_spec(ROOT / "configs" / "channel_ifactformer_m.yaml").to_dict()
    raw["name"] = f"channel_{name}"
    raw["model"] = {"name": f"channel_{name}3d"}
    from sciflow.spec import spec_from_dict

    return spec_from_dict(raw)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["ifactformer_m", "ifactformer_o"])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rollout", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/bench_channel")
    ap.add_argument("--append", action="store_true", help="keep rows of other models already in the results file")
    ap.add_argument("--reuse", action="store_true", help="read the metrics of runs already evaluated under --out")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    _register_baselines()
    for name in a.models:
        cfg = _spec(name)
        over = [f"training.phases=[{{optimizer: adam, steps: {a.steps}, lr: 1.0e-3, schedule: cosine, "
                f"final_lr_ratio: 0.05}}]", f"training.validate_every={max(1, a.steps // 3)}",
                f"training.checkpoint_every={max(1, a.steps // 3)}", f"evaluation.rollout_steps={a.rollout}"]
        done = Path(a.out) / name / "evaluation" / "metrics.json"
        if a.reuse and done.exists():
            import json

            m = json.loads(done.read_text())
        else:
            run = sciflow.train(cfg, overrides=over, out=Path(a.out) / name, progress=True)
            m = sciflow.evaluate(run, progress=True)
        rows.append({"model": name, "params": m["parameters"], "one_step_rel_l2": m["one_step_rel_l2"],
                     "persistence_rel_l2": m.get("persistence_rel_l2"),
                     "rollout_steps_stable": m["rollout_steps_stable"],
                     "U_plus_max_rel_err": m.get("U_plus_max_rel_err"), "rms_max_rel_err": m.get("rms_max_rel_err"),
                     "seconds_per_time_unit": m["seconds_per_time_unit"], "device": m["device"],
                     "les_seconds_per_time_unit": m["les_seconds_per_time_unit"], "train_steps": a.steps,
                     "rollout_steps": a.rollout})
    res = ROOT / "benchmarks" / "results" / "channel_surrogates.json"
    if a.append and res.exists():
        import json

        new = {r["model"] for r in rows}
        rows = [r for r in json.loads(res.read_text()) if r["model"] not in new] + rows
    meta = {"machine": machine(), "load_average": os.getloadavg(), "threads": a.threads, "train_steps": a.steps,
            "rollout_steps": a.rollout, "dataset": "channel_retau180_cpu (16x33x16 filtered DNS, dt_snapshot 0.1)"}
    write_results("channel_surrogates", rows, meta, markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
