"""``analyzer cost``, ``analyzer expand`` and ``report --dim`` on the command line: the
output a reader sees, the JSON documents, and every bad input (exit 2, a message that
says what to do, no file left behind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy

from analyzer.symbolic.symbols import symbols_of
from tests.programs import need_program


def test_cost_prints_formulas_table_and_writes_json_and_svg(run_cli, tmp_path: Path) -> None:
    out, svg = tmp_path / "cost.json", tmp_path / "cost.svg"
    code, stdout, stderr = run_cli(
        "cost", "zoo:transformer_block", "--dim", "seq=N", "--solve", "--json", str(out),
        "--svg", str(svg),
    )  # fmt: skip
    assert code == 0, stderr
    assert "dynamic contraction   64·N²" in stdout
    assert "static contraction    4096·N" in stdout
    assert "seq: N = 64" in stdout
    assert "dynamic share" in stdout and "4096" in stdout  # the table
    document = json.loads(out.read_text())
    assert document["schema"] == "analyzer.cost/1" and document["dims"] == {"seq": "N"}
    assert set(document) >= {
        "schema", "model", "dims", "total", "by_class", "by_site_kind", "static_contraction",
        "dynamic_contraction", "crossover", "per_node",
    }  # fmt: skip
    names = symbols_of(["N"])
    assert sympy.sympify(document["dynamic_contraction"], locals=names) == 64 * names["N"] ** 2
    picture = svg.read_text()
    assert picture.startswith("<svg") and "crossover" in picture and "static contraction" in picture


def test_report_with_a_dimension_has_a_cost_section(run_cli, tmp_path: Path) -> None:
    need_program("dot")
    code, _, stderr = run_cli(
        "report", "zoo:hopfield", "--dim", "seq=N", "--out", str(tmp_path / "r")
    )
    assert code == 0, stderr
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<h2>Cost</h2>" in page and "crossover" in page
    assert (tmp_path / "r" / "cost.svg").read_text().startswith("<svg")
    assert json.loads((tmp_path / "r" / "cost.json").read_text())["schema"] == "analyzer.cost/1"
    assert "## Cost" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cost", "zoo:mlp"], "give at least one --dim"),
        (["cost", "zoo:mlp", "--dim", "seq"], "malformed --dim 'seq'"),
        (["cost", "zoo:mlp", "--dim", "seq=N:9..3"], "1 <= LOW <= HIGH"),
        (["cost", "zoo:mlp", "--dim", "height=H"], "no input has a 'height' axis"),
        (["cost", "zoo:convnet", "--dim", "seq=N"], "name the axis instead"),
        (["cost", "zoo:mlp", "--dim", "y:1=N"], "no input is called 'y'"),
        (["cost", "zoo:mlp", "--dim", "x:5=N"], "has 3 axes"),
        (["cost", "zoo:mlp", "--dim", "seq=N", "--dim", "seq=M"], "given twice"),
        (["cost", "zoo:mlp", "--dim", "seq=N", "--frontend", "fx"], "need export"),
        (["cost", "zoo:mlp_mixer", "--dim", "seq=N"], "fixes seq (N) to 6"),
        (["cost", "zoo:mlp", "--dim", "seq=N", "--nodes", "-1"], "--nodes -1"),
    ],
)
def test_cost_bad_input_exits_2_and_writes_nothing(
    run_cli, tmp_path: Path, argv: list[str], message: str
) -> None:
    out = tmp_path / "cost.json"
    code, stdout, stderr = run_cli(*argv, "--json", str(out))
    assert code == 2, stderr
    assert message in " ".join(stderr.split()), stderr
    assert not out.exists() and stdout == ""


def test_cost_refuses_a_stored_trace_and_an_unwritable_output(run_cli, tmp_path: Path) -> None:
    trace = tmp_path / "mlp.json"
    assert run_cli("trace", "zoo:mlp", "--out", str(trace))[0] == 0
    code, _, stderr = run_cli("cost", str(trace), "--dim", "seq=N")
    assert code == 2 and "stored trace has fixed shapes" in stderr
    code, _, stderr = run_cli(
        "cost", "zoo:mlp", "--dim", "seq=N", "--json", str(tmp_path / "missing" / "c.json")
    )
    assert code == 2 and "does not exist" in " ".join(stderr.split())  # wrapped by path length


def test_cost_suggests_a_range_for_a_bounded_hf_dimension(run_cli, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    out = tmp_path / "cost.json"
    code, _, stderr = run_cli(
        "cost", "hf:bert", "--config", "num_hidden_layers=1", "--config", "hidden_size=32",
        "--config", "intermediate_size=64", "--config", "num_attention_heads=2",
        "--dim", "seq=N", "--json", str(out),
    )  # fmt: skip
    assert code == 2
    assert "--dim seq=N:1..512" in stderr and "N <= 512" in stderr
    assert not out.exists()


def test_expand_prints_the_verdict_and_writes_json(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "expand.json"
    code, stdout, stderr = run_cli(
        "expand", "zoo:linear_attention", "--input", "float32[1,1,16]", "--show", "1",
        "--json", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    assert "degree                3   (static pass: 3, agrees)" in stdout
    assert "outputs               16 entries (shapes [1, 1, 16]): polynomial" in stdout
    assert "y[0] = " in stdout and "y[1] = " not in stdout
    document = json.loads(out.read_text())
    assert document["schema"] == "analyzer.expand/1" and len(document["outputs"]) == 16
    assert document["degree"] == "3" and document["static_degree"] == "3"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["expand", "zoo:bilinear", "--max-inputs", "100"], "192 entries (x [2, 6, 16])"),
        (["expand", "zoo:linear_attention", "--max-terms", "1000"], "past the limit of 1,000"),
        (["expand", "zoo:moe_topk", "--input", "float32[1,1,16]"], "no rule for aten.topk"),
        (["expand", "zoo:mlp", "--device", "meta"], "--device meta holds no weights"),
        (["expand", "zoo:mlp", "--show", "-1"], "--show -1"),
        (["expand", "zoo:mlp", "--max-terms", "0"], "at least 1"),
    ],
)
def test_expand_bad_input_exits_2_and_writes_nothing(
    run_cli, tmp_path: Path, argv: list[str], message: str
) -> None:
    out = tmp_path / "expand.json"
    code, stdout, stderr = run_cli(*argv, "--json", str(out))
    assert code == 2, stderr
    assert message in " ".join(stderr.split()), stderr
    assert not out.exists() and stdout == ""


def test_expand_refuses_a_stored_trace(run_cli, tmp_path: Path) -> None:
    trace = tmp_path / "mlp.json"
    assert run_cli("trace", "zoo:mlp", "--out", str(trace))[0] == 0
    code, _, stderr = run_cli("expand", str(trace))
    assert code == 2 and "no weights to expand" in stderr
