"""``census --validate``: verdicts from validation documents, the analysis kept when a
validation dies or runs out of time, the page's share and evidence links, and a real run on
three small types (a dozen in the slow suite)."""

from __future__ import annotations

import collections
import csv
import json
import os
import time
from pathlib import Path

import pytest
import torch

from analyzer.census import CensusOptions, run_census
from analyzer.census_validation import (
    CONFIRMED,
    VERDICTS,
    ValidationBudget,
    validate_built,
    verdict_of,
)
from analyzer.render.census import census_page

pytest.importorskip("transformers")


def document(sound=True, agree=True, checked=1, mismatched=0, static="2", empirical="2"):
    return {
        "sound": sound, "agree": agree,
        "graph_fidelity": {"checked": checked, "mismatched": mismatched,
                           "max_relative_difference": 1e-3 if mismatched else 0.0, "note": ""},
        "degree": {"static": static, "empirical": empirical, "node_violations": []},
        "dependence": {"violations": 0, "violation_reasons": {}},
        "missing_products": [], "cross_entry": {"contradicts_claim": False},
        "products": [{"confirmed": agree}],
    }  # fmt: skip


def test_verdicts_follow_the_validation_document() -> None:
    assert verdict_of(document())[0] == "agree"
    assert verdict_of(document(agree=False, empirical="1"))[0] == "over-approximates"
    assert verdict_of(document(sound=False, agree=False, static="1", empirical="2")) == (
        "disagrees",
        "output degree measured 2, claimed 1",
    )
    found = verdict_of(document(sound=False, agree=False, mismatched=1))
    assert found[0] == "disagrees" and "graph differs from the model" in found[1]


@pytest.mark.parametrize("agree", [True, False])
def test_a_validation_without_its_graph_check_is_never_plain_agree(agree: bool) -> None:
    verdict, _ = verdict_of(document(agree=agree, checked=0))
    assert verdict.endswith("graph unchecked") and verdict not in CONFIRMED
    assert verdict in VERDICTS


def test_the_budget_stops_a_validation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import analyzer.empirical.validate as module
    from analyzer.frontend.hf import build_hf_model

    def slow(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(module, "validate", slow)
    built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8)
    started = time.perf_counter()
    entry = validate_built(built, "bert", ValidationBudget(seconds=0.5), tmp_path / "v.json")
    assert entry["verdict"] == "timeout" and time.perf_counter() - started < 10
    assert not (tmp_path / "v.json").exists()


# --- a validation that takes its worker down keeps the type's analysis -----------------


def analysed(model_type: str) -> dict:
    return {"type": model_type, "status": "analysed", "category": "clean", "seconds": 0.5,
            "class": "Standin", "circuit_class": ["matmul"], "sites": {"contraction": 1},
            "degree": "2", "device": "meta", "nodes": 1, "unknown_ops": [],
            "warnings": []}  # fmt: skip


def dies_while_validating(model_type: str, options: CensusOptions, out: Path) -> dict:
    """Analyses, leaves its partial record as analyse_type does, then dies or hangs."""
    from analyzer.output import write_json_atomic

    record = analysed(model_type)
    write_json_atomic(out / "results" / f"{model_type}.partial.json", record)
    if model_type == "bert":
        time.sleep(600)
    if model_type == "gpt2":
        os._exit(9)
    record["validation"] = {"verdict": "agree", "reason": "", "seconds": 0.1}
    return record


def test_a_crash_or_timeout_while_validating_keeps_the_analysis(tmp_path: Path) -> None:
    options = CensusOptions(
        workers=2, timeout=2, reports=False, validate=ValidationBudget(seconds=1)
    )
    assert options.deadline == 2 + 1 + 30
    options = CensusOptions(workers=2, timeout=1, reports=False)  # no slack: the hang is killed
    document = run_census(tmp_path, ["bert", "gpt2", "vit"], options, analyse=dies_while_validating)
    models = document["models"]
    assert models["bert"]["status"] == "analysed" and models["bert"]["validation"]["verdict"] == (
        "timeout"
    )
    assert models["gpt2"]["status"] == "analysed"
    assert models["gpt2"]["validation"]["verdict"] == "crash"
    assert "exit code 9" in models["gpt2"]["validation"]["reason"]
    assert models["vit"]["validation"]["verdict"] == "agree"
    assert not list((tmp_path / "results").glob("*.partial.json"))
    assert document["summary"]["validation"]["by_verdict"] == {
        "agree": 1, "timeout": 1, "crash": 1,
    }  # fmt: skip


