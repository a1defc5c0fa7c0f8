"""Channel-flow surrogates: one-step error, rollout stability, U+/rms errors and cost vs the LES solver.

Trains each configured surrogate (``configs/channel_<model>.yaml``) with the config's training phases (or
``--steps`` Adam steps) on the channel dataset, rolls it out ``--rollout`` steps (default 1000), evaluates it with the ``channel`` evaluator and writes
``benchmarks/results/channel_surrogates.json`` (flat rows: model, params, one_step_rel_l2,
rollout_steps_stable, U_plus_max_rel_err, rms_max_rel_err, seconds_per_time_unit, device, constraints,
train_seconds, train_pairs) plus a markdown table.  Usage::

    python benchmarks/channel_surrogates.py --models ifactformer_m ifactformer_o fno ifno --les smagorinsky wale dynamic

Results (every row, median and worst over seeds): ``benchmarks/results/channel_surrogates.md`` and the
README. ``--models none --les ...`` computes LES rows only (cached under --out).

``--les smagorinsky wale dynamic`` adds one row per LES model (:mod:`sciflow.evaluation.channel_les_rollout`):
the LES on the same resolved scales as the coarse data, started from the first state of the first test
trajectory and run for ``--rollout`` snapshot intervals, its statistics against the same filtered-DNS
profiles, its one-step error on every test pair of snapshots, and its wall time per h/u_τ measured in
the same run on the same device and thread count as the surrogates. With a ``les_smagorinsky`` row, every
surrogate's ``les_seconds_per_time_unit`` and ``speedup_vs_les`` are taken against that row's measured cost.

``--constraints no_slip plane_mean_v bulk_flow`` evaluates every surrogate a second time, the same weights, through
the rollout constraint layer (``sciflow.evaluate(run, evaluation={"constraints": [...]})`` →
``<run>/evaluation_constraints=no_slip+plane_mean_v+bulk_flow/``; :mod:`sciflow.models.state_projection`): each predicted state is projected onto
the named quantities. Rows carry ``config``, ``dataset``, ``constraints`` (the list, or "none") and the largest
residual of each quantity over the rollout (``constraint_residual_<name>``), and ``train_pairs`` (one-step pairs of
the train split); ``--append`` keeps the rows of other (config, dataset, constraints) triples.

``--models ifactformer_m_rollout ifactformer_o_rollout fno_rollout ifno_rollout --les-config ifactformer_m_rollout``
is the comparison trained by rollouts on the budget-sized data (``datasets/channel_retau180_cpu_budget.yaml``).

``fno`` / ``ifno`` (``configs/channel_fno.yaml`` / ``channel_ifno.yaml``): the registered neuraloperator
baselines, which on the channel problem are 3D (x, y, z; y treated as periodic, the FNO practice) on the
3 velocity channels, FNO and its implicit form (one Fourier block iterated with shared weights,
v ← v + block(v)/L), with the same I/O as IFactFormer (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3), increment
over the last state and exact no-slip wall rows (:mod:`sciflow.models.baselines`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

import sciflow  # noqa: E402
from sciflow.data.io import atomic_write_text  # noqa: E402
from sciflow.evaluation.channel_les_rollout import LES_DT  # noqa: E402
from sciflow.cfd.channel_profiles import wall_shear_and_bulk  # noqa: E402
from sciflow.evaluation.report import evaluation_subdir  # noqa: E402
from sciflow.spec import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _spec(name):
    """Config file of model ``name``: ``configs/channel_<name>.yaml``."""
    return ROOT / "configs" / f"channel_{name}.yaml"


def les_row(sgs: str, snapshots: int, dt: float, config: str = "ifactformer_m") -> dict:
    """The row of LES model ``sgs`` (module docstring) on the dataset of ``configs/channel_<config>.yaml``."""
    import numpy as np

    from sciflow.evaluation.channel_eval import reference_profiles
    from sciflow.evaluation.channel_les_rollout import les_one_step_error, les_rollout
    from sciflow.cfd.channel_profiles import profile_errors
    from sciflow.problems.base import build_problem

    problem = build_problem(load_spec(_spec(config)).section("problem"))
    ds = problem.reference(progress=True)
    test = np.asarray(ds["split"].values) == "test"
    st = np.stack([ds[v].values[test] for v in ("u", "v", "w")], axis=-1).astype(np.float64)  # (S, T, X, Y, Z, 3)
    ref, _ = reference_profiles(ds)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    run = les_rollout(ds, st[:1, 0], sgs, snapshots, dt, device, progress=True)
    pairs = (st[:, :-1].reshape(-1, *st.shape[2:]), st[:, 1:].reshape(-1, *st.shape[2:]))
    one = les_one_step_error(ds, *pairs, sgs, dt, device)
    err = profile_errors(run["accumulator"], ref) if run["accumulator"].n else {}
    return {"model": f"les_{sgs}", "params": 0, "one_step_rel_l2": one, "persistence_rel_l2": None,
            "rollout_steps_stable": run["snapshots_stable"], "U_plus_max_rel_err": err.get("U_plus_max_rel_err"),
            "rms_max_rel_err": err.get("rms_max_rel_err"), "seconds_per_time_unit": run["seconds_per_time_unit"],
            "device": device, "les_seconds_per_time_unit": run["seconds_per_time_unit"], "train_steps": 0,
            "rollout_steps": snapshots, "les_dt": dt, "constraints": "none", "train_seconds": 0.0, "train_pairs": 0,
            "config": f"les_{sgs}", "dataset": problem.dataset_name}


def train_pairs(cfg) -> int:
    """One-step (state, next state) pairs of the train split of the config's dataset."""
    from sciflow.problems.base import build_problem

    return len(build_problem(load_spec(cfg).section("problem")).dataset("train", t_out=1, stride=1))


