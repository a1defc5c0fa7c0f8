"""Channel symmetries hold for the discrete solver and its filter, to round-off.

A tiny float64 DNS (16 x 24 x 16) runs from a turbulent-like state and from each transformed
copy of it; the run from the transformed state must equal the transformed run, on the DNS grid
and after filtering onto the coarse grid (which is what the recipe's augmentation writes).
A mirror x → −x is not a symmetry (the pressure gradient points along +x): the same check
must fail for it, so the comparison cannot pass by accident.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
from sciflow.cfd.channel_initial import turbulent_initial_condition
from sciflow.cfd.channel_symmetry import (augment, check_mirror_symmetric, mirror_defect, parse_transform,
                                          transform_velocity)
from sciflow.cfd.filters import ChannelCoarsener
from sciflow.errors import SciflowError

torch.set_num_threads(1)
CFG = ChannelConfig(nx=16, ny=24, nz=16, lx=math.pi, lz=math.pi / 2, nu=1 / 178.12, dt=2e-3, stretch=1.9,
                    dtype="float64")
COARSE = (8, 13, 8)
N_STEPS, EVERY = 24, 8
FINE_AXES = (1, 0, 2)  # solver arrays are (Y, X, Z)
# fine-grid transform -> the same transform in coarse cells (DNS 16 -> filtered 8 in x and z)
CASES = {"reflect_y": "reflect_y", "reflect_z": "reflect_z", "shift_z:6": "shift_z:3", "shift_x:4": "shift_x:2",
         "reflect_y+reflect_z+shift_z:2": "reflect_y+reflect_z+shift_z:1"}
TOL = 1e-12


def _run(state, coarse_grid=COARSE):
    """Fine (u, v, w) and filtered (3, X, Y, Z) snapshots every EVERY steps from ``state``."""
    s = ChannelSolver(CFG)
    s.set_state(*state)
    coarse = ChannelCoarsener(s, *coarse_grid)
    fine, filt = [], []
    for k in range(N_STEPS // EVERY + 1):
        if k:
            s.run(EVERY, progress=False)
        fine.append([f.numpy().copy() for f in s.fields()])
        filt.append(np.stack([f.permute(1, 0, 2).numpy() for f in coarse()]))
    return fine, filt


@pytest.fixture(scope="module")
def reference():
    s = ChannelSolver(CFG)
    turbulent_initial_condition(s, amplitude=1.0, seed=1)
    state = [f.numpy().copy() for f in s.fields()]
    return state, *_run(state)


def _errors(reference, fine_name, coarse_name=None, fine_map=None):
    state, fine, filt = reference
    tr = fine_map or (lambda u, v, w: transform_velocity(u, v, w, fine_name, axes=FINE_AXES))
    fine_b, filt_b = _run(tr(*state))
    scale = max(np.abs(f).max() for f in fine[-1])
    e_fine = max(np.abs(np.stack(tr(*a)[i]) - b[i]).max() for a, b in zip(fine, fine_b) for i in range(3)) / scale
    e_filt = None
    if coarse_name is not None:
        e_filt = max(np.abs(np.stack(transform_velocity(*a, coarse_name)) - b).max()
                     for a, b in zip(filt, filt_b)) / np.abs(filt[-1]).max()
    return e_fine, e_filt


@pytest.mark.parametrize("fine_name", list(CASES))
def test_transformed_run_is_the_transformed_run_to_round_off(reference, fine_name):
    state, fine, _ = reference
    # the flow evolves and the transform moves it: equality is not trivial
    scale = np.abs(fine[0][0]).max()
    assert max(np.abs(a - b).max() for a, b in zip(fine[0], fine[-1])) > 1e-3 * scale
    moved = transform_velocity(*state, fine_name, axes=FINE_AXES)
    assert max(np.abs(a - b).max() for a, b in zip(moved, state)) > 0.1
    e_fine, e_filt = _errors(reference, fine_name, CASES[fine_name])
    print(f"{fine_name}: DNS {e_fine:.2e}, filtered {e_filt:.2e}")
    assert e_fine < TOL and e_filt < TOL


def test_shift_by_a_fraction_of_a_dns_cell(reference):
    """With nz = 72 and a coarse nz of 16 (the CPU recipe) one coarse cell is 4.5 DNS cells: a coarse
    shift is a sub-cell translation of the DNS, exact for the dealiased Fourier solver and the spectral
    filter. Here: DNS nz = 16, coarse 6, so shift_z:1 moves the DNS by 16/6 cells."""
    state = reference[0]
    shift = CFG.lz / 6

    def translate(f):  # band-limited periodic f(z) -> f(z - shift), (Y, X, Z)
        k = np.fft.rfftfreq(CFG.nz, 1.0 / CFG.nz) * 2 * np.pi / CFG.lz
        return np.fft.irfft(np.fft.rfft(f, axis=2) * np.exp(-1j * k * shift), n=CFG.nz, axis=2)

    coarse = (8, 13, 6)
    _, filt = _run(state, coarse)
    _, filt_b = _run([translate(f) for f in state], coarse)
    e = max(np.abs(np.stack(transform_velocity(*a, "shift_z:1")) - b).max() for a, b in zip(filt, filt_b))
    e /= np.abs(filt[-1]).max()
    print(f"shift_z by 16/6 DNS cells: filtered {e:.2e}")
    assert e < TOL


def test_mirror_in_x_is_not_a_symmetry(reference):
    """(u, v, w)(x) → (−u, v, w)(−x) reverses the flow against the pressure gradient: large error."""
    def mirror_x(u, v, w):
        fx = lambda f: np.roll(np.flip(f, 1), 1, 1)  # noqa: E731
        return -fx(u), fx(v), fx(w)

    e_fine, _ = _errors(reference, None, fine_map=mirror_x)
    print(f"mirror_x (not a symmetry): DNS {e_fine:.2e}")
    assert e_fine > 1e-3


def test_grids_are_mirror_symmetric_and_asymmetry_is_refused():
    s = ChannelSolver(CFG)
    c = ChannelCoarsener(s, *COARSE)
    assert mirror_defect(s.grid.yf) < 1e-15 and mirror_defect(c.y) < 1e-15
    # the y filter commutes with the flip: W[::-1, ::-1] = W
    for W in (c.Wc, c.Wf):
        assert float((W.flip(0).flip(1) - W).abs().max()) < 1e-14
    y = c.y.copy()
    y[3] += 1e-6
    with pytest.raises(SciflowError, match="not mirror-symmetric"):
        check_mirror_symmetric(y, "coarse y grid")


def test_augment_layout_and_names():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 2, 3, 4, 5, 6))
    out, src, tr = augment(data, ["reflect_y", "shift_z:3"])
    assert out.shape == (3, 6, 3, 4, 5, 6)
    assert list(src) == [0, 0, 0, 3, 3, 3] and list(tr) == ["identity", "reflect_y", "shift_z:3"] * 2
    assert np.array_equal(out[:, 3], data[:, 1])
    assert np.array_equal(out[1, 1], -data[1, 0][:, :, ::-1, :])
    assert np.array_equal(out[:, 2], np.roll(data[:, 0], 3, -1))
    # reflect_z twice is the identity; reflect_z keeps z = 0 in place and negates w
    z2 = transform_velocity(*data[:, 0], "reflect_z+reflect_z")
    assert all(np.array_equal(a, b) for a, b in zip(z2, data[:, 0]))
    zr = transform_velocity(*data[:, 0], "reflect_z")
    assert np.array_equal(zr[2][..., 0], -data[2, 0][..., 0]) and np.array_equal(zr[0][..., 1], data[0, 0][..., -1])
    for bad in (["reflect_x"], ["shift_z"], ["shift_z:6"], ["reflect_y", "reflect_y"], ["identity"]):
        with pytest.raises(SciflowError):
            augment(data, bad)
    assert parse_transform("identity") == []
