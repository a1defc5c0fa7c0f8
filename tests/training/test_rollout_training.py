"""Rollout training: the horizon curriculum, exact resume mid-curriculum, pushforward gradients, and
validation by rollout statistics (2D turbulence: spectrum and enstrophy; channel: mean and rms profiles)."""

import csv

import pytest
import torch

from sciflow.api import build, train
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict
from sciflow.training.objectives import build_objective

TINY_NS2D = {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6, "resolution": 16, "solve_resolution": 16,
             "batch_size": 8}
TINY_CHANNEL = {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 40, "gap": 0, "nx": 16, "ny": 24, "nz": 16,
                "coarse": [8, 13, 8], "n_trajectories": 4, "threads": 1,
                "split_fractions": {"validation": 0.25, "test": 0.25}}
SCHEDULE = [[0, 1], [3, 2], [5, 3]]


def ns2d_spec(objective: dict, steps: int = 8, validate_every: int = 0):
    return spec_from_dict({
        "name": "tiny_ns2d_rollout", "seed": 3,
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "params": TINY_NS2D, "t_in": 2, "horizon": 3},
        "model": {"name": "dymixop", "width": 4, "modes": 3, "layers": 2},
        "objective": objective,
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": 1e-2}], "log_every": 1,
                     "checkpoint_every": 2, "validate_every": validate_every, "tensorboard": False}})


@pytest.fixture(scope="module")
def ns2d():
    torch.manual_seed(0)
    problem, model, _ = build(ns2d_spec({"name": "rollout", "steps": 1, "batch_size": 2}))
    return problem, model


def _objective(problem, model, **keys):
    obj = build_objective({"name": "rollout", "batch_size": 2, **keys}, problem, model)
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    return obj


def test_horizon_curriculum_unrolls_the_staged_number_of_frames(ns2d):
    problem, model = ns2d
    obj = _objective(problem, model, horizon_schedule=SCHEDULE)
    assert [obj.horizon_at(k) for k in (0, 2, 3, 4, 5, 99)] == [1, 1, 2, 2, 3, 3]
    calls = []
    spy = lambda x: calls.append(x.shape) or model(x)  # noqa: E731
    frames = problem.reference(progress=False).sizes["t"]
    for step, h in ((0, 1), (3, 2), (5, 3)):
        calls.clear()
        _, terms = obj.loss(spy, step)
        assert len(calls) == h and float(terms["horizon"]) == h  # one model call per unrolled frame
        # every window of this stage's horizon: 4 train trajectories × (frames − t_in − h + 1) starts
        assert len(obj.train) == 4 * (frames - 2 - h + 1) and obj.train.t_out == h
    assert obj.epoch >= 2  # each stage change started a new epoch


def test_bad_curriculum_keys_are_one_error_naming_the_key(ns2d):
    problem, model = ns2d
    with pytest.raises(SciflowError, match=r"objective.horizon_schedule.1: stage steps must increase"):
        _objective(problem, model, horizon_schedule=[[0, 1], [0, 2]])
    with pytest.raises(SciflowError, match=r"objective.horizon_schedule.1: the value must be an integer"):
        _objective(problem, model, horizon_schedule=[[0, 1], [4, 2.5]])
    with pytest.raises(SciflowError, match=r"objective.steps=2 and objective.horizon_schedule"):
        _objective(problem, model, steps=2, horizon_schedule=SCHEDULE)
    with pytest.raises(SciflowError, match=r"objective.validation_metric: 'U_max_rel_err' is not one of"):
        _objective(problem, model, validation_metric="U_max_rel_err")
    with pytest.raises(SciflowError, match=r"objective.constraints: \['no_slip'\] not among"):
        _objective(problem, model, constraints=["no_slip"])


def _rows(run):
    with open(run / "metrics.csv") as f:
        return [(int(r["step"]), r["loss"], r["horizon"]) for r in csv.DictReader(f) if r["loss"] not in ("", "nan")]


@pytest.mark.parametrize("stop", [4, 5])  # inside the second stage; at the step where the third begins
def test_resume_mid_curriculum_reproduces_the_losses(tmp_path, stop):
    spec = ns2d_spec({"name": "rollout", "horizon_schedule": SCHEDULE, "batch_size": 2, "pushforward": True,
                      "input_noise": 0.01}, steps=8)
    full = train(spec, out=tmp_path / "full", progress=False)
    part = train(spec, out=tmp_path / "part", progress=False, stop_after=stop)
    train(spec, out=tmp_path / "part", progress=False, resume=True)
    ref = _rows(full)
    assert [float(h) for _, _, h in ref] == [1, 1, 1, 2, 2, 3, 3, 3]
    assert _rows(part) == ref


