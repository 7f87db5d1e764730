"""Model Explorer overlays: valid node-data documents of its format, keyed by the names
its PyTorch adapter gives the nodes of the exported program; when the
``ai-edge-model-explorer`` package is installed, its server starts and serves the graph.

The format is Model Explorer's ``NodeDataProviderData`` (ui/src/components/visualizer/
common/types.ts; the Python side is ``model_explorer.node_data_builder``): an object of
graph id → ``{name?, results: {node id → {value, bgColor?, textColor?}}, thresholds?,
gradient?, hide…?, show…?}``. The checker below holds the documents to exactly that.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from analyzer.analysis import analyze
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.explorer import GRAPH_ID, overlays
from tests.programs import need_module

GRAPH_KEYS = {"name", "results", "thresholds", "gradient", "hideInAggregatedStatsTable",
              "hideInChildrenStatsTable", "hideAggregatedStats", "showExpandedSummaryOnGroupNode",
              "showLabelCountColumnsInChildrenStatsTable"}  # fmt: skip
RESULT_KEYS = {"value", "bgColor", "textColor"}
COLOUR = re.compile(r"^#[0-9a-f]{6}$")


def check_node_data(document: Any) -> None:
    """Fail unless ``document`` is a NodeDataProviderData object (see the module doc)."""
    assert isinstance(document, dict) and document, "graph id → graph data"
    for graph_id, graph in document.items():
        assert isinstance(graph_id, str) and isinstance(graph, dict)
        assert set(graph) <= GRAPH_KEYS and "results" in graph, set(graph) - GRAPH_KEYS
        assert isinstance(graph.get("name", ""), str)
        for key in GRAPH_KEYS - {"name", "results", "thresholds", "gradient"}:
            if key != "hideAggregatedStats":
                assert isinstance(graph.get(key, False), bool), key
        for node_id, result in graph["results"].items():
            assert isinstance(node_id, str) and isinstance(result, dict)
            assert "value" in result and set(result) <= RESULT_KEYS, result
            assert isinstance(result["value"], (str, int, float))
            for key in ("bgColor", "textColor"):
                assert key not in result or COLOUR.match(result[key]), result
    json.dumps(document)  # plain JSON


@pytest.mark.parametrize("name", ["transformer_block", "lstm", "moe_topk", "mamba_block"])
def test_overlays_are_node_data_keyed_by_the_exported_program(name: str) -> None:
    module, args = build_zoo_model(name)
    result = analyze(module, args)
    documents = overlays(result)
    assert sorted(documents) == ["degree", "dependence", "primitive-class", "site-kind"]
    for document in documents.values():
        check_node_data(document)
        assert list(document) == [GRAPH_ID]  # the PyTorch adapter's one graph
    with warnings.catch_warnings():  # torch's notice about the LSTM's flat weights
        warnings.simplefilter("ignore")
        program = torch.export.export(module, args, strict=False)
    exported = {n.name for n in program.graph.nodes if n.op == "call_function"}
    classes = documents["primitive-class"][GRAPH_ID]["results"]
    assert set(classes) == exported  # every op node of the program, and nothing else
    assert {classes[n.name]["value"] for n in result.classes} <= set(result.primitive_counts())
    sites = documents["site-kind"][GRAPH_ID]["results"]
    assert set(sites) == {site.node.name for site in result.sites}
    degrees = documents["degree"][GRAPH_ID]["results"]
    assert degrees[result.traced.output_node.name]["value"].startswith(result.degree)


def test_placeholders_can_take_the_programs_names() -> None:
    module, args = build_zoo_model("mlp")
    result = analyze(module, args)
    program = torch.export.export(module, args, strict=False)
    ours = [n.name for n in result.traced.graph.nodes if n.op == "placeholder"]
    theirs = [n.name for n in program.graph.nodes if n.op == "placeholder"]
    document = overlays(result, dict(zip(ours, theirs, strict=True)))["dependence"]
    assert set(theirs) <= set(document[GRAPH_ID]["results"])


def test_fused_attention_shows_both_of_its_sites() -> None:
    result = analyze(*build_zoo_model("transformer_block"))
    sites = overlays(result)["site-kind"][GRAPH_ID]["results"]
    assert (
        sites["scaled_dot_product_attention"]["value"] == "contraction (scores), contraction (mix)"
    )


def test_report_writes_the_overlays(run_cli, tmp_path: Path) -> None:
    code, _, _ = run_cli("report", "zoo:swiglu_mlp", "--out", str(tmp_path / "r"),
                         "--model-explorer", "-q")  # fmt: skip
    assert code == 0
    folder = tmp_path / "r" / "model-explorer"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["degree.json", "dependence.json", "primitive-class.json", "site-kind.json"]
    for path in folder.iterdir():
        check_node_data(json.loads(path.read_text()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_explore_serves_the_graph_with_the_overlays(tmp_path: Path) -> None:
    need_module("model_explorer")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "explore", "zoo:transformer_block",
         "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://localhost:{port}"
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/check_health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("Model Explorer did not start")
        with urllib.request.urlopen(f"{base}/api/v1/load_graphs_json?graph_index=0") as answer:
            graph = json.load(answer)["graphs"][0]
        ids = {node["id"] for node in graph["nodes"]}
        result = analyze(*build_zoo_model("transformer_block"))
        documents = overlays(result)
        assert set(documents["primitive-class"][GRAPH_ID]["results"]) <= ids
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_explore_announces_the_address_that_loads_the_model(monkeypatch) -> None:
    """The bare server address opens an empty Model Explorer; the one announced carries
    the config (the model and the overlays) in its ``data`` parameter, as Model Explorer's
    own ``ModelExplorerConfig.to_url_param_value`` encodes it. A stand-in package records
    what the tool gives it (the real one is an optional extra)."""
    import sys
    import types
    from urllib.parse import quote

    import torch

    from analyzer import analyze
    from analyzer.render.explorer import start_explorer

    class Config:
        def __init__(self) -> None:
            self.models: list[str] = []
            self.node_data: list[str] = []

        def add_model_from_pytorch(self, name, exported_program, settings=None):
            self.models.append(name)

        def add_node_data_from_path(self, path):
            self.node_data.append(path)

        def to_url_param_value(self) -> str:
            return quote(f'{{"models": {self.models}, "nodeData": {len(self.node_data)}}}')

    served: list[tuple[Config, int]] = []
    fake = types.ModuleType("model_explorer")
    fake.config = Config  # type: ignore[attr-defined]
    fake.visualize_from_config = lambda config, host, port, no_open_in_browser: served.append(
        (config, port)
    )  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "model_explorer", fake)
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU())
    args = (torch.randn(2, 3),)
    result = analyze(net, args, model="net")
    program = torch.export.export(net, args, strict=False)
    said: list[str] = []
    start_explorer(result, program, port=8123, open_browser=False, announce=said.append)
    [(config, port)] = served
    assert port == 8123 and config.node_data and config.models == ["net"]
    assert said == [f"http://localhost:8123/?data={config.to_url_param_value()}"]
