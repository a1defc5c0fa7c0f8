"""Exact symmetries of turbulent channel flow, used to augment filtered-DNS trajectories.

The channel at constant pressure gradient (walls at y = ±1, periodic in x and z, mean
forcing along +x) is invariant under

* ``reflect_y``: y → −y, (u, v, w)(x, y, z) → (u, −v, w)(x, −y, z);
* ``reflect_z``: z → −z, (u, v, w)(x, y, z) → (u, v, −w)(x, y, −z);
* ``shift_x:N`` / ``shift_z:N``: a periodic translation by N grid cells of the grid the
  arrays live on (f(x, y, z) → f(x − N Δx, y, z)).

Each maps a solution of the discrete solver (``sciflow.cfd.channel_dns``) and of the filter
(``sciflow.cfd.filters``) onto another to round-off. Measured (``tests/cfd/test_channel_symmetry.py``,
DNS 16 x 24 x 16 float64, 24 steps, max error relative to max |u|): z-reflection 3e-15, shifts
≤ 1e-15 (also by a fraction of a DNS cell: the dealiased Fourier solver and the spectral filter
commute with any translation), y-reflection 2.5e-13. The y-reflection error grows linearly, by
~1e-14 per step: the wall-normal solves are dense eigenbasis products whose round-off is not
mirror-symmetric (one Poisson solve of a field and of its mirror image differ by 1e-13 relative),
and the grid itself is mirror-symmetric to 4e-16. Like any round-off, it is amplified by the
chaos of the flow over long times, as a rerun with another thread count would be. A mirror
x → −x (u → −u) is not a symmetry (the mean pressure gradient points along +x: 7e-3 after 24
steps) and is not offered.

A transform is named by elementary transforms joined with ``+`` and applied left to right,
e.g. ``"reflect_y+reflect_z"`` or ``"shift_z:8+reflect_y"``; ``"identity"`` leaves the
fields as they are.

Arrays: ``u, v, w`` with the x, y and z axes given by ``axes`` (default the last three,
``(..., X, Y, Z)``, the recipe's layout; the solver's ``(Y, X, Z)`` is ``axes=(1, 0, 2)``).
For y-reflection all three must be on the same mirror-symmetric y points (centres, or
faces including the walls, which the flip maps onto themselves).
"""

from __future__ import annotations

import numpy as np

from sciflow.errors import SciflowError

ELEMENTARY = ("reflect_y", "reflect_z", "shift_x", "shift_z")


def parse_transform(name: str) -> list[tuple[str, int]]:
    """``"shift_z:8+reflect_y"`` → ``[("shift_z", 8), ("reflect_y", 0)]``; ``"identity"`` → ``[]``."""
    name = str(name).strip()
    if name == "identity":
        return []
    out = []
    for part in name.split("+"):
        op, _, arg = part.strip().partition(":")
        if op not in ELEMENTARY:
            raise SciflowError(f"channel symmetry: unknown transform {part!r} in {name!r}; "
                               f"allowed: reflect_y, reflect_z, shift_x:N, shift_z:N (N grid cells), joined by '+'")
        if op.startswith("shift"):
            try:
                n = int(arg)
            except ValueError:
                raise SciflowError(f"channel symmetry: {part!r} needs a whole number of cells, e.g. {op}:4") from None
            out.append((op, n))
        else:
            if arg:
                raise SciflowError(f"channel symmetry: {op} takes no argument, got {part!r}")
            out.append((op, 0))
    return out


def transform_velocity(u: np.ndarray, v: np.ndarray, w: np.ndarray, name: str,
                       axes: tuple[int, int, int] = (-3, -2, -1)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, w) after the transform ``name`` (module docstring); ``axes`` = (x, y, z) axis indices.

    Periodic reflection about z = 0 on points z_k = k Δz: f(−z_k) = f(z_{(−k) mod N}).
    Returns new arrays of the input shapes.
    """
    ax, ay, az = axes
    for op, n in parse_transform(name):
        if op == "reflect_y":
            u, v, w = np.flip(u, ay), -np.flip(v, ay), np.flip(w, ay)
        elif op == "reflect_z":
            zr = lambda f: np.roll(np.flip(f, az), 1, az)  # noqa: E731
            u, v, w = zr(u), zr(v), -zr(w)
        else:
            a = ax if op == "shift_x" else az
            u, v, w = (np.roll(f, n, a) for f in (u, v, w))
    return np.ascontiguousarray(u), np.ascontiguousarray(v), np.ascontiguousarray(w)


def mirror_defect(y: np.ndarray) -> float:
    """max_j |y_j + y_{N-1-j}| / max |y|: zero for points mirror-symmetric about y = 0."""
    y = np.asarray(y, dtype=np.float64)
    return float(np.abs(y + y[::-1]).max() / max(np.abs(y).max(), 1e-300))


def check_mirror_symmetric(y: np.ndarray, what: str, tol: float = 1e-12):
    """Raise a :class:`SciflowError` naming ``what`` if the points ``y`` are not mirror-symmetric about 0."""
    d = mirror_defect(y)
    if not d <= tol:
        raise SciflowError(f"channel symmetry: the {what} is not mirror-symmetric about the centreline "
                           f"(max |y_j + y_(N-1-j)| = {d:.3g} > {tol:g}), so reflect_y would not map the "
                           f"data onto a solution; drop reflect_y from 'augment'")


def check_transforms(transforms, n_x: int, n_z: int) -> list[str]:
    """The transform names of ``transforms`` (a list, or one string with comma-separated names), checked.

    Refuses unknown names, repeats, ``identity`` and shifts by a whole period (N mod n_x or
    N mod n_z = 0, which add no data); ``n_x``, ``n_z``: cells of the grid the data live on.
    """
    if isinstance(transforms, str):
        transforms = [t for t in transforms.split(",") if t.strip()]
    names = [str(t).strip() for t in (transforms or [])]
    if len(set(names)) != len(names) or "identity" in names:
        raise SciflowError(f"channel symmetry: augment {names} repeats a transform or lists identity")
    for t in names:
        for op, n in parse_transform(t):
            period = n_x if op == "shift_x" else n_z
            if op.startswith("shift") and n % period == 0:
                raise SciflowError(f"channel symmetry: {t!r} shifts by a whole period ({period} cells): no new data")
    return names


def augment(data: np.ndarray, transforms):
    """Each trajectory followed by its transformed copies.

    data: (3, S, T, X, Y, Z) components u, v, w; returns (out (3, S·C, T, X, Y, Z), source (S·C,) int,
    transform (S·C,) str) with C = 1 + len(transforms); copy c of trajectory i is row i·C + c, row
    i·C holds the untouched trajectory (``"identity"``) and ``source`` is i·C for all C rows (the row
    of the source). ``transforms`` as in :func:`check_transforms`.
    """
    names = check_transforms(transforms, data.shape[3], data.shape[5])
    c = 1 + len(names)
    s = data.shape[1]
    out = np.empty((3, s * c, *data.shape[2:]), dtype=data.dtype)
    for i in range(s):
        out[:, i * c] = data[:, i]
        for k, t in enumerate(names, start=1):
            out[:, i * c + k] = np.stack(transform_velocity(*data[:, i], t))
    source = np.repeat(np.arange(s) * c, c)
    transform = np.array((["identity"] + names) * s)
    return out, source, transform