HEADER = """# Channel-flow surrogates (Re_tau 178, 16 x 33 x 16 filtered DNS, 0.2 h/u_tau per step) vs LES

Errors of the 1000-step rollout from each test state, averaged over the rollout, against the filtered DNS
(U_plus, rms: largest relative error over y+). Rows: `config` trained on `dataset` for `train_steps` Adam steps
(`train_seconds` on one thread); `constraints`: the quantities the rollout constraint layer held at evaluation
(the same weights). Command: `python benchmarks/channel_surrogates.py --models ... --seeds ...` (module docstring).

"""


def _key(row: dict) -> tuple:
    """A row's identity in the results file: its config (the model for LES rows), its dataset and the
    quantities the constraint layer held."""
    c = row.get("constraints", "none")
    seed = None if row["model"].startswith("les_") else row.get("seed", 0)
    return row.get("config", row["model"]), row.get("dataset"), tuple(c) if isinstance(c, list) else c, seed


COLUMNS = ("model", "config", "dataset", "objective", "seed", "constraints", "params", "train_pairs", "train_steps",
           "train_seconds", "one_step_rel_l2", "persistence_rel_l2", "rollout_steps", "rollout_steps_stable",
           "U_plus_max_rel_err", "rms_max_rel_err", "uv_plus_max_rel_err", "wall_shear_ratio", "bulk_velocity_ratio",
           "E_kx_log_err_y15", "E_kz_log_err_y15",
           "R_uu_dx_max_err_y15", "R_uu_dz_max_err_y15", "seconds_per_time_unit", "les_seconds_per_time_unit",
           "speedup_vs_les", "constraint_residual_no_slip", "constraint_residual_plane_mean_v",
           "constraint_residual_bulk_flow", "constraint_residual_momentum_balance", "les_dt")  # the .md columns; the .json rows hold every metric
SUMMARY = ("one_step_rel_l2", "U_plus_max_rel_err", "rms_max_rel_err", "uv_plus_max_rel_err", "wall_shear_rel_err",
           "E_kx_log_err_y15", "E_kz_log_err_y15", "speedup_vs_les")


def seed_summary(rows: list[dict]) -> list[dict]:
    """Median and worst (largest error, smallest speed-up) over the seeds of each (config, dataset,
    constraints) with at least two seeded rows."""
    import numpy as np

    groups = {}
    for r in rows:
        if not r["model"].startswith("les_"):
            groups.setdefault(_key(r)[:3], []).append(r)
    out = []
    for (config, dataset, constraints), rs in groups.items():
        if len(rs) < 2:
            continue
        row = {"config": config, "dataset": dataset, "constraints": constraints if constraints == "none" else
               list(constraints), "seeds": sorted(r.get("seed", 0) for r in rs)}
        for k in SUMMARY:
            v = np.array([r[k] for r in rs if r.get(k) is not None], dtype=float)
            if len(v):
                row[f"{k}_median"] = float(np.median(v))
                row[f"{k}_worst"] = float(v.min() if k == "speedup_vs_les" else v.max())
        out.append(row)
    return out


