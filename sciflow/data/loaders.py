"""Torch Datasets over trajectory files: time windows for operator learning, normalised with train stats.

A trajectory dataset is an ``xarray.Dataset`` whose field variables share the dims
``(sample_dim, time_dim, *spatial)``, e.g. ``vorticity (sample, t, x, y)`` for 2D periodic
Navier-Stokes or ``u, v, w (trajectory, t, x, y, z)`` for channel flow, plus a string variable
``split (sample_dim)`` with values ``"train" | "validation" | "test"``.

Normalisation: one scalar mean and standard deviation per variable, computed over every
frame and grid point of the *train* split only, and stored with the data as attrs of the
variable (``norm_mean``, ``norm_std``, ``norm_split = "train"``; see
:func:`attach_normalisation`).  A file without stored stats gets them computed from its train
split when loaded.  x̃ = (x − mean) / std.

Windows (frame indices of one trajectory with T frames, start s):
    input  = frames s, …, s + t_in − 1,     target = frames s + t_in, …, s + t_in + t_out − 1.
``stride=None`` gives one window per trajectory (s = ``t_start``, the FNO setting: 10 frames in,
10 out); an integer gives sliding windows s = t_start, t_start + stride, … (``t_out = 1,
stride = 1`` is the one-step training set: frames t − t_in + 1 … t → t + 1).

Shapes of one item (V variables, spatial dims S = (x, y) or (x, y, z)):
    layout="channel_last"  : input (*S, t_in·V), target (*S, t_out·V), channel c = frame·V + var
    layout="channel_first" : input (t_in·V, *S), target (t_out·V, *S), same channel order
    layout="time_first"    : input (t_in, *S, V), target (t_out, *S, V)
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from sciflow.errors import SciflowError

SPLITS = ("train", "validation", "test")
LAYOUTS = ("channel_last", "channel_first", "time_first")


def _sample_dim(ds: xr.Dataset, var: str, sample_dim: str | None, where: str) -> str:
    dims = ds[var].dims
    if sample_dim is None:
        for cand in ("sample", "trajectory"):
            if cand in dims:
                return cand
        raise SciflowError(f"{where}: variable '{var}' has dims {dims}; none is 'sample' or 'trajectory' "
                           f"(pass sample_dim=...)")
    if sample_dim not in dims:
        raise SciflowError(f"{where}: variable '{var}' has dims {dims}, not the sample dim '{sample_dim}'")
    return sample_dim


def split_indices(ds: xr.Dataset, split: str | None, sample_dim: str, where: str = "dataset") -> np.ndarray:
    """Indices along ``sample_dim`` of the samples in ``split`` (``None`` or ``"all"``: every sample)."""
    n = ds.sizes[sample_dim]
    if split in (None, "all"):
        return np.arange(n)
    if split not in SPLITS:
        raise SciflowError(f"{where}: split must be one of {SPLITS} or 'all', got {split!r}")
    if "split" not in ds.variables:
        raise SciflowError(f"{where}: has no 'split' variable, so split={split!r} cannot be selected; use split='all'")
    labels = np.asarray(ds["split"].values).astype(str)
    idx = np.flatnonzero(labels == split)
    if idx.size == 0:
        counts = {s: int((labels == s).sum()) for s in SPLITS}
        raise SciflowError(f"{where}: split '{split}' is empty (samples per split: {counts})")
    return idx


def normalisation_stats(ds: xr.Dataset, variables: Sequence[str], sample_dim: str | None = None,
                        split: str = "train", where: str = "dataset") -> dict[str, tuple[float, float]]:
    """Scalar (mean, std) of each variable over all frames and points of ``split`` samples (float64)."""
    stats = {}
    for var in variables:
        dim = _sample_dim(ds, var, sample_dim, where)
        idx = split_indices(ds, split, dim, where)
        x = np.asarray(ds[var].isel({dim: idx}).values, dtype=np.float64)
        mean = float(x.mean())
        std = float(np.sqrt(((x - mean) ** 2).mean()))
        if not std > 0:
            raise SciflowError(f"{where}: variable '{var}' is constant on split '{split}' (std = 0); cannot normalise")
        stats[var] = (mean, std)
    return stats


def attach_normalisation(ds: xr.Dataset, variables: Sequence[str], sample_dim: str | None = None) -> xr.Dataset:
    """Store train-split stats as attrs ``norm_mean``, ``norm_std``, ``norm_split`` of each variable."""
    for var, (mean, std) in normalisation_stats(ds, variables, sample_dim).items():
        ds[var].attrs.update(norm_mean=mean, norm_std=std, norm_split="train")
    return ds


class TrajectoryWindows(torch.utils.data.Dataset):
    """Windows of trajectories from one split of a trajectory file (see the module docstring).

    Args:
        source: path of a netCDF/HDF5 file written by :func:`sciflow.data.io.write_dataset`, or a Dataset.
        variables: field names, e.g. ``("vorticity",)`` or ``("u", "v", "w")``.
        split: ``"train" | "validation" | "test" | "all"``.
        t_in, t_out: frames in the input and the target.  stride, t_start: see module docstring.
        layout: ``"channel_last" | "channel_first" | "time_first"``.
        normalise: return normalised fields (stats stored in the file, else computed from its
            train split); ``stats`` overrides them with ``{var: (mean, std)}``.
        sample_dim, time_dim: dim names; the sample dim defaults to ``sample`` or ``trajectory``.
        spatial_dims: order of the space dims in the items, e.g. ``("x", "y")``; default: the file's
            order (CF files store ``(..., z, y, x)``, see :mod:`sciflow.data.schema`).
        dtype: torch dtype of the items.

    Items are ``(input, target)`` tensors (see the module docstring for shapes); ``window(i)``
    tells the (sample index in the file, start frame) of item i.
    """

    def __init__(self, source, variables: Sequence[str] = ("vorticity",), split: str | None = "train",
                 t_in: int = 10, t_out: int = 10, stride: int | None = None, t_start: int = 0,
                 layout: str = "channel_last", normalise: bool = True,
                 stats: dict[str, tuple[float, float]] | None = None, sample_dim: str | None = None,
                 time_dim: str = "t", spatial_dims: Sequence[str] | None = None, dtype=torch.float32):
        if isinstance(source, (str, os.PathLike)):
            from sciflow.data.io import read_dataset

            where = str(source)
            ds = read_dataset(source)
        elif isinstance(source, xr.Dataset):
            where, ds = "dataset", source
        else:
            raise SciflowError(f"TrajectoryWindows: source must be a path or an xarray.Dataset, got {type(source)}")
        variables = [variables] if isinstance(variables, str) else list(variables)
        if not variables:
            raise SciflowError(f"{where}: no variables requested")
        missing = [v for v in variables if v not in ds.variables]
        if missing:
            raise SciflowError(f"{where}: lacks required variable(s) {missing}; has {sorted(ds.data_vars)}")
        if layout not in LAYOUTS:
            raise SciflowError(f"TrajectoryWindows: layout must be one of {LAYOUTS}, got {layout!r}")
        if t_in < 1 or t_out < 1 or t_start < 0 or (stride is not None and stride < 1):
            raise SciflowError(f"TrajectoryWindows: need t_in, t_out, stride >= 1 and t_start >= 0; got "
                               f"t_in={t_in}, t_out={t_out}, stride={stride}, t_start={t_start}")
        sdim = _sample_dim(ds, variables[0], sample_dim, where)
        if spatial_dims is not None:
            lacking = [d for d in (sdim, time_dim, *spatial_dims) if d not in ds[variables[0]].dims]
            if lacking or len(ds[variables[0]].dims) != 2 + len(spatial_dims):
                raise SciflowError(f"{where}: variable '{variables[0]}' has dims {ds[variables[0]].dims}; cannot "
                                   f"arrange them as ({sdim}, {time_dim}, {', '.join(spatial_dims)})")
            ds = ds.transpose(sdim, time_dim, *spatial_dims, ..., missing_dims="ignore")
        dims = ds[variables[0]].dims
        if time_dim not in dims or dims[:2] != (sdim, time_dim):
            raise SciflowError(f"{where}: variable '{variables[0]}' must have dims ({sdim}, {time_dim}, ...), got {dims}")
        for v in variables[1:]:
            if ds[v].dims != dims:
                raise SciflowError(f"{where}: variable '{v}' has dims {ds[v].dims}, '{variables[0]}' has {dims}")
        self.where, self.variables, self.split = where, variables, split
        self.sample_dim, self.time_dim, self.spatial_dims = sdim, time_dim, dims[2:]
        self.t_in, self.t_out, self.layout = t_in, t_out, layout
        self.indices = split_indices(ds, split, sdim, where)
        n_frames = ds.sizes[time_dim]
        if t_start + t_in + t_out > n_frames:
            raise SciflowError(f"{where}: t_start + t_in + t_out = {t_start + t_in + t_out} exceeds the "
                               f"{n_frames} frames along '{time_dim}'")
        last = n_frames - t_in - t_out
        self.starts = np.arange(t_start, last + 1, stride) if stride is not None else np.array([t_start])
        self.times = np.asarray(ds[time_dim].values) if time_dim in ds.coords else np.arange(n_frames)

        if normalise:
            if stats is None:
                stats = {}
                for v in variables:
                    a = ds[v].attrs
                    if "norm_mean" in a and "norm_std" in a:
                        if str(a.get("norm_split", "train")) != "train":
                            raise SciflowError(f"{where}: stored stats of '{v}' come from split "
                                               f"'{a['norm_split']}', not 'train'")
                        stats[v] = (float(a["norm_mean"]), float(a["norm_std"]))
                    else:
                        stats.update(normalisation_stats(ds, [v], sdim, "train", where))
            self.stats = {v: (float(stats[v][0]), float(stats[v][1])) for v in variables}
        else:
            self.stats = {v: (0.0, 1.0) for v in variables}
        mean = torch.tensor([self.stats[v][0] for v in variables], dtype=torch.float64)
        std = torch.tensor([self.stats[v][1] for v in variables], dtype=torch.float64)
        self._mean, self._std = mean, std
        # data: (n_split_samples, T, *S, V), normalised once, in the requested dtype
        arrays = [torch.from_numpy(np.asarray(ds[v].isel({sdim: self.indices}).values, dtype=np.float64))
                  for v in variables]
        data = torch.stack(arrays, dim=-1)
        self.data = ((data - mean) / std).to(dtype)

    def __len__(self) -> int:
        return len(self.indices) * len(self.starts)

    def window(self, i: int) -> tuple[int, int]:
        """(sample index in the file, start frame) of item ``i``."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        s, w = divmod(i, len(self.starts))
        return int(self.indices[s]), int(self.starts[w])

    def _arrange(self, frames: torch.Tensor) -> torch.Tensor:
        """(t, *S, V) → the configured layout."""
        if self.layout == "time_first":
            return frames
        nd = frames.dim()
        x = frames.permute(*range(1, nd - 1), 0, nd - 1)  # (*S, t, V)
        x = x.reshape(*x.shape[:-2], -1)  # (*S, t·V), channel = frame·V + var
        if self.layout == "channel_first":
            x = x.permute(nd - 2, *range(nd - 2))
        return x

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        s, w = divmod(i, len(self.starts))
        start = int(self.starts[w])
        frames = self.data[s, start:start + self.t_in + self.t_out]
        return self._arrange(frames[: self.t_in]), self._arrange(frames[self.t_in:])

    def _stat_shape(self, x: torch.Tensor, stat: torch.Tensor) -> torch.Tensor:
        """Broadcast per-variable stats against a (possibly batched) item in this layout."""
        v, nsp = len(self.variables), len(self.spatial_dims)
        stat = stat.to(device=x.device, dtype=torch.float64)
        if self.layout == "time_first":
            return stat  # last axis is the variable
        if self.layout == "channel_last":
            return stat.repeat(x.shape[-1] // v)
        return stat.repeat(x.shape[-1 - nsp] // v).reshape(-1, *([1] * nsp))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Physical → normalised, for an item or a batch of items in this layout."""
        return ((x.to(torch.float64) - self._stat_shape(x, self._mean)) / self._stat_shape(x, self._std)).to(x.dtype)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised → physical (inverse of :meth:`normalise`), for items or batches in this layout."""
        return (x.to(torch.float64) * self._stat_shape(x, self._std) + self._stat_shape(x, self._mean)).to(x.dtype)

    def as_frames(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of items in this layout → frames (B, F, *S, V) (time, space, variable last)."""
        v, nsp = len(self.variables), len(self.spatial_dims)
        if self.layout == "time_first":
            return x
        if self.layout == "channel_first":  # (B, F·V, *S) → (B, F, V, *S) → (B, F, *S, V)
            f = x.reshape(x.shape[0], -1, v, *x.shape[2:])
            return f.permute(0, 1, *range(3, 3 + nsp), 2)
        f = x.reshape(*x.shape[:-1], -1, v)  # channel_last (B, *S, F·V) → (B, *S, F, V)
        return f.permute(0, 1 + nsp, *range(1, 1 + nsp), 2 + nsp)

    def from_frames(self, f: torch.Tensor) -> torch.Tensor:
        """Frames (B, F, *S, V) → a batch in this layout (inverse of :meth:`as_frames`)."""
        nsp = len(self.spatial_dims)
        if self.layout == "time_first":
            return f
        if self.layout == "channel_first":
            x = f.permute(0, 1, 2 + nsp, *range(2, 2 + nsp))  # (B, F, V, *S)
            return x.reshape(x.shape[0], -1, *x.shape[3:])
        x = f.permute(0, *range(2, 2 + nsp), 1, 2 + nsp)  # (B, *S, F, V)
        return x.reshape(*x.shape[:-2], -1)
