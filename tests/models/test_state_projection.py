"""The rollout constraint layer: ProbConserv's update (Σ = I) on every predicted state of a real rollout.

After the projection each declared quantity holds to round-off in float64; a state that already satisfies
them is unchanged; the block-by-block projection equals the one-shot orthogonal projection; the data
satisfy the declared channel quantities (no slip, zero plane-mean v) and ns2d's zero-mean vorticity."""

import numpy as np
import pytest
import torch

from sciflow.api import build
from sciflow.errors import SciflowError
from sciflow.models.conservation_update import hard_projection
from sciflow.models.state_projection import StateProjection
from sciflow.spec import spec_from_dict
from sciflow.training.unroll import rollout

TINY_NS2D = {"n_train": 4, "n_validation": 2, "n_test": 2, "T": 6, "resolution": 16, "solve_resolution": 16,
             "batch_size": 8}
TINY_CHANNEL = {"spinup": 0.1, "n_snapshots": 4, "snapshot_every": 40, "gap": 0, "nx": 16, "ny": 24, "nz": 16,
                "coarse": [8, 13, 8], "n_trajectories": 4, "threads": 1,
                "split_fractions": {"validation": 0.25, "test": 0.25}}
CHANNEL_QUANTITIES = ["no_slip", "plane_mean_v", "bulk_flow"]


def _build(problem: dict, model: dict):
    spec = spec_from_dict({"name": "projection", "seed": 0, "dtype": "float64", "problem": problem, "model": model,
                           "objective": {"name": "rollout", "steps": 1, "batch_size": 2},
                           "training": {"phases": [{"optimizer": "adam", "steps": 1, "lr": 1e-3}]}})
    torch.manual_seed(0)
    problem, model, _ = build(spec)
    return problem, model.double()


@pytest.fixture(scope="module")
def channel():
    # no_slip: false, residual: false: the raw network output violates every quantity
    return _build({"name": "channel", "params": TINY_CHANNEL, "t_in": 1, "horizon": 3},
                  {"name": "fno", "width": 4, "modes": 2, "layers": 1, "residual": False, "no_slip": False})


