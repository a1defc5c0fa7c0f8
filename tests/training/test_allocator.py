"""Training and evaluation keep freed tensor memory for the next step: no page faults for memory used again."""

import resource
import sys

import pytest
import torch

from sciflow.training.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_memory_freed_by_a_step_is_reused_without_page_faults():
    assert keep_freed_memory() == "glibc mmap threshold 32 MiB, trim threshold 512 MiB"

    def step():  # like a training step: ~100 MB of tensors made, written, all freed
        tensors = [torch.empty(3 * 2**20).fill_(1.0) for _ in range(8)]
        return sum(float(t[0]) for t in tensors)

    for _ in range(6):  # the heap grows to the step's size (over 2-4 steps, by where earlier blocks lie)
        step()
    windows = []
    for _ in range(3):  # the quietest of three windows: a block placed anew now and then is not the point
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(4):
            step()
        windows.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    assert min(windows) < 500  # returned to the OS each step, they would cost 4 × 8 × 3072 faults


def test_evaluate_sets_the_allocator_before_its_rollout(tmp_path, monkeypatch):
    """`sciflow evaluate` in a fresh process times its rollouts with the same allocator as training."""
    import sciflow.evaluation.report as report
    import sciflow.training.allocator as allocator
    from sciflow.api import evaluate, train
    from sciflow.spec import spec_from_dict

    run = train(spec_from_dict({
        "name": "tiny", "dtype": "float64", "device": "cpu", "problem": {"name": "poiseuille", "Re": 20},
        "model": {"name": "pinn", "width": 8, "depth": 2}, "objective": {"name": "physics", "interior_points": 64},
        "training": {"phases": [{"optimizer": "adam", "steps": 2, "lr": 3e-3}], "tensorboard": False}}),
        out=tmp_path / "run", progress=False)
    order = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: order.append("allocator") or "set")
    real = report.evaluate_run
    monkeypatch.setattr(report, "evaluate_run", lambda *a, **k: order.append("evaluate") or real(*a, **k))
    evaluate(run, progress=False)
    assert order == ["allocator", "evaluate"]
