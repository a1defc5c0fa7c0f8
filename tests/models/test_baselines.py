"""FNO / IFNO baselines from neuraloperator: built from the spec, periodic equivariance of the
Fourier layers, weight sharing of IFNO, a linear-advection operator learned by a tiny FNO, and the 3D
channel versions (IFactFormer layout, residual increment, exact no-slip walls) built from the configs."""

import math
from pathlib import Path

import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.models.baselines import FNOBaseline, IFNO, real_parameter_count
from sciflow.models.registry import build_model
from sciflow.problems.base import Problem

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# a tiny channel data set (3 trajectories of 3 snapshots, 8 x 9 x 8 LES grid; seconds to make)
TINY_CHANNEL = {"spinup": 0.02, "n_snapshots": 3, "snapshot_every": 80, "gap": 0.0, "nx": 12, "ny": 16, "nz": 12, "n_trajectories": 3,
                "snapshot_every": 2, "stats_every": 1, "threads": 1, "coarse": [8, 9, 8], "device": "cpu"}


class _P(Problem):
    """A trajectory problem of one input frame (the data is never read here)."""

    t_in, horizon = 1, 1

    def dataset(self, split, t_out=1, stride=1):
        raise AssertionError("not used")


def test_registered_and_built_from_spec():
    fno = build_model({"name": "fno", "width": 8, "modes": 4, "layers": 2}, _P())
    ifno = build_model({"name": "ifno", "width": 8, "modes": 4, "iterations": 3}, _P())
    x = torch.randn(2, 1, 16, 16)
    assert fno(x).shape == (2, 1, 16, 16) and ifno(x).shape == (2, 1, 16, 16)
    # IFNO's iterations share one block: more iterations, same parameters
    deeper = build_model({"name": "ifno", "width": 8, "modes": 4, "iterations": 6}, _P())
    assert real_parameter_count(deeper) == real_parameter_count(ifno)
    assert len(ifno.net.fno_blocks.convs) == 1


def test_float64_keeps_complex_weights_and_checkpoints_roundtrip():
    """``.to(float64)`` must not drop imaginary parts; a state_dict reloads to identical outputs."""
    torch.manual_seed(0)
    m = FNOBaseline(_P(), width=8, modes=4, layers=2)
    x = torch.randn(1, 1, 16, 16)
    y32 = m(x)
    m64 = m.to(dtype=torch.float64)
    assert any(p.dtype == torch.complex128 for p in m64.parameters())
    assert torch.allclose(m64(x.double()).float(), y32, atol=1e-5)
    other = FNOBaseline(_P(), width=8, modes=4, layers=2).double()
    other.load_state_dict(m64.state_dict())
    assert torch.equal(other(x.double()), m64(x.double()))


def _advection_data(n_samples, n=16, shift=0.1, generator=None):
    """Random periodic fields and the exact linear-advection solution u(x − c t) with c t = shift
    (a phase shift exp(−2πi k_x c t) of every Fourier mode, not a whole number of cells)."""
    k = torch.fft.fftfreq(n, 1.0 / n)
    kx, ky = torch.meshgrid(k, k, indexing="ij")
    spec = torch.randn(n_samples, n, n, dtype=torch.complex128, generator=generator)
    spec = spec * ((kx.abs() <= 3) & (ky.abs() <= 3)) / (1 + kx ** 2 + ky ** 2)
    u0 = torch.fft.ifft2(spec).real
    u1 = torch.fft.ifft2(torch.fft.fft2(u0) * torch.exp(-2j * math.pi * kx * shift)).real
    s = u0.std()
    return (u0 / s).float()[:, None], (u1 / s).float()[:, None]


def test_tiny_ifno_learns_linear_advection(fit_operator):
    """Advection by 0.1 of the period: the identity map errs by ~60 %; a trained tiny IFNO by < 10 % of that."""
    g = torch.Generator().manual_seed(0)
    x_train, y_train = _advection_data(64, generator=g)
    x_test, y_test = _advection_data(16, generator=g)
    torch.manual_seed(0)
    model = IFNO(_P(), width=8, modes=4, iterations=2, channel_mlp=False)
    learned, identity = fit_operator(model, x_train, y_train, x_test, y_test, steps=250, generator=g)
    assert identity > 0.3
    assert learned < 0.1 * identity, (learned, identity)