def test_the_page_links_a_disagreement_to_its_evidence() -> None:
    record = {**analysed("llama"), "validation": {
        "verdict": "disagrees", "reason": "output degree measured 3, claimed 2",
        "seconds": 1.0, "evidence": "models/llama/validation.json"}}  # fmt: skip
    other = {**analysed("bert"), "validation": {"verdict": "agree", "seconds": 1.0}}
    from analyzer.census import census_document

    page = census_page(
        census_document([record, other], CensusOptions(validate=ValidationBudget()), 1.0)
    )
    assert '<a href="models/llama/validation.json">disagrees</a>' in page
    assert "output degree measured 3, claimed 2" in page
    assert "50.0%" in page  # one of the two confirmed
    assert 'data-verdict="disagrees"' in page and 'id="f-verdict"' in page


# --- a real run ----------------------------------------------------------------------

FAST = ["gpt2", "bert", "vit"]
DOZEN = [*FAST, "llama", "clip", "whisper", "mixtral", "mamba", "roformer", "openai-gpt",
         "nomic_bert", "swinv2", "t5"]  # fmt: skip


def check_census(out: Path, document: dict, types: list[str]) -> None:
    """Oracle: every verdict is recomputed from the evidence written beside the report."""
    models = document["models"]
    for model_type in types:
        record = models[model_type]
        assert record["status"] == "analysed", record.get("error")
        validation = record["validation"]
        assert validation["verdict"] in VERDICTS and validation["seconds"] > 0
        if "evidence" in validation:
            evidence = json.loads((out / validation["evidence"]).read_text())
            assert verdict_of(evidence)[0] == validation["verdict"]
            assert evidence["model"] == f"hf:{model_type}"
    rows = {r["type"]: r for r in csv.DictReader((out / "census.csv").open())}
    assert all(rows[t]["validation"] == models[t]["validation"]["verdict"] for t in types)
    summary = document["summary"]["validation"]
    assert summary["validated"] == len(types)
    assert sum(summary["by_verdict"].values()) == len(types)
    page = (out / "index.html").read_text()
    assert f"{100 * summary['confirmed_share']:.1f}%" in page


def test_census_validates_three_small_types(tmp_path: Path) -> None:
    options = CensusOptions(workers=2, timeout=240, validate=ValidationBudget(samples=2))
    document = run_census(tmp_path, FAST, options)
    check_census(tmp_path, document, FAST)
    verdicts = {t: document["models"][t]["validation"]["verdict"] for t in FAST}
    assert verdicts == dict.fromkeys(FAST, "agree")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 10 min on two idle cores: above pytest's 600 s default
def test_census_validates_a_dozen_types(tmp_path: Path) -> None:
    options = CensusOptions(
        workers=2, timeout=300, validate=ValidationBudget(samples=4, seconds=300)
    )
    document = run_census(tmp_path, DOZEN, options)
    check_census(tmp_path, document, DOZEN)
    disagree = {
        t: r["validation"]["reason"]
        for t, r in document["models"].items()
        if r["validation"]["verdict"] == "disagrees"
    }
    assert not disagree


def test_the_deadline_is_not_swallowed_by_a_broad_except() -> None:
    from analyzer.census_validation import _Deadline, deadline

    started = time.perf_counter()
    with pytest.raises(_Deadline), deadline(0.3):
        try:
            time.sleep(5)
        except Exception:  # what a fallback does: must not end the deadline
            pass
        time.sleep(5)
    assert time.perf_counter() - started < 3


