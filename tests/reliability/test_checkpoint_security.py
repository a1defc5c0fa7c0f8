"""A checkpoint or restart file that is not what sciflow wrote never runs code; it is refused."""

import os

import pytest
import torch

from sciflow.api import load_run, train
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict
from sciflow.training.checkpoint import load_checkpoint

from .conftest import TINY, run_cli


class _Payload:
    """Unpickling this calls os.system: the attack a shared run directory allows with weights_only=False."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def trained(tmp_path):
    return train(spec_from_dict(TINY), out=tmp_path / "run", progress=False)


def test_checkpoint_loads_with_plain_weights_only_torch_load(trained):
    ck = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] == 12 and ck["format"] == "sciflow-checkpoint-2"
    assert all(isinstance(v, str) for v in ck["versions"].values())


def test_malicious_checkpoint_is_refused_and_runs_nothing(trained, tmp_path):
    last = trained / "checkpoints" / "last.pt"
    ck = torch.load(last, weights_only=True)
    marker = tmp_path / "PWNED"
    ck["versions"] = _Payload(marker)
    torch.save(ck, last)
    with pytest.raises(SciflowError, match="refused, not run"):
        load_checkpoint(last)
    with pytest.raises(SciflowError, match="refused, not run"):
        load_run(trained)
    res = run_cli("evaluate", trained, "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "refused" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", trained, "--resume", "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and "refused" in res.stderr
    assert not marker.exists()


def test_unpicklable_but_foreign_checkpoints_are_one_error(trained):
    last = trained / "checkpoints" / "last.pt"
    torch.save({}, last)
    with pytest.raises(SciflowError, match=r"not a sciflow checkpoint \(missing \['step'"):
        load_run(trained)
    last.write_bytes(last.read_bytes()[:20])
    with pytest.raises(SciflowError, match="truncated or not a torch file"):
        load_run(trained)


def test_malicious_channel_restart_is_refused(tmp_path):
    from sciflow.cfd.channel_dns import ChannelSolver

    marker = tmp_path / "PWNED_RESTART"
    torch.save({"config": {}, "evil": _Payload(marker)}, tmp_path / "restart.pt")
    with pytest.raises(SciflowError, match="channel restart file .*refused, not run"):
        ChannelSolver.load(tmp_path / "restart.pt")
    assert not marker.exists()


def test_exported_model_rebuilds_the_same_predictions(trained, tmp_path):
    from sciflow.api import export_model

    out = export_model(trained, tmp_path / "shared")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    a, b = load_run(trained), load_run(out)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa) and b.step == 12
    assert b.spec == a.spec
