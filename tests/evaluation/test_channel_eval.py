"""Evaluator ``channel`` with the rollout constraint layer: the held quantities hold in every rollout state
(float64 model: to round-off) and the metrics record which quantities were held."""

import pytest

from sciflow.api import load_run, train
from sciflow.spec import spec_from_dict

TINY_CHANNEL = {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 40, "gap": 0, "nx": 16, "ny": 24, "nz": 16,
                "coarse": [8, 13, 8], "n_trajectories": 4, "threads": 1,
                "split_fractions": {"validation": 0.25, "test": 0.25}}


@pytest.fixture(scope="module")
def channel_run(tmp_path_factory):
    spec = spec_from_dict({
        "name": "tiny_channel_eval", "seed": 0,
        "problem": {"name": "channel", "params": TINY_CHANNEL, "t_in": 1, "horizon": 3},
        "model": {"name": "fno", "width": 4, "modes": 2, "layers": 1, "residual": True, "no_slip": False},
        "objective": {"name": "supervised", "batch_size": 2},
        "training": {"phases": [{"optimizer": "adam", "steps": 2, "lr": 1e-3}], "tensorboard": False}})
    run = load_run(train(spec, out=tmp_path_factory.mktemp("runs") / "ch", progress=False))
    run.model.double()
    return run


def test_channel_rollout_with_and_without_the_constraint_layer(channel_run):
    from sciflow.evaluation.channel_eval import evaluate_channel_run

    names = ["no_slip", "plane_mean_v", "bulk_flow"]
    free = evaluate_channel_run(channel_run, steps=5)
    held = evaluate_channel_run(channel_run, steps=5, constraints=names)
    assert free["constraints"] == "none" and held["constraints"] == names
    assert free["constraint_residual_no_slip"] > 1e-6 and free["constraint_residual_plane_mean_v"] > 1e-6
    for k in names:
        assert held[f"constraint_residual_{k}"] <= 1e-12
    assert held["rollout_steps_stable"] == 5 and 0 < held["U_plus_max_rel_err"] < 10
    assert 0 < held["uv_plus_max_rel_err"] < 100
    assert set(held["spectra_levels_y_plus"]) == {"y15", "center"}
    for d in "xz":
        for lv in ("y15", "center"):
            assert 0 < held[f"E_k{d}_log_err_{lv}"] < 20 and 0 <= held[f"R_uu_d{d}_max_err_{lv}"] <= 2
            assert held[f"R_d{d}_{lv}_ref"][0][0] == pytest.approx(1.0)  # R_uu(0) = 1


def test_channel_evaluator_writes_the_two_point_statistics_figure(channel_run, tmp_path):
    from sciflow.evaluation.channel_eval import evaluate_channel

    saved, channel_run.spec.evaluation = channel_run.spec.evaluation, {"rollout_steps": 3, "les_dt": 0.005}
    try:
        m, figs = evaluate_channel(channel_run, tmp_path, progress=False)
    finally:
        channel_run.spec.evaluation = saved
    assert (tmp_path / "channel_spectra.png").stat().st_size > 10_000 and len(figs) == 2
    assert len(m["uv_pred"]) == len(m["y"]) and len(m["E_kx_center_pred"]) == 3


def test_evaluate_another_way_keeps_the_specs_own_evaluation(channel_run, capsys):
    """``sciflow evaluate RUN --set evaluation.constraints=[...]``: the same weights through the constraint
    layer, written beside the spec's own evaluation; keys outside ``evaluation`` are refused by name."""
    import json

    from sciflow.cli import main

    run = str(channel_run.path)
    assert main(["evaluate", run, "--quiet", "--set", "evaluation.rollout_steps=3"]) == 0
    own = channel_run.path / "evaluation_rollout_steps=3" / "metrics.json"
    assert main(["evaluate", run, "--quiet", "--set", "evaluation.rollout_steps=3",
                 "--set", "evaluation.constraints=[no_slip, plane_mean_v, momentum_balance]"]) == 0
    held_dir = channel_run.path / "evaluation_constraints=no_slip+plane_mean_v+momentum_balance,rollout_steps=3"
    held = json.loads((held_dir / "metrics.json").read_text())
    free = json.loads(own.read_text())
    assert free["constraints"] == "none" and held["constraints"] == ["no_slip", "plane_mean_v", "momentum_balance"]
    assert free["constraint_residual_no_slip"] > 1e-6 and free["constraint_residual_momentum_balance"] > 1e-6
    assert max(held[f"constraint_residual_{k}"] for k in held["constraints"]) <= 1e-6  # float32 states
    assert free["wall_shear_ratio"] > 0 and free["bulk_velocity_ratio"] > 0
    capsys.readouterr()
    assert main(["evaluate", run, "--quiet", "--set", "model.width=8"]) != 0
    assert "--set model.width=8: expected evaluation.KEY=VALUE" in capsys.readouterr().err
    before = sorted(p.name for p in channel_run.path.iterdir())
    assert main(["evaluate", run, "--quiet", "--set", "evaluation.rollout_step=3"]) != 0  # misspelt
    assert "evaluation.rollout_step: not a key evaluator 'channel' reads" in capsys.readouterr().err
    assert sorted(p.name for p in channel_run.path.iterdir()) == before  # nothing written
