"""Bundled configs, recipes and published tables are found inside the package, by name."""

import os
from pathlib import Path

import numpy as np
import pytest

from sciflow.data.recipes import RECIPES, load_recipe
from sciflow.errors import SciflowError
from sciflow.resources import bundled_configs, bundled_recipes, reference_table, reference_tables
from sciflow.spec import load_spec

PACKAGE = Path(__file__).resolve().parents[1] / "sciflow"
CHECKOUT = Path(__file__).resolve().parents[1]


def test_lookup_finds_every_bundled_file():
    folder = PACKAGE / "resources"
    assert set(bundled_configs()) == {p.stem for p in (folder / "configs").glob("*.yaml")}
    assert set(bundled_recipes()) == {p.stem for p in (folder / "datasets").glob("*.yaml")}
    assert set(reference_tables()) == {p.stem for p in (folder / "datasets" / "reference").glob("*.csv")}
    assert {"cavity_re100_pinn", "ns2d_nu1e-5_dymixop", "channel_ifactformer_m"} <= set(bundled_configs())
    assert {"cavity", "ns2d_nu1e-5_cpu", "channel_retau180_cpu"} <= set(bundled_recipes())
    for path in (*bundled_configs().values(), *bundled_recipes().values(), *reference_tables().values()):
        assert path.is_relative_to(PACKAGE)


def test_every_bundled_config_validates_by_name():
    for name, path in bundled_configs().items():
        spec = load_spec(name)
        assert spec == load_spec(path)
        dataset = spec.section("problem").get("dataset")
        if dataset is not None:  # operator problems name a bundled recipe
            assert dataset in bundled_recipes(), (name, dataset)


def test_every_bundled_recipe_names_a_registered_recipe():
    registered = set(RECIPES.names())
    for name in bundled_recipes():
        recipe = load_recipe(name)
        assert recipe["recipe"] in registered, (name, recipe["recipe"])
        assert recipe["file"].endswith(".nc")


def test_published_tables_read_from_the_package():
    from sciflow.cfd.fem_cases import ghia_centerlines
    from sciflow.evaluation.turbulence import load_mkm
    from sciflow.problems.reference_data import read_table

    for re in (100, 400, 1000):
        g = ghia_centerlines(re)
        assert len(g["y"]) == len(g["x"]) == 17
        assert g["u"][-1] == 1.0 and g["u"][0] == 0.0  # lid and bottom wall rows of Ghia's Table I
    mkm = load_mkm()
    assert np.all(np.diff(mkm["y_plus"]) > 0) and mkm["U_plus"].max() > 15
    cols, source = read_table("dfg_cylinder_2d1")
    assert "Sch" in source and len(next(iter(cols.values()))) > 0
    with pytest.raises(SciflowError, match="no published reference table 'ghia1982_cavity_u_vertical_centerline_re200'"):
        reference_table("ghia1982_cavity_u_vertical_centerline_re200")


def test_an_existing_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = bundled_configs()["cavity_re100_pinn"].read_text().replace("name: cavity_re100_pinn", "name: local_copy")
    (tmp_path / "cavity_re100_pinn.yaml").write_text(text)
    assert load_spec("cavity_re100_pinn.yaml").name == "local_copy"
    assert load_spec("cavity_re100_pinn").name == "cavity_re100_pinn"


def test_unknown_names_give_one_error_with_close_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SciflowError) as exc:
        load_spec("cavity_re10_pinn")
    assert str(exc.value) == ("spec file not found: cavity_re10_pinn (neither a file nor a bundled config; close names: "
                              "cavity_re100_pinn, cavity_re1000_pinn, cavity_re3200_pinn, cavity_re100_pinn_long, "
                              "cavity_re1000_lbfgs_pinn; "
                              "`sciflow list` shows them all)")
    with pytest.raises(SciflowError, match=r"configs/cavity_re100_pinn.yaml .*a bundled config has that name: "
                                           r"use 'cavity_re100_pinn'"):
        load_spec("configs/cavity_re100_pinn.yaml")  # outside a checkout: no configs/ folder here
    with pytest.raises(SciflowError, match="recipe file not found: ns2d_nu1e5_cpu .*close names: ns2d_nu1e-5_cpu"):
        load_recipe("ns2d_nu1e5_cpu")


def test_checkout_folders_are_links_to_the_bundled_ones():
    """In a source checkout, configs/ and datasets/ are the package's folders (one copy of each file)."""
    for name in ("configs", "datasets"):
        assert (CHECKOUT / name).is_symlink()
        assert os.path.samefile(CHECKOUT / name, PACKAGE / "resources" / name)
