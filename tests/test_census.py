"""``analyzer census``: a dozen representative architectures in the default suite, the pool's
handling of hangs and crashes, resuming, and the written files; the full census is slow."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

from analyzer.census import (
    CATEGORIES,
    SCHEMA,
    CensusOptions,
    census_types,
    load_census,
    run_census,
    summarise,
)
from analyzer.errors import SpecError
from analyzer.progress import RecordingProgress

pytest.importorskip("transformers")

# One of each family the issue names; what each must show (a subset of its primitive
# set, and site kinds it must have).
REPRESENTATIVE = {
    "gpt2": ({"matmul", "normalization", "transpose"}, {"contraction"}),  # text
    "llama": ({"gating", "transpose"}, {"contraction", "gating"}),  # text, SwiGLU
    "vit": ({"matmul", "normalization"}, {"contraction"}),  # vision
    "clip": ({"transpose"}, {"contraction"}),  # two towers
    "whisper": ({"transpose"}, {"contraction"}),  # audio, encoder-decoder
    "audio-spectrogram-transformer": ({"transpose"}, {"contraction"}),  # audio
    "patchtst": ({"transpose"}, {"contraction"}),  # time series
    "t5": ({"relu"}, {"contraction"}),  # encoder-decoder text
    "mixtral": ({"sparsity", "gating"}, {"gating"}),  # mixture of experts
    "mamba": ({"gating"}, {"gating"}),  # state space
    "jamba": ({"sparsity", "gating", "transpose"}, {"contraction", "gating"}),  # hybrid
    "llava": ({"transpose"}, {"contraction"}),  # vision-language, image tokens spliced
}


@pytest.fixture(scope="module")
def census(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, RecordingProgress]:
    out = tmp_path_factory.mktemp("census")
    progress = RecordingProgress()
    document = run_census(
        out, REPRESENTATIVE, CensusOptions(workers=2, timeout=240), progress=progress
    )
    return out, document, progress


def test_every_representative_type_analyses(census) -> None:
    _, document, _ = census
    models = document["models"]
    assert list(models) == list(REPRESENTATIVE)
    failed = {t: r["error"] for t, r in models.items() if r["status"] != "analysed"}
    assert not failed
    for model_type, (classes, kinds) in REPRESENTATIVE.items():
        record = models[model_type]
        assert classes <= set(record["circuit_class"]), model_type
        assert {k for k, n in record["sites"].items() if n} >= kinds, model_type
        assert record["shrunk"], model_type  # every one of them was built small


def test_the_document_follows_its_schema(census) -> None:
    out, document, _ = census
    assert document["schema"] == SCHEMA == "analyzer.census/1"
    assert document["transformers"] and document["options"]["shrink"] == "widths"
    stored = load_census(out / "census.json")
    assert stored == json.loads(json.dumps(document))
    for record in document["models"].values():
        assert record["category"] in CATEGORIES
        assert {"status", "seconds"} <= set(record)


def test_the_summary_recounts_the_records(census) -> None:
    """Oracle: count the per-model records by hand."""
    _, document, _ = census
    records = list(document["models"].values())
    summary = document["summary"]
    assert summary == summarise(records)
    analysed = [r for r in records if r["status"] == "analysed"]
    assert summary["analysed"] == len(analysed)
    assert summary["primitives"]["sparsity"] == sum(
        "sparsity" in r["circuit_class"] for r in analysed
    )
    assert summary["site_kinds"]["gating"] == sum(r["sites"]["gating"] > 0 for r in analysed)
    assert sum(summary["by_category"].values()) == len(records)


def test_csv_and_page(census) -> None:
    out, document, _ = census
    rows = list(csv.DictReader((out / "census.csv").open()))
    assert [r["type"] for r in rows] == list(document["models"])
    assert rows[0]["circuit_class"] == " ".join(document["models"]["gpt2"]["circuit_class"])
    page = (out / "index.html").read_text()
    for model_type, record in document["models"].items():
        assert f'href="{record["report"]}"' in page
        report = out / record["report"]
        assert report.is_file() and model_type in report.read_text()
    assert "<script>" in page and "sortBy" in page and 'id="f-class"' in page
    # the report's style sheet is scoped: the page's body must sit inside that scope
    assert '<body class="analyzer-page"><div class="analyzer-report">' in page


def test_progress_counts_failures_and_time_left(census) -> None:
    _, _, progress = census
    notes = [e[1] for e in progress.events if e[0] == "note"]
    assert len(notes) == len(REPRESENTATIVE)
    assert notes[-1].startswith(f"[{len(REPRESENTATIVE)}/{len(REPRESENTATIVE)}]")
    assert all("failed" in n and "left" in n for n in notes)
    assert ("finish", "census", len(REPRESENTATIVE)) in progress.events


def test_resume_skips_what_is_stored(census, tmp_path: Path) -> None:
    out, document, _ = census
    progress = RecordingProgress()
    again = run_census(out, ["gpt2", "vit"], CensusOptions(), resume=True, progress=progress)
    assert ("start", "census", 0) in progress.events  # nothing left to do
    assert again["models"]["gpt2"]["seconds"] == document["models"]["gpt2"]["seconds"]
    assert (out / "results" / "gpt2.json").is_file()


# --- the pool, with stand-ins for the analysis (importable, so spawn can run them) ---


def standin(model_type: str, options: CensusOptions, out: Path) -> dict:
    """Hangs for bert, dies for gpt2, answers at once otherwise."""
    if model_type == "bert":
        time.sleep(600)
    if model_type == "gpt2":
        os._exit(7)
    return {"type": model_type, "status": "analysed", "category": "clean", "seconds": 0.0,
            "class": "Standin", "circuit_class": ["matmul"], "sites": {}, "degree": "1",
            "device": "meta", "nodes": 1, "unknown_ops": [], "warnings": []}  # fmt: skip


def test_a_hang_or_a_crash_takes_down_its_worker_only(tmp_path: Path) -> None:
    types = ["bert", "gpt2", "vit", "t5", "clip"]
    started = time.perf_counter()
    document = run_census(
        tmp_path, types, CensusOptions(workers=2, timeout=5, reports=False), analyse=standin
    )
    assert time.perf_counter() - started < 120
    models = document["models"]
    assert models["bert"]["category"] == "timeout"
    assert models["gpt2"]["category"] == "crash" and "exit code 7" in models["gpt2"]["error"]
    assert all(models[t]["status"] == "analysed" for t in ("vit", "t5", "clip"))
    assert document["summary"]["by_category"] == {"clean": 3, "timeout": 1, "crash": 1}


def test_unknown_types_are_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="did you mean 'llama'"):
        run_census(tmp_path, ["lama"])
    with pytest.raises(SpecError, match="--workers"):
        run_census(tmp_path, ["llama"], CensusOptions(workers=0))


def test_the_cli_reports_bad_types_with_exit_2(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("census", "--types", "lama", "--out", str(tmp_path))
    assert code == 2 and "did you mean 'llama'" in err


def test_census_types_are_automodel_types() -> None:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    assert census_types() == sorted(MODEL_MAPPING_NAMES) and len(census_types()) > 500


@pytest.mark.slow
def test_the_full_census(tmp_path: Path) -> None:
    """Every AutoModel type: each gets a record, none fails inside the tool, and at least
    95% of those whose default config and model build (with their packages installed)
    are analysed. (The share with no unknown op depends on the registry: see the
    census page's unknown ops.)"""
    document = run_census(tmp_path, None, CensusOptions(workers=2, reports=False))
    summary = document["summary"]
    assert summary["types"] == len(census_types())
    assert "analysis" not in summary["by_category"]
    analysed_share = (
        sum(r["status"] == "analysed" for r in document["models"].values()) / summary["eligible"]
    )
    assert analysed_share >= 0.95, summary["by_category"]
