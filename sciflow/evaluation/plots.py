"""Matplotlib figures for evaluations (Agg backend; every function writes one PNG and returns its path)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def field_comparison(x, y, pred: dict, ref: dict, path, title: str = "", singular=None) -> Path:
    """Rows: fields; columns: prediction | reference | error (a grid x (nx,), y (ny,), or scattered points
    x, y, fields all (N,), drawn on their Delaunay triangulation). The error colour scale ends at the 99th
    percentile of |error|; ``singular``: points (x, y) where the solution is singular, circled (r = 0.1)."""
    names = list(pred)
    fig, axes = plt.subplots(len(names), 3, figsize=(11, 3.2 * len(names)), squeeze=False)
    for i, k in enumerate(names):
        lo, hi = np.nanpercentile(ref[k], [0.5, 99.5])  # robust to singular corner values
        for j, (data, label) in enumerate(((pred[k], "prediction"), (ref[k], "reference"), (pred[k] - ref[k], "error"))):
            ax = axes[i, j]
            # error: 0 … 99th percentile of |error|, so the singular lid corners do not saturate the panel
            kw = ({"vmin": lo, "vmax": hi, "cmap": "RdBu_r"} if j < 2 else
                  {"cmap": "magma", "vmin": 0.0, "vmax": float(np.nanpercentile(np.abs(pred[k] - ref[k]), 99)) or None})
            shown = data if j < 2 else np.abs(data)
            if np.ndim(x) == 1 and np.shape(x) == np.shape(data):  # scattered points
                im = ax.tripcolor(x, y, np.where(np.isfinite(shown), shown, 0.0), shading="gouraud", **kw)
            else:
                im = ax.pcolormesh(x, y, shown, shading="auto", **kw)
            ax.set_aspect("equal"), ax.set_xlabel("x", fontsize=8), ax.set_ylabel("y", fontsize=8)
            for cx, cy in singular or ():
                ax.add_patch(matplotlib.patches.Circle((cx, cy), 0.1, fill=False, ec="c", lw=0.8, ls="--"))
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


NOT_LOSSES = ("step", "phase", "lr", "elapsed_s", "cpu_s")  # metrics.csv columns that are no loss or validation metric


def phase_starts(phases) -> list[tuple[int, str]]:
    """(last step of the phase before, "adam → lbfgs") for every phase switch of ``phases`` (the spec's list of
    phases, each with ``optimizer`` and ``steps``): phase i + 1 starts after step Σ_{j≤i} steps_j."""
    out, end = [], 0
    for a, b in zip(phases[:-1], phases[1:]):
        end += int(a.steps)
        out.append((end, f"{a.optimizer} → {b.optimizer}"))
    return out


def loss_history(metrics: dict, path, phases=None) -> Path:
    """Total loss, each logged term and the validation metrics (dashed, markers) against the step (log scale),
    with the optimiser phase switches marked by vertical lines labelled with the optimisers
    (e.g. "adam → lbfgs"; ``phases``: the spec's phases; without them, where the logged phase index changes)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    step = metrics["step"]
    for k, v in metrics.items():
        if k in NOT_LOSSES:
            continue
        m = np.isfinite(v) & (v > 0)
        if m.any():
            val = k.startswith("val_")
            ax.semilogy(step[m], v[m], ls="--" if val else "-", marker="o" if val and m.sum() < 30 else None, ms=3,
                        lw=1.5 if k in ("loss",) or val else 0.8, label=k + (" (validation)" if val else ""))
    if phases is not None:
        switches = [(s, label) for s, label in phase_starts(phases) if step.size and s < np.nanmax(step)]
    elif "phase" in metrics:
        ph = metrics["phase"]
        switches = [(step[i + 1], f"phase {int(ph[i])} → {int(ph[i + 1])}") for i in np.flatnonzero(np.diff(ph) != 0)]
    else:
        switches = []
    for s, label in switches:
        ax.axvline(s, color="k", lw=0.9, ls=":")
        ax.text(s, 0.98, f" {label}", transform=ax.get_xaxis_transform(), fontsize=8, va="top", color="k")
    ax.set_xlabel("step"), ax.set_ylabel("loss / validation metric"), ax.legend(fontsize=7), ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