def surrogate_row(name: str, m: dict, cfg: Path, steps: int | None, rollout: int, seed: int) -> dict:
    """One results row from the evaluation metrics ``m`` of the run of ``configs/channel_<name>.yaml``."""
    spec = load_spec(cfg)
    return {"model": name.removesuffix("_rollout"), "seed": seed,
            "config": f"channel_{name}", "dataset": spec.problem.dataset, "objective": spec.objective.name,
            "params": m["parameters"], "one_step_rel_l2": m["one_step_rel_l2"],
            "persistence_rel_l2": m.get("persistence_rel_l2"), "rollout_steps_stable": m["rollout_steps_stable"],
            "U_plus_max_rel_err": m.get("U_plus_max_rel_err"), "rms_max_rel_err": m.get("rms_max_rel_err"),
            **(wall_shear_and_bulk(np.asarray(m["U_pred"]), np.asarray(m["U_ref"]), np.asarray(m["y"]))
               if "U_pred" in m else {}),
            **{k: m.get(k) for k in ("uv_plus_max_rel_err", "E_kx_log_err_y15", "E_kz_log_err_y15",
                                     "E_kx_log_err_center", "E_kz_log_err_center", "R_uu_dx_max_err_y15",
                                     "R_uu_dz_max_err_y15", "R_uu_dx_max_err_center", "R_uu_dz_max_err_center")},
            "seconds_per_time_unit": m["seconds_per_time_unit"], "device": m["device"],
            "les_seconds_per_time_unit": m["les_seconds_per_time_unit"],
            "train_steps": steps or sum(p.steps for p in spec.training.phases),
            "train_seconds": m.get("train_seconds"), "rollout_steps": rollout,
            "train_pairs": train_pairs(cfg), "constraints": m.get("constraints", "none"),
            **{k: v for k, v in m.items() if k.startswith("constraint_residual_")}}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["ifactformer_m", "ifactformer_o"])
    ap.add_argument("--steps", type=int, default=None, help="Adam steps (default: the config's training phases)")
    ap.add_argument("--rollout", type=int, default=1000, help="rollout steps of the surrogates and the LES")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/bench_channel")
    ap.add_argument("--append", action="store_true", help="keep rows of other models already in the results file")
    ap.add_argument("--reuse", action="store_true", help="read the metrics of runs already evaluated under --out")
    ap.add_argument("--les", nargs="*", default=[], help="LES models to add as rows (smagorinsky wale dynamic)")
    ap.add_argument("--les-dt", type=float, default=LES_DT)
    ap.add_argument("--les-snapshots", type=int, default=None, help="LES length in snapshot intervals (default --rollout)")
    ap.add_argument("--les-config", default="ifactformer_m", help="the LES runs on this config's dataset")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (run dir <model>_s<seed>, "
                    "seed 0: <model>); the table gives median and worst over them")
    ap.add_argument("--constraints", nargs="*", default=[],
                    help="quantities the rollout constraint layer holds (no_slip plane_mean_v bulk_flow, or "
                         "no_slip plane_mean_v momentum_balance)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for name, seed in [(n, s) for n in (a.models if a.models != ["none"] else []) for s in a.seeds]:
        cfg = _spec(name)
        over = [f"evaluation.rollout_steps={a.rollout}", f"seed={seed}", f"threads={a.threads}"]
        if a.steps:
            over += [f"training.phases=[{{optimizer: adam, steps: {a.steps}, lr: 1.0e-3, schedule: cosine, "
                     f"final_lr_ratio: 0.05}}]", f"training.validate_every={max(1, a.steps // 3)}",
                     f"training.checkpoint_every={max(1, a.steps // 3)}"]
        run = Path(a.out) / (name if seed == 0 else f"{name}_s{seed}")
        done = run / "evaluation" / "metrics.json"
        if a.reuse and done.exists():
            m = json.loads(done.read_text())
        else:
            sciflow.train(cfg, overrides=over, out=run, progress=True, overwrite=True)
            m = sciflow.evaluate(run, progress=True)
        rows.append(surrogate_row(name, m, cfg, a.steps, a.rollout, seed))
        if a.constraints:  # the same weights, every predicted state through the constraint layer
            done = run / evaluation_subdir({"constraints": list(a.constraints)}) / "metrics.json"
            if a.reuse and done.exists():
                m = json.loads(done.read_text())
            else:
                m = sciflow.evaluate(run, progress=True, evaluation={"constraints": list(a.constraints)})
            rows.append(surrogate_row(name, m, cfg, a.steps, a.rollout, seed))
    for sgs in a.les:
        done = Path(a.out) / f"les_{sgs}_{a.les_config}.json"
        if a.reuse and done.exists():
            rows.append(json.loads(done.read_text()))
            continue
        rows.append(les_row(sgs, a.les_snapshots or a.rollout, a.les_dt, a.les_config))
        done.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(done, json.dumps(rows[-1], indent=1))
    les = {r["model"]: r for r in rows if r["model"].startswith("les_")}
    ref = les.get("les_smagorinsky")
    for r in rows:  # speed against the LES run of this benchmark (same device, threads, load)
        if ref is not None and not r["model"].startswith("les_"):
            r["les_seconds_per_time_unit"] = ref["seconds_per_time_unit"]
        if r.get("les_seconds_per_time_unit") and r.get("seconds_per_time_unit"):
            r["speedup_vs_les"] = r["les_seconds_per_time_unit"] / r["seconds_per_time_unit"]
    res = ROOT / "benchmarks" / "results" / "channel_surrogates.json"
    if a.append and res.exists():
        new = {_key(r) for r in rows}
        rows = [r for r in json.loads(res.read_text()) if _key(r) not in new] + rows
    meta = {"machine": machine(), "load_average": os.getloadavg(), "threads": a.threads, "train_steps": a.steps,
            "rollout_steps": a.rollout, "datasets": sorted({str(r.get("dataset")) for r in rows})}
    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    summary = seed_summary(rows)
    text = ""
    if summary:
        scols = list(dict.fromkeys(k for r in summary for k in r))
        text = ("## Median and worst over seeds\n\n" + markdown_table(summary, scols) + "\n## Every row\n\n")
    write_results("channel_surrogates", rows, meta,
                  HEADER + text + markdown_table([{k: r.get(k) for k in cols} for r in rows], cols))


if __name__ == "__main__":
    main()