@pytest.fixture
def channel():
    """The channel problem on the tiny data set (made once per test session under the session's data dir)."""
    from sciflow.problems.channel import TurbulentChannel

    return TurbulentChannel(params=TINY_CHANNEL)


def test_channel_fno_ifno_layout_residual_and_exact_no_slip(channel):
    """On the channel the baselines are 3D: (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3); the wall rows y = ±1
    are exactly the normalised zero velocity (zero in physical units), the interior is the last state plus the
    net's increment."""
    x = torch.stack([channel.dataset("train")[i][0] for i in range(2)])  # (2, 1, 8, 9, 8, 3), normalised
    stats = channel.stats()
    mean = torch.tensor([stats[v][0] for v in "uvw"])
    std = torch.tensor([stats[v][1] for v in "uvw"])
    for spec in ({"name": "fno", "width": 8, "modes": 2, "layers": 2}, {"name": "ifno", "width": 8, "modes": 2}):
        torch.manual_seed(0)
        model = build_model(spec, channel)
        assert model.channel and model.residual and model.no_slip  # the channel defaults, as IFactFormer
        with torch.no_grad():
            out = model(x)
            assert out.shape == (2, 1, 8, 9, 8, 3)
            walls = out[:, :, :, [0, -1]]
            assert torch.equal(walls, model.wall_value.expand_as(walls))
            assert float((walls * std + mean).abs().max()) < 1e-5  # u = v = w = 0 at the walls, physical units
            increment = model.core(x.permute(0, 1, 5, 2, 3, 4).flatten(1, 2)).permute(0, 2, 3, 4, 1)
            assert torch.allclose(out[:, 0, :, 1:-1], (x[:, -1] + increment)[:, :, 1:-1], atol=1e-6)
            model.no_slip = False
            assert not torch.equal(model(x)[:, :, :, [0, -1]], walls)  # the walls come from the constraint
    with pytest.raises(SciflowError, match="t_out"):
        build_model({"name": "fno", "t_out": 2}, channel)
    with pytest.raises(SciflowError, match="channel problems only"):
        build_model({"name": "fno", "no_slip": True}, _P())


def test_channel_ifno_iterates_one_shared_block(channel):
    """IFNO on the channel: one Fourier block's weights whatever the iteration count, and the count matters."""
    torch.manual_seed(0)
    two = build_model({"name": "ifno", "width": 8, "modes": 2, "iterations": 2}, channel)
    five = build_model({"name": "ifno", "width": 8, "modes": 2, "iterations": 5}, channel)
    assert len(two.net.fno_blocks.convs) == 1 and len(five.net.fno_blocks.convs) == 1
    assert real_parameter_count(two) == real_parameter_count(five)
    five.load_state_dict(two.state_dict())
    x = channel.dataset("train")[0][0][None]
    with torch.no_grad():
        assert float((two(x) - five(x)).abs().max()) > 1e-6


@pytest.mark.parametrize("name, params", [("fno", 101971), ("ifno", 26539)])
def test_channel_configs_build_the_benchmark_sizes(channel, name, params):
    """configs/channel_{fno,ifno}.yaml: the channel problem of IFactFormer-m and the benchmark's model sizes."""
    from sciflow.spec import load_spec

    spec = load_spec(CONFIGS / f"channel_{name}.yaml")
    ref = load_spec(CONFIGS / "channel_ifactformer_m.yaml")
    for key in ("problem", "objective", "training", "evaluation"):
        assert spec.to_dict()[key] == ref.to_dict()[key], key
    model = build_model(spec.section("model"), channel)
    assert model.channel and model.residual and model.no_slip
    assert real_parameter_count(model) == params
