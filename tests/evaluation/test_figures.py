"""Figures a CFD user reads: error maps on a robust colour scale with the singular points circled, the loss
history with validation curves and the optimiser switch labelled, report.md units and targets."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sciflow.evaluation import plots  # noqa: E402
from sciflow.evaluation.field_comparison import FieldComparison, field_figures  # noqa: E402
from sciflow.spec import Phase  # noqa: E402


@pytest.fixture
def kept_figures(monkeypatch):
    """The figures the plotting code closes, kept open for inspection."""
    kept = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    monkeypatch.undo()
    plt.close("all")


def test_error_map_ends_at_the_99th_percentile_and_circles_the_singular_corners(tmp_path, kept_figures):
    x = y = np.linspace(0, 1, 21)
    X, Y = np.meshgrid(x, y)
    ref = np.sin(np.pi * X) * Y
    pred = ref + 0.01 * X
    pred[-1, -1] += 100.0  # a singular corner value that would saturate any linear scale
    c = FieldComparison(("y", "x"), {"x": x, "y": y}, {"p": pred}, {"p": ref}, {"p": "rho U^2"})
    field_figures(c, tmp_path, "t", singular=((0.0, 1.0), (1.0, 1.0)), radius=0.1)
    fig = kept_figures[-1]
    err_ax = [a for a in fig.axes if a.get_title() == "p [rho U^2]: |error|"][0]
    mesh = err_ax.collections[0]
    assert mesh.norm.vmin == 0.0 and mesh.norm.vmax == pytest.approx(np.percentile(np.abs(pred - ref), 99))
    assert mesh.norm.vmax < 1.0  # the corner does not set the scale
    maps = [a for a in fig.axes if a.get_title().startswith("p [")]
    assert len(maps) == 3
    for ax in maps:
        centres = sorted(tuple(np.round(p.center, 12)) for p in ax.patches)
        assert centres == [(0.0, 1.0), (1.0, 1.0)] and all(p.radius == 0.1 for p in ax.patches)
    assert (tmp_path / "field_comparison.png").stat().st_size > 1000


def test_loss_history_labels_the_optimiser_switch_and_skips_clock_columns(tmp_path, kept_figures):
    step = np.arange(1.0, 81.0)
    hist = {"step": step, "phase": (step > 60).astype(float), "lr": np.full(80, 1e-3), "loss": 1 / step,
            "momentum_x": 0.5 / step, "val_rel_l2": np.where(step % 10 == 0, 2 / step, np.nan),
            "elapsed_s": step * 0.1, "cpu_s": step * 0.09}
    phases = [Phase(optimizer="adam", steps=60), Phase(optimizer="lbfgs", steps=20)]
    assert plots.phase_starts(phases) == [(60, "adam → lbfgs")]
    plots.loss_history(hist, tmp_path / "loss.png", phases)
    ax = kept_figures[-1].axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert {"loss", "momentum_x", "val_rel_l2 (validation)"} <= set(labels)
    assert not any(k in lab for lab in labels for k in ("cpu_s", "elapsed_s", "lr", "phase"))
    switch = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [60, 60]]
    assert len(switch) == 1 and [t.get_text().strip() for t in ax.texts] == ["adam → lbfgs"]
    val = [ln for ln in ax.get_lines() if ln.get_label() == "val_rel_l2 (validation)"][0]
    assert list(val.get_xdata()) == list(step[9::10]) and val.get_linestyle() == "--"
