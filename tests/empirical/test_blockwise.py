"""Block-wise validation: one validation per distinct repeated block, on its own input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from analyzer.empirical.blockwise import repeated_blocks, validate_blockwise
from analyzer.errors import SpecError


class Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm, self.up, self.down = (
            nn.LayerNorm(width),
            nn.Linear(width, 8),
            nn.Linear(8, width),
        )

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x + self.down(torch.tanh(self.up(self.norm(x)))) * scale


class Stack(nn.Module):
    def __init__(self, depth: int = 5, width: int = 6) -> None:
        super().__init__()
        self.embed = nn.Linear(3, width)
        self.layers = nn.ModuleList(Residual(width) for _ in range(depth))
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h, scale=self.scale)
        return h


def test_repeated_blocks_group_by_structure() -> None:
    groups = repeated_blocks(Stack())
    assert [[path for path, _ in group] for group in groups] == [[f"layers.{i}" for i in range(5)]]


def test_one_validation_per_distinct_block_on_its_own_input() -> None:
    result = validate_blockwise(Stack(), (torch.randn(2, 4, 3),), samples=3)
    (block,) = result.blocks
    assert block.path == "layers.0" and len(block.instances) == 5
    assert block.report.agree and result.agree
    assert "input of layers.0" in block.report.scope
    document = result.to_json()
    assert document["schema"] == "analyzer.validation.blockwise/1"
    assert "relative to that block's own input" in document["scope"]


def test_every_block_can_be_validated() -> None:
    result = validate_blockwise(Stack(depth=3), (torch.randn(2, 4, 3),), samples=2, blocks="all")
    assert [b.path for b in result.blocks] == ["layers.0", "layers.1", "layers.2"]


def test_a_meta_model_is_streamed_block_by_block() -> None:
    with torch.device("meta"):
        model = Stack()
    result = validate_blockwise(model, (torch.randn(2, 4, 3),), samples=2, device="cpu")
    assert result.streamed and result.agree
    assert all(p.is_meta for p in model.parameters())  # the caller's model is untouched


def test_a_model_without_repeated_blocks_is_refused() -> None:
    with pytest.raises(SpecError, match="no repeated blocks"):
        validate_blockwise(nn.Linear(3, 3), (torch.randn(2, 3),))


def test_cli_blockwise(run_cli, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    out = tmp_path / "blocks.json"
    config = ["--config", "num_hidden_layers=3", "--config", "hidden_size=32", "--config",
              "intermediate_size=64", "--config", "num_attention_heads=4", "--config",
              "num_key_value_heads=2", "--config", "vocab_size=100"]  # fmt: skip
    code, stdout, _ = run_cli("validate", "hf:llama", *config, "--blockwise", "--samples", "2",
                              "--json", str(out))  # fmt: skip
    assert code == 0, stdout
    assert "relative to that block's own input" in stdout
    document = json.loads(out.read_text())
    assert [b["path"] for b in document["blocks"]] == ["layers.0"]
    assert document["blocks"][0]["instances"] == ["layers.0", "layers.1", "layers.2"]
