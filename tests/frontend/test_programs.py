"""Saved programs (``.pt2``) analyse as the model they were exported from, with their
module paths and stored inputs; pickled modules are refused unless trusted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analyzer.analysis import analyze


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Linear(6, 8)
        self.gate = nn.Sequential(nn.Linear(6, 8), nn.Sigmoid())
        self.down = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.up(x) * self.gate(x))


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Gated()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def saved_program(tmp_path: Path, dynamic: bool = False) -> tuple[Path, nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model, x = Outer().eval(), torch.randn(2, 6)
    path = tmp_path / "gated.pt2"
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    torch.export.save(torch.export.export(model, (x,), dynamic_shapes=shapes), str(path))
    return path, model, x


def test_a_saved_program_analyses_as_its_model(run_cli: Any, tmp_path: Path) -> None:
    path, model, x = saved_program(tmp_path)
    out = tmp_path / "analysis.json"
    code, _, err = run_cli("-q", "analyze", str(path), "--json", str(out))
    assert code == 0, err
    found = json.loads(out.read_text())
    expected = analyze(model, (x,)).to_json()
    sites = [(s["kind"], s["module"]) for s in found["input_products"]]
    assert sites == [(s["kind"], s["module"]) for s in expected["input_products"]]
    assert sites == [("gating", "block")]  # up(x) * gate(x), in the module that does it
    assert found["primitives"] == expected["primitives"] and found["degree"] == expected["degree"]
    assert found["metadata"]["parameters_by_module"] == {
        "block": 139,
        "block.down": 27,
        "block.gate": 56,
        "block.gate.0": 56,
        "block.up": 56,
    }
    assert found["metadata"]["inputs"][0]["shape"] == [2, 6]  # the stored input
    code, _, err = run_cli("analyze", str(path), "--input", "float32[5,6]")
    assert code == 2 and "[2, 6]" in err and "dynamic" in err  # exported with fixed shapes


def test_inputs_replace_the_stored_ones_along_dynamic_dimensions(
    run_cli: Any, tmp_path: Path
) -> None:
    path, _, _ = saved_program(tmp_path, dynamic=True)
    out = tmp_path / "analysis.json"
    code, _, err = run_cli("-q", "analyze", str(path), "--input", "float32[5,6]", "--json",
                           str(out))  # fmt: skip
    assert code == 0, err
    assert json.loads(out.read_text())["metadata"]["inputs"][0]["shape"] == [5, 6]


def test_keyword_inputs_keep_their_names_and_module_paths(run_cli: Any, tmp_path: Path) -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = nn.ModuleDict({"proj": nn.Linear(4, 4)})

        def forward(self, x: torch.Tensor, scale: Any = None, bias: Any = None) -> Any:
            return self.block["proj"](x) * scale + bias

    kwargs = {"bias": torch.randn(2, 4), "scale": torch.randn(2, 4)}
    path = tmp_path / "scaled.pt2"
    torch.export.save(torch.export.export(Scaled(), (torch.randn(2, 4),), kwargs), str(path))
    out = tmp_path / "analysis.json"
    code, _, err = run_cli("-q", "analyze", str(path), "--json", str(out))
    assert code == 0, err
    found = json.loads(out.read_text())
    assert [(s["kind"], s["operands"]) for s in found["input_products"]] == [
        ("gating", ["linear", "scale"])  # the stored keyword input, under its own name
    ]


def test_validate_runs_a_saved_program(run_cli: Any, tmp_path: Path) -> None:
    path, _, _ = saved_program(tmp_path)
    code, out, err = run_cli("validate", str(path), "--device", "cpu", "--samples", "2")
    assert code == 0, err
    assert "the static claims agree with the model" in out


def test_a_pickled_module_is_refused_unless_trusted(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(Gated(), str(path))
    code, out, err = run_cli("analyze", str(path), "--input", "float32[2,6]")
    assert code == 2 and not out
    assert "arbitrary code" in err and "--trust-pickle" in err and "torch.export" in err
    code, out, err = run_cli("analyze", str(path), "--input", "float32[2,6]", "--trust-pickle")
    assert code == 0, err
    assert "arbitrary code" in err and "gating" in out  # warned, then analysed
    weights = tmp_path / "weights.pt"
    torch.save(Gated().state_dict(), str(weights))
    code, _, err = run_cli("analyze", str(weights))
    assert code == 2 and "not a model" in err


def test_a_program_saved_without_inputs_needs_them_given(run_cli: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, x = Outer().eval(), torch.randn(2, 6)
    program = torch.export.export(model, (x,))
    program.example_inputs = None  # saved without its example inputs
    path = tmp_path / "bare.pt2"
    torch.export.save(program, str(path))
    assert torch.export.load(str(path)).example_inputs is None
    code, _, err = run_cli("analyze", str(path))
    paragraph = " ".join(err.split())
    assert code == 2 and "bare.pt2 stores no example inputs: give them with --input" in paragraph
    out = tmp_path / "analysis.json"
    code, _, err = run_cli("-q", "analyze", str(path), "--input", "float32[2,6]", "--json",
                           str(out))  # fmt: skip
    assert code == 0, err
    found = json.loads(out.read_text())
    expected = analyze(model, (x,)).to_json()
    assert [(s["kind"], s["module"]) for s in found["input_products"]] == [("gating", "block")]
    assert found["primitives"] == expected["primitives"] and found["degree"] == expected["degree"]
    assert found["metadata"]["inputs"][0]["shape"] == [2, 6]
