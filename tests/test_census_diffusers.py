"""The census over diffusers: a handful of classes through the command line, into the
same document, table and page as the transformers census; the full one is slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.census import CensusOptions, census_types, run_census
from analyzer.census_diffusers import analyse_any, diffusers_types, source_types
from analyzer.errors import SpecError

pytest.importorskip("diffusers")

HANDFUL = ["AutoencoderKL", "DiTTransformer2DModel", "UNet2DModel"]


def test_a_handful_of_diffusers_classes(run_cli: Any, tmp_path: Path) -> None:
    code, out, err = run_cli(
        "census", "--source", "diffusers", "--types", ",".join(HANDFUL), "--out",
        str(tmp_path), "--no-reports",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads((tmp_path / "census.json").read_text())
    models = document["models"]
    assert sorted(models) == [f"diffusers:{name}" for name in HANDFUL]
    assert all(m["category"] == "clean" for m in models.values()), models
    assert models["diffusers:DiTTransformer2DModel"]["shrunk"] == {"num_layers": 2}
    assert models["diffusers:DiTTransformer2DModel"]["shrink"] == "layers"  # the page says so
    # attention in each: the latent meets itself in a contraction
    assert all(m["sites"]["contraction"] > 0 for m in models.values())
    assert "diffusers" in document and "3 of 3 types analysed" in out
    page = (tmp_path / "index.html").read_text()
    assert "The atlas of diffusers model classes (3 types), analysed" in page
    assert "DiTTransformer2DModel" in page
    assert "diffusers:UNet2DModel" in (tmp_path / "census.csv").read_text()


def test_sources_name_their_classes_and_refuse_unknown_ones(run_cli: Any, tmp_path: Path) -> None:
    assert source_types("transformers") is None  # the census's own default
    assert source_types("diffusers", ["UNet2DModel"]) == ["diffusers:UNet2DModel"]
    everything = source_types("all")
    assert everything == census_types() + diffusers_types() and len(diffusers_types()) > 100
    with pytest.raises(SpecError, match="UNet2DModel"):
        source_types("diffusers", ["UNet2DModle"])
    code, _, err = run_cli(
        "census", "--source", "diffusers", "--types", "AutoencoderKLL", "--out", str(tmp_path)
    )
    assert code == 2 and "AutoencoderKL" in err


@pytest.mark.slow
def test_the_full_diffusers_census(tmp_path: Path) -> None:
    """Every diffusers model class gets a record, and none fails inside the tool's
    analysis."""
    types = diffusers_types()
    document = run_census(
        tmp_path, types, CensusOptions(workers=2, reports=False), analyse=analyse_any
    )
    summary = document["summary"]
    assert summary["types"] == len(types)
    assert "analysis" not in summary["by_category"], summary["by_category"]
    assert summary["clean"] >= 0.5 * summary["eligible"], summary["by_category"]