def test_resume_refuses_a_changed_curriculum(tmp_path):
    spec = ns2d_spec({"name": "rollout", "horizon_schedule": SCHEDULE, "batch_size": 2}, steps=6)
    train(spec, out=tmp_path / "run", progress=False, stop_after=2)
    problem, model, obj = build(ns2d_spec({"name": "rollout", "horizon_schedule": [[0, 1], [2, 3]], "batch_size": 2}))
    obj.setup(torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0))
    from sciflow.training.checkpoint import load_checkpoint

    with pytest.raises(SciflowError, match="horizon_schedule"):
        obj.load_state_dict(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["objective"])


def _grads(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_pushforward_gradients_flow_through_the_last_step_only(ns2d):
    """∂L/∂θ of the pushforward loss equals that of the last step's error with the earlier predictions
    computed without a graph, and differs from backpropagation through the whole chain."""
    problem, model = ns2d
    obj = _objective(problem, model, steps=3, pushforward=True)
    state = obj.state_dict()
    g_push = _grads(model, obj.loss(model, 0)[0])
    obj.load_state_dict(state)
    x, y = obj.next_batch()
    with torch.no_grad():
        p1 = model(x)
        p2 = model(torch.cat([x, p1], 1)[:, -2:])
    p3 = model(torch.cat([x, p1, p2], 1)[:, -2:])
    e = ((p3 - y[:, 2:3]).flatten(1).norm(dim=1) / y[:, 2:3].flatten(1).norm(dim=1)).mean()
    g_last = _grads(model, e)
    assert torch.allclose(g_push, g_last, rtol=1e-5, atol=1e-8)
    p1 = model(x)
    p2 = model(torch.cat([x, p1], 1)[:, -2:])
    p3 = model(torch.cat([x, p1, p2], 1)[:, -2:])
    e = ((p3 - y[:, 2:3]).flatten(1).norm(dim=1) / y[:, 2:3].flatten(1).norm(dim=1)).mean()
    g_chain = _grads(model, e)
    assert (g_chain - g_last).norm() > 1e-3 * g_last.norm()


def test_pushforward_keeps_no_graph_of_the_earlier_steps(ns2d):
    """The detached model calls of a pushforward rollout run without autograd (no graph is built for
    outputs no gradient reaches); the last call, and every call of a full unroll, run with it."""
    from sciflow.training.unroll import rollout

    problem, model = ns2d
    obj = _objective(problem, model, steps=3, pushforward=True)
    x, _ = obj.next_batch()
    seen = []
    hook = model.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    try:
        rollout(model, x, 3, detach_until=2)
        assert seen == [False, False, True]
        seen.clear()
        rollout(model, x, 3)
        assert seen == [True, True, True]
    finally:
        hook.remove()


def test_ns2d_validation_by_rollout_statistics(ns2d):
    """Validation forecasts past the stored frames; the statistics of the data against themselves are zero,
    and ``validation_metric`` comes first (it selects best.pt)."""
    problem, model = ns2d
    frames = problem.reference(progress=False).sizes["t"]
    obj = _objective(problem, model, steps=1, validation_steps=10, validation_metric="spectrum_error")
    m = obj.validate(model)
    assert list(m)[0] == "spectrum_error" and set(m) == {"spectrum_error", "rel_l2", "enstrophy_rel_err"}
    assert obj.val.t_out == frames - 2 and all(0 < v < float("inf") for v in m.values())
    val = problem.dataset("validation", t_out=frames - 2, stride=None)
    x, y = val[0]
    data = val.as_frames(val.denormalise(torch.cat([x, y])[None].double()))
    same = problem.rollout_statistics(data, data)
    assert same == {"spectrum_error": 0.0, "enstrophy_rel_err": 0.0}
    doubled = problem.rollout_statistics(2 * data, data)  # E ∝ ω²: log10 4 in every shell, enstrophy × 4
    assert doubled["spectrum_error"] == pytest.approx(0.6020599913, rel=1e-9)
    assert doubled["enstrophy_rel_err"] == pytest.approx(3.0, rel=1e-12)


def channel_spec(objective: dict, steps: int = 4):
    return spec_from_dict({
        "name": "tiny_channel_rollout", "seed": 1,
        "problem": {"name": "channel", "params": TINY_CHANNEL, "t_in": 1, "horizon": 3},
        "model": {"name": "fno", "width": 4, "modes": 2, "layers": 1, "residual": True, "no_slip": True},
        "objective": objective,
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": 1e-3}], "log_every": 1,
                     "checkpoint_every": 2, "validate_every": 2, "tensorboard": False}})