@pytest.fixture(scope="module")
def ns2d():
    return _build({"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "params": TINY_NS2D, "t_in": 2, "horizon": 3},
                  {"name": "dymixop", "width": 4, "modes": 3, "layers": 2})


def _rollout_frames(problem, model, names, steps=4):
    """A float64 rollout (test split) through the layer, and without it: physical frames (B, F, *S, V)."""
    test = problem.dataset("test", t_out=1, stride=None, t_start=0)
    x = torch.stack([test[i][0] for i in range(len(test))]).double()
    proj = StateProjection(problem, test, names)
    with torch.no_grad():
        on = rollout(model, x, steps, project=proj)
        off = rollout(model, x, steps)
    return proj, test.as_frames(test.denormalise(on)), test.as_frames(test.denormalise(off))


def test_channel_rollout_holds_every_declared_quantity_to_round_off(channel):
    problem, model = channel
    proj, on, off = _rollout_frames(problem, model, CHANNEL_QUANTITIES)
    before, after = proj.residuals(off), proj.residuals(on)
    assert min(before.values()) > 1e-3  # the unconstrained rollout breaks all three
    assert max(after.values()) <= 1e-12, after
    u = on.reshape(-1, *on.shape[2:])  # (states, X, Y, Z, 3)
    assert float(u[:, :, [0, -1]].abs().max()) <= 1e-12 * float(u.abs().max())  # no slip
    assert float(u[:, :, 1:-1, :, 1].mean(dim=(1, 3)).abs().max()) <= 1e-12 * float(u[..., 1].abs().max())
    ub = (u[..., 0].mean(dim=(1, 3)) * problem.bulk_weights()).sum(-1)
    assert torch.allclose(ub, torch.full_like(ub, problem.bulk_velocity()), rtol=1e-12, atol=0)


def test_channel_blocks_equal_the_one_shot_projection_and_fix_satisfying_states(channel):
    """Projecting quantity by quantity (disjoint entries) is the orthogonal projection onto all at once:
    compare with HardC of ProbConserv on the dense stacked G; a projected state is a fixed point."""
    problem, model = channel
    proj, _, off = _rollout_frames(problem, model, CHANNEL_QUANTITIES, steps=2)
    G, b = problem.constraints(proj.shape, names=CHANNEL_QUANTITIES)
    flat = off.reshape(-1, proj.n)
    one_shot = hard_projection(flat, G.to_dense(), b)
    blocks = proj.project_physical(off).reshape(-1, proj.n)
    assert torch.allclose(blocks, one_shot, rtol=0, atol=1e-12 * float(flat.abs().max()))
    again = proj.project_physical(blocks.reshape(off.shape)).reshape(-1, proj.n)
    assert float((again - blocks).abs().max()) <= 1e-13 * float(blocks.abs().max())


def test_channel_data_satisfy_no_slip_and_zero_plane_mean_v(channel):
    problem, _ = channel
    ds = problem.reference(progress=False)
    test = problem.dataset("test", t_out=1, stride=None)
    proj = StateProjection(problem, test, ["no_slip", "plane_mean_v"])
    states = torch.from_numpy(np.stack([ds[v].values for v in ("u", "v", "w")], -1).astype(np.float64))
    res = proj.residuals(states.reshape(-1, 1, *states.shape[2:]))
    assert res["no_slip"] < 1e-6 and res["plane_mean_v"] < 1e-6  # float32 storage round-off


def _pairs(problem, split):
    """Physical (previous, next) states (P, N) of every consecutive snapshot pair of ``split``, float64."""
    ds = problem.reference(progress=False)
    sel = np.asarray(ds["split"].values).astype(str) == split
    st = torch.from_numpy(np.stack([ds[v].values[sel] for v in ("u", "v", "w")], -1).astype(np.float64))
    return st[:, :-1].reshape(-1, st[0, 0].numel()), st[:, 1:].reshape(-1, st[0, 0].numel())


def test_channel_data_obey_the_mean_momentum_balance_not_a_fixed_flow_rate(channel):
    """The DNS runs at constant pressure gradient: between consecutive test snapshots the bulk velocity changes
    by Δt (Π − τ̄_w) to within 10 % of its change (trapezoidal in time, wall shear from the coarse grid with the
    one scale factor fitted on the train split, within 10 % of 1), while it is not constant (bulk_flow)."""
    problem, _ = channel
    assert 0.9 < problem.wall_shear_scale() < 1.1
    proj = StateProjection(problem, problem.dataset("test", t_out=1, stride=None), ["momentum_balance"])
    blk = proj.blocks[0]
    prev, new = _pairs(problem, "test")
    residual = new[:, blk.cols] @ blk.G.T - blk.target(prev)
    bulk = problem.bulk_weights()
    ub = lambda s: (s.reshape(len(s), *proj.shape, 3)[..., 0].mean(dim=(1, 3)) * bulk).sum(-1)  # noqa: E731
    change = ub(new) - ub(prev)
    assert float(residual.pow(2).mean().sqrt()) <= 0.1 * float(change.pow(2).mean().sqrt())
    assert float(change.abs().min()) > 0  # U_b is not constant in these data


def test_channel_momentum_balance_corrects_the_new_state_against_the_one_before(channel):
    """The layer with a quantity linking two states: every rollout state holds the balance with the state
    before it to round-off; the update is the one-shot projection onto G⁺ u⁺ = b − G⁻ u⁻ (the previous state
    is not changed); without the previous state the layer refuses by name."""
    problem, model = channel
    names = ["no_slip", "plane_mean_v", "momentum_balance"]
    proj, on, off = _rollout_frames(problem, model, names, steps=3)
    test = problem.dataset("test", t_out=1, stride=None, t_start=0)
    first = test.as_frames(test.denormalise(torch.stack([test[i][0] for i in range(len(test))]).double()))
    assert proj.residuals(off, first)["momentum_balance"] > 1e-3
    after = proj.residuals(on, first)
    assert max(after.values()) <= 1e-12, after
    G, b = problem.constraints(proj.shape, names=["momentum_balance"])
    G = G.to_dense()
    one_shot = hard_projection(off[:, :1].reshape(-1, proj.n), G[:, :proj.n], b - first.reshape(-1, proj.n) @ G[:, proj.n:].T)
    mine = StateProjection(problem, test, ["momentum_balance"]).project_physical(off[:, :1], first)
    assert torch.allclose(mine.reshape(-1, proj.n), one_shot, rtol=0, atol=1e-12 * float(off.abs().max()))
    with pytest.raises(SciflowError, match="'momentum_balance' links a state to the one before"):
        proj.project_physical(off[:, :1])
    with pytest.raises(SciflowError, match="ask for it alone"):
        problem.constraints(proj.shape, names=["bulk_flow", "momentum_balance"])
    with pytest.raises(SciflowError, match="must act on disjoint entries"):
        StateProjection(problem, test, ["bulk_flow", "momentum_balance"])


def test_ns2d_rollout_has_zero_mean_vorticity_with_the_layer(ns2d):
    problem, model = ns2d
    proj, on, off = _rollout_frames(problem, model, ["zero_mean_vorticity"])
    assert proj.residuals(off)["zero_mean_vorticity"] > 1e-6
    assert proj.residuals(on)["zero_mean_vorticity"] <= 1e-12
    mean = on.mean(dim=(2, 3, 4))
    assert float(mean.abs().max()) <= 1e-12 * float(on.abs().max())
    # the same update as the ProbConserv wrapper (HardC: Σ = I): subtract the mean
    G, b = problem.constraints(proj.shape)
    flat = off.reshape(-1, proj.n)
    assert torch.allclose(proj.project_physical(off).reshape(-1, proj.n), hard_projection(flat, G, b), atol=1e-13)
    assert torch.allclose(proj.project_physical(off), off - off.mean(dim=(2, 3, 4), keepdim=True), atol=1e-12)


def test_ns2d_fixed_point_and_gradients_pass_through(ns2d):
    problem, model = ns2d
    test = problem.dataset("test", t_out=1, stride=None)
    proj = StateProjection(problem, test, ["zero_mean_vorticity"])
    x = torch.stack([test[i][0] for i in range(len(test))]).double()
    y = proj(model(x))
    yd = y.detach()
    assert float((proj(yd) - yd).abs().max()) <= 1e-13 * float(yd.abs().max())
    y.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_unknown_or_overlapping_quantities_are_refused(ns2d, channel):
    problem, _ = ns2d
    test = problem.dataset("test", t_out=1, stride=None)
    with pytest.raises(SciflowError, match=r"can hold: \['zero_mean_vorticity'\]"):
        StateProjection(problem, test, ["bulk_flow"])
    with pytest.raises(SciflowError, match="distinct"):
        StateProjection(problem, test, ["zero_mean_vorticity", "zero_mean_vorticity"])


def test_one_gain_for_every_row_equals_a_gain_per_row():
    """ConservationGain.mean with one gain (var (N,)) for a batch of rows gives the rows' per-row
    Eq. (6) projections (var (B, N), a gain each) to round-off, and G μ̃ = b to round-off."""
    from sciflow.models.conservation_update import ConservationGain

    g = torch.Generator().manual_seed(3)
    G = torch.randn(7, 40, generator=g, dtype=torch.float64)
    var = torch.rand(40, generator=g, dtype=torch.float64) + 0.5
    mu = torch.randn(2, 3, 40, generator=g, dtype=torch.float64)
    b = torch.randn(7, generator=g, dtype=torch.float64)
    shared = ConservationGain(var, G).mean(mu, b)
    per_row = ConservationGain(var.expand(2, 3, 40), G).mean(mu, b)
    assert shared.shape == mu.shape
    assert torch.allclose(shared, per_row, rtol=0, atol=1e-12)
    assert float((shared @ G.T - b).abs().max()) < 1e-12
