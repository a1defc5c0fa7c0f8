"""FNO / IFNO baselines from neuraloperator: built from the spec, periodic equivariance of the
Fourier layers, weight sharing of IFNO, and a linear-advection operator learned by a tiny FNO."""

import math

import pytest
import torch

from sciflow.models.baselines import FNOBaseline, IFNO, real_parameter_count
from sciflow.models.registry import build_model


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: tiny tensors gain nothing from two, and a busy second core stalls them."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class _P:
    t_in = 1


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


def test_tiny_ifno_learns_linear_advection():
    """Advection by 0.1 of the period: the identity map errs by ~60 %; a trained tiny IFNO by < 10 % of that."""
    g = torch.Generator().manual_seed(0)
    x_train, y_train = _advection_data(64, generator=g)
    x_test, y_test = _advection_data(16, generator=g)
    torch.manual_seed(0)
    model = IFNO(_P(), width=8, modes=4, iterations=2, channel_mlp=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 250)
    for _ in range(250):
        idx = torch.randint(0, 64, (16,), generator=g)
        err = (model(x_train[idx]) - y_train[idx]).flatten(1).norm(dim=1) / y_train[idx].flatten(1).norm(dim=1)
        opt.zero_grad()
        err.mean().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        learned = ((model(x_test) - y_test).flatten(1).norm(dim=1) / y_test.flatten(1).norm(dim=1)).mean()
    identity = ((x_test - y_test).flatten(1).norm(dim=1) / y_test.flatten(1).norm(dim=1)).mean()
    assert identity > 0.3
    assert learned < 0.1 * identity, (float(learned), float(identity))