def test_channel_rollout_objective_validates_by_profiles(tmp_path):
    """The channel trains with the rollout objective (curriculum, pushforward, constraint layer) and selects
    its checkpoint by the profile errors of a validation rollout longer than the stored trajectories."""
    spec = channel_spec({"name": "rollout", "horizon_schedule": [[0, 1], [2, 2]], "batch_size": 2,
                         "pushforward": True, "validation_steps": 8, "validation_metric": "profile_max_rel_err",
                         "constraints": ["no_slip", "plane_mean_v", "bulk_flow"]})
    run = train(spec, out=tmp_path / "ch", progress=False)
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    val = [r for r in rows if r.get("val_profile_max_rel_err") not in ("", None)]
    assert len(val) == 2
    for r in val:
        u, rms = float(r["val_U_max_rel_err"]), float(r["val_rms_max_rel_err"])
        assert float(r["val_profile_max_rel_err"]) == max(u, rms) and 0 <= u < 10 and 0 <= rms < 10
    assert [float(r["horizon"]) for r in rows if r["horizon"] not in ("", None)] == [1, 1, 2, 2]
    problem = build(spec)[0]
    val = problem.dataset("validation", t_out=3, stride=None)
    x, y = val[0]
    data = val.as_frames(val.denormalise(torch.cat([x, y])[None].double()))
    assert problem.rollout_statistics(data, data) == {"profile_max_rel_err": 0.0, "U_max_rel_err": 0.0,
                                                       "rms_max_rel_err": 0.0}


def test_bundled_channel_rollout_config_builds_its_curriculum():
    """configs/channel_ifactformer_m_rollout.yaml: the keys build (on the tiny data set) into a curriculum
    1 → 2 → 4 unrolled steps, pushforward, and checkpoint selection by the profile errors."""
    from sciflow.resources import bundled_configs
    from sciflow.spec import load_spec

    spec = load_spec(bundled_configs()["channel_ifactformer_m_rollout"])
    raw = spec.to_dict()
    raw["problem"]["params"] = TINY_CHANNEL
    raw["problem"]["horizon"] = 2
    _, _, obj = build(spec_from_dict(raw))
    assert [obj.horizon_at(k) for k in (0, 799, 800, 1599, 1600, 2499)] == [1, 1, 2, 2, 4, 4]
    assert obj.pushforward and obj.validation_metric == "profile_max_rel_err" and obj.validation_steps == 100


def test_statistics_weight_adds_each_states_profile_error(tmp_path):
    """objective.statistics_weight: the loss is the data loss plus λ times the mean relative error of the plane
    profiles (U, u'_rms, v'_rms, w'_rms, <u'v'>) of each predicted state against its target's. A prediction whose
    fluctuations are halved about the exact plane means has errors 0 (U), ½ (three rms) and ¾ (<u'v'>): 0.45."""
    spec = channel_spec({"name": "rollout", "steps": 1, "batch_size": 2, "statistics_weight": 0.5})
    problem, model, obj = build(spec)
    obj.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(0))
    model.double()
    w = obj.train
    _, y = w[0]
    target = y[None].double()
    phys = w.as_frames(w.denormalise(target))
    mean = phys.mean(dim=(2, 4), keepdim=True)
    damped = w.from_frames(w.normalise(mean + 0.5 * (phys - mean)))
    assert obj.statistics_error(target, target).abs().max() == 0
    assert obj.statistics_error(damped, target).item() == pytest.approx(0.45, abs=1e-12)

    total, logs = obj.loss(model, 0)
    assert total.item() == pytest.approx(logs["rel_l2"].item() + 0.5 * logs["statistics"].item(), rel=1e-12)
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_statistics_weight_is_refused_where_it_cannot_apply(ns2d):
    problem, model = ns2d
    with pytest.raises(SciflowError, match="objective.statistics_weight: problem 'ns2d' declares no state statistics"):
        _objective(problem, model, statistics_weight=1.0)
    with pytest.raises(SciflowError, match="objective.statistics_weight must be >= 0"):
        _objective(problem, model, statistics_weight=-1.0)


def test_validation_rollouts_forecasts_from_the_first_trajectories_only(ns2d, monkeypatch):
    """objective.validation_rollouts: N forecasts from the first N validation trajectories; rel_l2 is theirs,
    and the statistics of those forecasts are judged against the stored frames of every validation trajectory."""
    from sciflow.training.unroll import relative_error, rollout

    problem, model = ns2d
    seen = []
    original = type(problem).rollout_statistics
    monkeypatch.setattr(type(problem), "rollout_statistics",
                        lambda self, pred, truth: seen.append((pred, truth)) or original(self, pred, truth))
    obj = _objective(problem, model, steps=1, validation_steps=3, validation_rollouts=1)
    m = obj.validate(model)
    val = obj.val
    assert len(val) == 2 and len(seen) == 1
    pred, truth = seen[0]
    stored = torch.cat([val.as_frames(val.denormalise(val[i][1][None].double())) for i in range(len(val))])
    assert pred.shape[0] == 1 and torch.equal(truth, stored)
    x, y = val[0]
    with torch.no_grad():
        own = rollout(model, x[None], 3)
    first = relative_error(val.as_frames(val.denormalise(own.double())), val.as_frames(val.denormalise(y[None].double())))
    assert m["rel_l2"] == pytest.approx(float(first.mean()), rel=1e-6)
    assert torch.allclose(pred, val.as_frames(val.denormalise(own.double())))
    for bad in (0, 1.5, True):
        with pytest.raises(SciflowError, match="objective.validation_rollouts must be an integer >= 1"):
            _objective(problem, model, validation_rollouts=bad)
