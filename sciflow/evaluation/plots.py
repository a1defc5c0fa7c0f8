"""Matplotlib figures for evaluations (Agg backend; every function writes one PNG and returns its path)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def field_comparison(x, y, pred: dict, ref: dict, path, title: str = "") -> Path:
    """Rows: fields; columns: prediction | reference | error (a grid x (nx,), y (ny,), or scattered points
    x, y, fields all (N,), drawn on their Delaunay triangulation)."""
    names = list(pred)
    fig, axes = plt.subplots(len(names), 3, figsize=(11, 3.2 * len(names)), squeeze=False)
    for i, k in enumerate(names):
        lo, hi = np.nanpercentile(ref[k], [0.5, 99.5])  # robust to singular corner values
        for j, (data, label) in enumerate(((pred[k], "prediction"), (ref[k], "reference"), (pred[k] - ref[k], "error"))):
            ax = axes[i, j]
            kw = {"vmin": lo, "vmax": hi, "cmap": "RdBu_r"} if j < 2 else {"cmap": "magma"}
            shown = data if j < 2 else np.abs(data)
            if np.ndim(x) == 1 and np.shape(x) == np.shape(data):  # scattered points
                im = ax.tripcolor(x, y, np.where(np.isfinite(shown), shown, 0.0), shading="gouraud", **kw)
            else:
                im = ax.pcolormesh(x, y, shown, shading="auto", **kw)
            ax.set_aspect("equal")
            ax.set_title(f"{k}: {label}" + (" |pred − ref|" if j == 2 else ""), fontsize=9)
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def cavity_centerlines(arrays: dict, path) -> Path:
    """u on x=0.5 and v on y=0.5: model vs FEM reference vs Ghia et al. (1982)."""
    x, y = arrays["x"], arrays["y"]
    ix, iy = np.argmin(np.abs(x - 0.5)), np.argmin(np.abs(y - 0.5))
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(arrays["ref"]["u"][:, ix], y, "k-", label="FEM reference")
    a.plot(arrays["pred"]["u"][:, ix], y, "r--", label="model")
    b.plot(x, arrays["ref"]["v"][iy, :], "k-", label="FEM reference")
    b.plot(x, arrays["pred"]["v"][iy, :], "r--", label="model")
    if "ghia" in arrays:
        g = arrays["ghia"]
        a.plot(g["u"], g["y"], "bo", mfc="none", label="Ghia et al. 1982")
        b.plot(g["x"], g["v"], "bo", mfc="none", label="Ghia et al. 1982")
    a.set_xlabel("u(0.5, y)"), a.set_ylabel("y"), b.set_xlabel("x"), b.set_ylabel("v(x, 0.5)")
    a.legend(fontsize=8), b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def loss_history(metrics: dict, path) -> Path:
    """Total loss and each logged term against the step (log scale)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    skip = {"step", "phase", "lr", "elapsed_s"}
    for k, v in metrics.items():
        if k in skip or k.startswith("val_"):
            continue
        m = np.isfinite(v)
        if m.any():
            ax.semilogy(metrics["step"][m], v[m], lw=1.5 if k == "loss" else 0.8, label=k)
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
