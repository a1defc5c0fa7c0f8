"""Operator objectives on a tiny ν = 1e-5 NS trajectory set: rollout = chained one-step
predictions, batches = stacked windows, resume reproduces the losses, validation uses the
validation split, and the data's vorticity has zero mean (the problem's conservation constraint)."""

import csv

import numpy as np
import pytest
import torch

from sciflow.api import build, train
from sciflow.spec import spec_from_dict


TINY_DATA = {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6, "resolution": 16, "solve_resolution": 16,
             "batch_size": 8}


def tiny_spec(objective: dict, steps: int = 6, model: dict | None = None, validate_every: int = 0):
    return spec_from_dict({
        "name": "tiny_ns2d", "seed": 3,
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "params": TINY_DATA, "t_in": 2, "horizon": 3},
        "model": model or {"name": "dymixop", "width": 4, "modes": 3, "layers": 2},
        "objective": objective,
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": 1e-2}], "log_every": 1,
                     "checkpoint_every": 2, "validate_every": validate_every, "tensorboard": False}})


@pytest.fixture(scope="module")
def setup_objective():
    torch.manual_seed(0)
    problem, model, objective = build(tiny_spec({"name": "rollout", "steps": 3, "batch_size": 4}))
    objective.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    return problem, model, objective


def test_vorticity_has_zero_mean(setup_objective):
    """∫ω dx = 0 on the torus: G ω = b holds for every stored frame (float32 storage round-off)."""
    problem, _, _ = setup_objective
    w = problem.reference(progress=False)["vorticity"].values.astype(np.float64)
    G, b = problem.constraints(w.shape[-2:])
    flat = w.reshape(-1, w.shape[-2] * w.shape[-1])
    residual = flat @ G.numpy().T - b.numpy()
    assert np.abs(residual).max() < 1e-6 * np.abs(w).max()


def test_batches_equal_stacked_windows(setup_objective):
    from sciflow.training.operator_objectives import gather_windows

    _, _, obj = setup_objective
    idx = torch.tensor([5, 0, 3, 7])
    x, y = gather_windows(obj.train, idx)
    xs = torch.stack([obj.train[int(i)][0] for i in idx])
    ys = torch.stack([obj.train[int(i)][1] for i in idx])
    assert torch.equal(x, xs) and torch.equal(y, ys)
    assert x.shape == (4, 2, 16, 16) and y.shape == (4, 3, 16, 16)


def test_rollout_loss_equals_chained_one_step_predictions(setup_objective):
    _, model, obj = setup_objective
    state = obj.state_dict()
    total, _ = obj.loss(model, 0)
    obj.load_state_dict(state)
    x, y = obj.next_batch()
    errs = []
    inp = x
    for s in range(3):
        pred = model(inp)  # (B, 1, X, Y)
        e = (pred - y[:, s:s + 1]).flatten(1).norm(dim=1) / y[:, s:s + 1].flatten(1).norm(dim=1)
        errs.append(e.mean())
        inp = torch.cat([inp[:, 1:], pred], dim=1)
    assert torch.allclose(total, torch.stack(errs).mean(), rtol=1e-6)


def test_pushforward_trains_only_the_last_step(setup_objective):
    problem, model, _ = setup_objective
    from sciflow.training.objectives import build_objective

    obj = build_objective({"name": "rollout", "steps": 3, "batch_size": 4, "pushforward": True}, problem, model)
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    state = obj.state_dict()
    total, _ = obj.loss(model, 0)
    obj.load_state_dict(state)
    x, y = obj.next_batch()
    with torch.no_grad():
        p1 = model(x)
        p2 = model(torch.cat([x[:, 1:], p1], 1))
    p3 = model(torch.cat([x[:, 2:], p1, p2], 1)[:, -2:])
    e = ((p3 - y[:, 2:3]).flatten(1).norm(dim=1) / y[:, 2:3].flatten(1).norm(dim=1)).mean()
    assert torch.allclose(total, e, rtol=1e-6)


def test_supervised_equals_one_step_rollout(setup_objective):
    problem, model, _ = setup_objective
    from sciflow.training.objectives import build_objective

    losses = []
    for cfg in ({"name": "supervised", "batch_size": 4, "loss": "rel_mse"},
                {"name": "rollout", "steps": 1, "batch_size": 4, "loss": "rel_mse"}):
        obj = build_objective(cfg, problem, model)
        obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(5))
        losses.append(obj.loss(model, 0)[0])
    assert torch.allclose(losses[0], losses[1], rtol=1e-6)


def test_input_noise_perturbs_inputs_only_with_the_requested_std(setup_objective):
    """input_noise σ: the model sees x + σξ with std(ξ) = 1, the same noise for the same step, clean targets."""
    problem, model, _ = setup_objective
    from sciflow.training.objectives import build_objective

    obj = build_objective({"name": "supervised", "batch_size": 4, "input_noise": 0.05}, problem, model)
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(5))
    x = torch.zeros(64, 2, 16, 16)
    a, b, c = obj.noisy(x, 7), obj.noisy(x, 7), obj.noisy(x, 8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.std()) - 0.05) < 0.05 * 0.02
    seen = []
    model_spy = lambda inp: seen.append(inp) or model(inp)  # noqa: E731
    obj.position, obj.epoch = 0, 0
    loss_noisy = obj.loss(model_spy, 3)[0]
    obj.position, obj.epoch = 0, 0
    xb, yb = obj.next_batch()
    assert torch.allclose(seen[0] - xb, obj.noisy(torch.zeros_like(xb), 3), atol=1e-6)
    clean = build_objective({"name": "supervised", "batch_size": 4}, problem, model)
    clean.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(5))
    assert not torch.allclose(loss_noisy, clean.loss(model, 3)[0])
    with pytest.raises(Exception, match="input_noise"):
        build_objective({"name": "supervised", "input_noise": -1.0}, problem, model)


def _losses(run):
    with open(run / "metrics.csv") as f:
        return [(int(r["step"]), r["loss"]) for r in csv.DictReader(f) if r["loss"] not in ("", "nan")]


def test_resume_reproduces_losses_and_validates_on_validation_split(tmp_path):
    spec = tiny_spec({"name": "rollout", "steps": 2, "batch_size": 4}, steps=6, validate_every=3)
    full = train(spec, out=tmp_path / "full", progress=False)
    part = train(spec, out=tmp_path / "part", progress=False, stop_after=4)  # 16 windows = 4 batches: resumes at an epoch boundary
    train(spec, out=tmp_path / "part", progress=False, resume=True)
    assert _losses(full) == _losses(part) and len(_losses(full)) == 6
    with open(full / "metrics.csv") as f:
        val = [float(r["val_rel_l2"]) for r in csv.DictReader(f) if r.get("val_rel_l2") not in ("", None)]
    assert len(val) == 2 and all(0 < v < 10 for v in val)
    assert (full / "checkpoints" / "best.pt").exists()
    # validation rel L2 is computed on the validation trajectories, not the test ones
    problem, model, obj = build(spec)
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    obj.validate(model)
    labels = problem.reference(progress=False)["split"].values.astype(str)
    assert set(labels[obj.val.indices]) == {"validation"}
