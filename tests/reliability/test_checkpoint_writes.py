"""``last.pt`` exists and loads at every instant of a save; resume picks the right checkpoint."""

import os

import pytest
import torch

import sciflow.training.checkpoint as checkpoint
from sciflow.api import train
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict
from sciflow.training.checkpoint import load_checkpoint, save_checkpoint

from .conftest import TINY


@pytest.fixture
def run(tmp_path):
    """A finished TINY run: last.pt at step 12."""
    return train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)


def _payload(ck_dir, step):
    ck = load_checkpoint(ck_dir / "last.pt")
    return {k: ck[k] for k in checkpoint.REQUIRED_KEYS} | {"step": step}


def _torn_torch_save(obj, f, *a, **k):
    """Write part of a checkpoint, then die as a kill or a second Ctrl-C would."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a checkpoint")
    else:
        f.write(b"PK\x03\x04 half a checkpoint")
    raise KeyboardInterrupt


def _interrupt_masked_by_the_zip_writer(obj, f, *a, **k):
    """What torch.save does when Ctrl-C arrives inside it: closing its zip writer raises over the interrupt."""
    try:
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt
    finally:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 94016 vs 93904")


def _no_hard_links(src, dst):
    raise KeyboardInterrupt


@pytest.mark.parametrize("fail", ["during the write", "inside torch's zip writer", "while keeping the previous",
                                  "at the final rename"])
def test_an_interrupted_save_leaves_the_old_last_pt_in_place(run, monkeypatch, fail):
    ck_dir = run / "checkpoints"
    before = (ck_dir / "last.pt").read_bytes()
    payload = _payload(ck_dir, 13)
    if fail == "during the write":
        monkeypatch.setattr(checkpoint.torch, "save", _torn_torch_save)
    elif fail == "inside torch's zip writer":
        monkeypatch.setattr(checkpoint.torch, "save", _interrupt_masked_by_the_zip_writer)
    elif fail == "while keeping the previous":
        monkeypatch.setattr(checkpoint.os, "link", _no_hard_links)
    else:
        real_replace = os.replace

        def replace(src, dst):
            if str(dst).endswith("last.pt"):
                raise KeyboardInterrupt
            real_replace(src, dst)

        monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(ck_dir / "last.pt", payload)
    monkeypatch.undo()
    assert (ck_dir / "last.pt").read_bytes() == before
    assert load_checkpoint(ck_dir / "last.pt")["step"] == 12
    assert not list(ck_dir.glob("*.tmp"))
    # and the run resumes from it: 12 → 16
    train(run / "spec.yaml", ["training.phases.0.steps=16"], out=run, resume=True, progress=False)
    assert load_checkpoint(ck_dir / "last.pt")["step"] == 16


def test_a_save_keeps_the_old_checkpoint_as_last_prev(run):
    ck_dir = run / "checkpoints"
    before = (ck_dir / "last.pt").read_bytes()
    save_checkpoint(ck_dir / "last.pt", _payload(ck_dir, 13))
    assert (ck_dir / "last.prev.pt").read_bytes() == before
    assert load_checkpoint(ck_dir / "last.pt")["step"] == 13


def test_resume_without_last_pt_continues_from_last_prev(run, capsys):
    ck_dir = run / "checkpoints"
    os.replace(ck_dir / "last.pt", ck_dir / "last.prev.pt")
    train(run / "spec.yaml", ["training.phases.0.steps=16"], out=run, resume=True, progress=False)
    assert f"resuming from the previous checkpoint {ck_dir / 'last.prev.pt'} (step 12)" in capsys.readouterr().err
    assert load_checkpoint(ck_dir / "last.pt")["step"] == 16


def test_resume_refuses_a_damaged_last_pt_and_names_the_intact_previous_one(run):
    ck_dir = run / "checkpoints"
    save_checkpoint(ck_dir / "last.pt", _payload(ck_dir, 12))  # last.prev.pt: step 12
    (ck_dir / "last.pt").write_bytes(b"garbage")
    with pytest.raises(SciflowError, match=rf"cannot read checkpoint {ck_dir / 'last.pt'}: .*the previous checkpoint "
                                           rf"{ck_dir / 'last.prev.pt'} \(step 12\) is intact: move last.pt aside"):
        train(run / "spec.yaml", out=run, resume=True, progress=False)
    assert (ck_dir / "last.pt").read_bytes() == b"garbage"  # nothing chosen behind the user's back
    os.replace(ck_dir / "last.pt", ck_dir / "last.pt.bad")
    train(run / "spec.yaml", ["training.phases.0.steps=16"], out=run, resume=True, progress=False)
    assert torch.load(ck_dir / "last.pt", weights_only=True)["step"] == 16


def test_a_killed_save_leaves_no_temporary_behind_after_the_next_start(run):
    ck_dir = run / "checkpoints"
    (ck_dir / "last.pt.k2j3h4.tmp").write_bytes(b"half")  # what kill -9 during a save leaves
    train(run / "spec.yaml", ["training.phases.0.steps=16"], out=run, resume=True, progress=False)
    assert not list(ck_dir.glob("*.tmp"))


@pytest.mark.parametrize("stop", ["signal", "second ctrl-c"])
def test_after_an_interrupt_the_cli_ignores_more_ctrl_c_while_it_exits(tmp_path, monkeypatch, stop):
    import signal

    import sciflow.api as api
    from sciflow.cli import main
    from sciflow.errors import Interrupted

    def interrupted(*a, **k):
        raise Interrupted("SIGINT: stopped at step 3 of 12", signal.SIGINT, 3) if stop == "signal" else KeyboardInterrupt

    monkeypatch.setattr(api, "train", interrupted)
    old = signal.getsignal(signal.SIGINT)
    try:
        assert main(["train", str(tmp_path / "s.yaml"), "--quiet"]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)
