"""The command line: summaries, JSON, and every bad-input case of issue 2."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD_FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 8), nn.Linear(64, 8)

        def forward(self, x):
            return self.a(x) * torch.sigmoid(self.b(x))

    def build():
        return Net(), (torch.randn(2, 16, 64),)

    def broken():
        class Broken(nn.Module):
            def forward(self, x):
                raise ValueError("the model's own complaint")
        return Broken(), (torch.randn(2, 3),)

    instance = Net()
    not_a_model = 42
    """
)


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_models.py"
    path.write_text(GOOD_FACTORY)
    return path


def test_analyze_zoo_prints_summary_and_writes_json(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, stdout, _ = run_cli("analyze", "zoo:transformer_block", "--json", str(out))
    assert code == 0
    assert "circuit class  matmul, normalization, relu, transpose" in stdout
    assert "contraction" in stdout and "self_attn" in stdout
    document = json.loads(out.read_text())
    assert (
        document["schema"] == "analyzer.analysis/1" and document["model"] == "zoo:transformer_block"
    )
    required = {"schema", "model", "frontend", "graph", "primitives", "circuit_class",
                "input_products", "dynamic_transposes", "degree", "piecewise_affine",
                "unknown_ops", "warnings"}  # fmt: skip
    assert required <= set(document)
    site = document["input_products"][0]
    assert {"node", "op", "kind", "module", "operands", "paths"} <= set(site)


def test_factory_from_file(run_cli, models_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    code, stdout, _ = run_cli("analyze", f"{models_file}:build", "--json", str(out))
    assert code == 0 and "gating" in stdout
    assert json.loads(out.read_text())["circuit_class"] == ["gating", "matmul", "nonlinearity"]


def test_class_and_instance_with_input_spec(run_cli, models_file: Path) -> None:
    for name in ("Net", "instance"):
        code, stdout, _ = run_cli("analyze", f"{models_file}:{name}", "--input", "float32[2,16,64]")
        assert code == 0 and "gating" in stdout


def test_importable_factory(run_cli, models_file: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(models_file.parent))
    code, stdout, _ = run_cli("analyze", "my_models:build", "--quiet")
    assert code == 0 and stdout == ""


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["analyze", "missing_file.py:build"], "missing_file.py"),
        (["analyze", "{file}:nothing_here"], "nothing_here"),
        (["analyze", "{file}:not_a_model"], "not_a_model"),
        (["analyze", "{file}:Net"], "--input"),
        (["analyze", "no_such_package_xyz.models:build"], "no_such_package_xyz"),
        (["analyze", "hf:not_a_model_type"], "not_a_model_type"),
        (["analyze", "hf:llama", "--config", "num_hidden_layers"], "num_hidden_layers"),
        (["analyze", "hf:llama", "--config", "no_such_field=3"], "no_such_field"),
        (["analyze", "{file}:Net", "--input", "float32[2,x]"], "float32[2,x]"),
        (["analyze", "{file}:Net", "--input", "floaty[2]"], "floaty"),
        (["analyze", "zoo:nope"], "nope"),
        (["analyze", "nospec"], "nospec"),
    ],
)
def test_bad_input_exits_2_naming_the_value(
    run_cli, models_file: Path, tmp_path: Path, argv: list[str], needle: str
) -> None:
    out = tmp_path / "never.json"
    argv = [a.replace("{file}", str(models_file)) for a in argv] + ["--json", str(out)]
    code, _stdout, stderr = run_cli(*argv)
    assert code == 2
    assert needle in stderr and "Traceback" not in stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_models.py"]  # no temp files


def test_forward_that_raises_exits_3_with_its_message(
    run_cli, models_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never.json"
    code, _, stderr = run_cli("analyze", f"{models_file}:broken", "--json", str(out))
    assert code == 3
    assert "the model's own complaint" in stderr
    assert "export:" in stderr and "real:" in stderr  # every frontend's reason
    assert not out.exists()


def test_debug_shows_the_traceback(models_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "--debug", "analyze", f"{models_file}:broken"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_zoo_lists_models(run_cli) -> None:
    code, stdout, _ = run_cli("zoo")
    assert code == 0 and "linear_attention" in stdout and "hypernetwork" in stdout


def test_zoo_out_writes_reports(run_cli, tmp_path: Path) -> None:
    code, _, stderr = run_cli("zoo", "--out", str(tmp_path / "reports"))
    assert code == 0 and "[14/14]" in stderr
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "| [mlp](mlp/index.html) | matmul, relu |" in index
    assert 'href="lstm/index.html"' in (tmp_path / "reports" / "index.html").read_text()
    lstm = json.loads((tmp_path / "reports" / "lstm" / "analysis.json").read_text())
    assert lstm["circuit_class"] == ["gating", "matmul", "nonlinearity"]