class Float32Residual(torch.nn.Module):
    """What float32 rounding leaves of x, scaled up: zero in exact arithmetic (T5LayerNorm
    computes its variance in float32 alike, whatever the input's dtype)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1e4 * (x.to(torch.float32).to(x.dtype) - x)


def test_a_float32_cast_in_the_model_is_not_a_graph_mismatch() -> None:
    """The graph's float32 casts run in float64, and so do the model's own when fidelity
    runs it (shrunk t5's T5LayerNorm differed by 1e-5 to 7e-5 before, above 1e-6)."""
    from analyzer.empirical.validate import validate

    report = validate(Float32Residual(), (torch.randn(2, 16),), samples=2, device="cpu")
    assert report.fidelity.checked and not report.fidelity.mismatched, report.fidelity


@pytest.mark.slow
def test_xmod_validates_without_a_disagreement(tmp_path: Path) -> None:
    """xmod looks up token_type_embeddings at token_type_ids gathered at input-derived
    positions (gather → expand → embedding): once a disagreement (the expand carried the
    gather's 'continuous' to the embedding's indices, which made the embedding 'discrete'),
    fixed by the rule that an integer result of data movement is discrete."""
    options = CensusOptions(workers=1, timeout=300, validate=ValidationBudget(seconds=300))
    document = run_census(tmp_path, ["xmod"], options)
    assert document["models"]["xmod"]["validation"]["verdict"] in CONFIRMED


class GatheredTypes(torch.nn.Module):
    """xmod's token types without the expand: the gathered ids go straight to the lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("types", torch.zeros(1, 16, dtype=torch.long))
        self.word = torch.nn.Embedding(100, 8)
        self.kind = torch.nn.Embedding(4, 8)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.cumsum(ids.ne(1).long(), 1) - 1
        return self.word(ids) + self.kind(self.types.gather(1, positions))


def test_a_lookup_at_gathered_integer_ids_is_a_source() -> None:
    """An integer buffer gathered at input-derived positions holds whole numbers: discrete
    (it used to be called a continuous source, and the embedding read at it discrete)."""
    from analyzer.empirical.validate import validate

    ids = torch.randint(2, 100, (1, 16))
    report = validate(GatheredTypes(), (ids,), samples=2, device="cpu")
    assert report.sound, report.violation_reasons


# --- a type whose real model fails on the census's inputs gets no clean row -------------


@pytest.fixture
def no_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Video-LLaVA without its image placeholder tokens: it traces on the meta device (the
    count check is skipped there) but the real model refuses the inputs."""
    import analyzer.frontend.hf_probe as probe

    monkeypatch.setattr(probe, "with_placeholder_tokens", lambda plan, *_: plan)


@pytest.mark.parametrize("validated", [False, True])
def test_a_model_that_cannot_run_its_inputs_is_a_forward_failure(
    no_placeholders: None, validated: bool
) -> None:
    from analyzer.census import analyse_type
    from analyzer.census_document import summarise

    budget = ValidationBudget(samples=1, seconds=120) if validated else None
    record = analyse_type("video_llava", CensusOptions(validate=budget))
    assert (record["status"], record["category"]) == ("failed", "forward"), record
    assert "Image features and image tokens do not match" in record["error"]
    assert record["static_category"] == "clean"  # what the trace alone would have said
    if validated:
        assert record["validation"]["verdict"] == "not checked"
        assert record["validation"]["fails_on_inputs"]
    summary = summarise([record])
    assert summary["clean"] == 0 and summary["by_category"] == {"forward": 1}


def test_a_model_that_runs_its_inputs_stays_clean_and_says_it_ran() -> None:
    from analyzer.census import analyse_type

    record = analyse_type("video_llava", CensusOptions())
    assert (record["status"], record["category"]) == ("analysed", "clean")
    assert record["real_run"] == "ran on the cpu"


def test_a_validation_of_another_graph_than_the_analysed_one_confirms_nothing() -> None:
    """validate traces its own copy with real weights; where that graph holds other ops
    than the one the census analysed (another path, another implementation of an op),
    its claims were checked on another computation."""
    from analyzer.census_validation import graph_ops
    from analyzer.frontend.hf import build_hf_model
    from analyzer.frontend.tracing import trace

    built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8)
    analysed = graph_ops(trace(built.module, (), example_kwargs=built.inputs).graph)
    budget = ValidationBudget(samples=1, seconds=120)
    same = validate_built(built, "bert", budget, None, analysed)
    assert same["verdict"] in CONFIRMED, same
    other = analysed + collections.Counter({"transformers.grouped_mm_fallback.default": 1})
    entry = validate_built(built, "bert", budget, None, other)
    assert entry["verdict"] == "not checked"
    assert "only analysed: transformers.grouped_mm_fallback.default ×1" in entry["reason"]
