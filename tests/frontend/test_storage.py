"""Stored traces: round trips through JSON, validation of bad files, the kept fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from analyzer.analysis import analyze_traced
from analyzer.errors import SpecError
from analyzer.frontend.storage import SCHEMA, load_trace, save_trace
from analyzer.frontend.tracing import trace
from analyzer.frontend.zoo import ZOO, build_zoo_model

TRACES = Path(__file__).resolve().parents[2] / "traces"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_round_trip_gives_the_same_analysis(name: str, tmp_path: Path) -> None:
    traced = trace(*build_zoo_model(name), model=f"zoo:{name}")
    direct = analyze_traced(traced).to_json()
    save_trace(traced, tmp_path / "t.json")
    again = analyze_traced(load_trace(tmp_path / "t.json")).to_json()
    assert again["frontend"] == "trace"
    direct.pop("frontend"), again.pop("frontend")
    assert again == direct


def test_trace_document_is_plain_json_with_versions(tmp_path: Path) -> None:
    save_trace(trace(*build_zoo_model("mlp"), model="zoo:mlp"), tmp_path / "t.json")
    document = json.loads((tmp_path / "t.json").read_text())
    assert document["graph"]["schema"] == SCHEMA
    assert {"analyzer", "torch"} <= set(document["graph"]["versions"])
    linear = next(n for n in document["nodes"] if n["id"] == "linear")
    assert linear["target"] == "aten.linear" and linear["module"] == "layers.0"
    assert linear["args"][0] == {"node": "x"} and linear["shape"] == [2, 6, 32]
    assert {"source", "target"} <= set(document["edges"][0])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "does not exist"),
        ('{"graph": {"schema": "analyzer.trace/1"}, "nodes": [', "not valid JSON"),
        ('{"graph": {"schema": "something/9"}, "nodes": []}', "not an analyzer trace"),
        ("[1, 2, 3]", "not an analyzer trace"),
        ('{"graph": {"schema": "analyzer.trace/1", "model": "m"}, "nodes": [{"id": "x"}]}',
         "damaged"),
    ],
)  # fmt: skip
def test_bad_trace_files_are_spec_errors_naming_the_file(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecError, match=needle) as caught:
        load_trace(path)
    assert "bad.json" in str(caught.value)


def test_cli_trace_then_analyze(run_cli, tmp_path: Path) -> None:
    stored = tmp_path / "bilinear.json"
    assert run_cli("trace", "zoo:bilinear", "--out", str(stored))[0] == 0
    direct_json, again_json = tmp_path / "a.json", tmp_path / "b.json"
    run_cli("analyze", "zoo:bilinear", "--json", str(direct_json), "--quiet")
    code, stdout, _ = run_cli("analyze", str(stored), "--json", str(again_json))
    assert code == 0 and "frontend trace" in stdout
    direct, again = json.loads(direct_json.read_text()), json.loads(again_json.read_text())
    direct.pop("frontend"), again.pop("frontend")
    # the command line that made each is provenance: `trace …` for the stored one
    assert again["metadata"].pop("command").startswith("analyzer trace zoo:bilinear")
    assert direct["metadata"].pop("command").startswith("analyzer analyze zoo:bilinear")
    assert direct == again


def test_cli_bad_trace_exits_2(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text('{"nodes": [')
    code, _, stderr = run_cli("analyze", str(path))
    assert code == 2 and "truncated.json" in stderr and "Traceback" not in stderr


def test_graphml_export_reads_back(run_cli, tmp_path: Path) -> None:
    import networkx as nx

    out = tmp_path / "g.graphml"
    assert run_cli("analyze", "zoo:swiglu_mlp", "--graphml", str(out), "--quiet")[0] == 0
    graph = nx.read_graphml(out)
    sites = [n for n, d in graph.nodes(data=True) if d.get("site") == "gating"]
    assert sites == ["mul"] and graph.nodes["mul"]["primitive"] == "gating"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_kept_zoo_traces_reanalyse_to_the_verdicts(name: str) -> None:
    result = analyze_traced(load_trace(TRACES / f"{name}.json"))
    verdict = ZOO[name].verdict
    assert tuple(result.circuit_class) == verdict.circuit_class
    assert result.degree == verdict.degree
    assert result.unknown_ops == []  # every op in traces/ is classified


class UpperCase(torch.nn.Module):
    def forward(self, X: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return X * x


def test_any_placeholder_name_round_trips(tmp_path) -> None:
    """fx would rename `X` to `x` (and clash with the real `x`): names are kept exactly."""
    traced = trace(UpperCase(), (torch.randn(2), torch.randn(2)))
    save_trace(traced, tmp_path / "names.json")
    loaded = load_trace(tmp_path / "names.json")
    assert [n.name for n in loaded.graph.nodes] == [n.name for n in traced.graph.nodes]
    direct, stored = analyze_traced(traced).to_json(), analyze_traced(loaded).to_json()
    assert direct["input_products"] == stored["input_products"]
