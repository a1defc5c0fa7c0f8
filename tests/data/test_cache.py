"""Cached reference files are named by a hash of all their parameters and checked on read."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from sciflow.data.io import provenance, write_dataset
from sciflow.problems.navier_stokes import LidDrivenCavity
from sciflow.problems.reference_data import cache_path, cached_recipe, parameter_mismatch, parameters_hash

TINY = {"Re": 100.0, "mesh": 4, "grid": 9}


def _impostor(params: dict, n: int) -> xr.Dataset:
    """A cavity-shaped file whose stored parameters say it was made with ``params`` (u = 7 everywhere)."""
    g = np.linspace(0, 1, n)
    ds = xr.Dataset({k: (("y", "x"), np.full((n, n), 7.0)) for k in ("u", "v", "p")}, coords={"x": g, "y": g})
    ds.attrs = provenance("lid_driven_cavity", "impostor", params, "-", 0.0)
    return ds


def test_hash_covers_every_parameter_and_ignores_number_spelling():
    base = parameters_hash("cavity_fem", TINY)
    assert parameters_hash("cavity_fem", {"Re": 100, "mesh": 4, "grid": 9}) == base  # 100 == 100.0
    assert parameters_hash("cavity_fem", {**TINY, "grid": 17}) != base
    assert parameters_hash("cavity_fem", {**TINY, "Re": 100.0000001}) != base  # beyond {Re:g}'s 6 digits
    assert parameters_hash("poiseuille_fem", TINY) != base
    assert cache_path("cavity_fem", TINY, "cavity_re100_mesh4.nc").name == f"cavity_re100_mesh4_{base}.nc"


@pytest.mark.parametrize("wrong", [{"Re": 400.0}, {"grid": 17}], ids=["other_Re", "other_grid"])
def test_wrong_file_under_the_expected_name_is_never_used(wrong, capsys):
    problem = LidDrivenCavity(Re=100, reference_mesh=4, reference_grid=9)
    params = {**TINY, **wrong}
    n = params["grid"]
    # under the hashed name of the request, and under the name earlier versions used
    write_dataset(_impostor(params, n), cache_path("cavity_fem", TINY, "cavity_re100_mesh4.nc"))
    write_dataset(_impostor(params, n), cache_path("cavity_fem", TINY, "x.nc").parent / "cavity_re100_mesh4.nc")
    ref = problem.reference(progress=False)
    assert "made with other parameters" in capsys.readouterr().out
    stored = json.loads(ref.attrs["parameters"])
    assert stored["Re"] == 100.0 and stored["grid"] == 9 and ref.attrs["solver"] != "impostor"
    assert ref.sizes == {"y": 9, "x": 9} and np.abs(ref["u"].values).max() <= 1.0 + 1e-12
    assert parameter_mismatch(ref, TINY) == {}
    # the remade file replaced the impostor: read again, it is used as it is
    again = cached_recipe("cavity_fem", TINY, "cavity_re100_mesh4.nc", progress=False)
    np.testing.assert_array_equal(again["u"].values, ref["u"].values)
    assert "remaking" not in capsys.readouterr().out


def test_mismatch_names_each_differing_key():
    ds = _impostor({"Re": 400.0, "mesh": 4}, 3)
    assert parameter_mismatch(ds, TINY) == {"Re": (100.0, 400.0), "grid": (9, "<missing>")}
