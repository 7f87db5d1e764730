"""feeds_contraction follows the rule of docs/concepts.md: an operand contracted the other way
round from its natural use is transposed, whatever permutes led there; head and sequence
permutes that leave the contracted axis's role alone are layout."""

from __future__ import annotations

import torch
from torch import nn

from analyzer.analysis import analyze


def transposes(module: nn.Module, *args: torch.Tensor) -> dict[str, bool]:
    result = analyze(module, args)
    return {t.node.name: t.feeds_contraction for t in result.transposes}


class HeadAttention(nn.Module):
    """Multi-head attention written out: Q, K, V reshaped to heads and permuted."""

    def __init__(self, width: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = (
            nn.Linear(width, width),
            nn.Linear(width, width),
            nn.Linear(width, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, self.heads, d // self.heads).permute(0, 2, 1, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        weights = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        return (weights @ v).permute(0, 2, 1, 3).reshape(b, s, d)


def test_key_transpose_feeds_and_head_permutes_are_layout() -> None:
    result = analyze(HeadAttention(), (torch.randn(2, 5, 8),))
    feeding = [t.node.name for t in result.transposes if t.feeds_contraction]
    layout = [t.node.name for t in result.transposes if not t.feeds_contraction]
    assert feeding == ["transpose"]  # k.transpose(-2, -1)
    assert len(layout) == 4  # the permutes of q, k, v to heads and back
    assert "transpose" in result.circuit_class


class WeightGradient(nn.Module):
    """δᵀ·x written out: the outer product of a backward pass's weight gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = self.out(x)  # [batch, out]: depends on the data
        return delta.t() @ x  # [out, in]: δ contracted along its batch axis


def test_weight_gradient_transposes_delta() -> None:
    assert transposes(WeightGradient(), torch.randn(6, 4)) == {"t": True}


class Gram(nn.Module):
    """x·xᵀ with the second operand transposed by a permute that swaps the last axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.bmm(x, x.permute(0, 2, 1))


def test_any_permute_that_moves_the_feature_axis_counts() -> None:
    assert transposes(Gram(), torch.randn(2, 5, 3)) == {"permute": True}


class EinsumScores(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bqd,bkd->bqk", x, torch.tanh(x))


def test_einsum_contracting_a_feature_axis_on_the_right_implies_a_transpose() -> None:
    result = analyze(EinsumScores(), (torch.randn(2, 5, 3),))
    assert [(t.implied, t.feeds_contraction) for t in result.transposes] == [(True, True)]
    assert "transpose" in result.circuit_class


class EinsumMix(nn.Module):
    """A·V spelled with einsum: V is contracted along its sequence axis, naturally."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(x @ x.transpose(1, 2), -1)
        return torch.einsum("bqk,bkd->bqd", weights, x)


def test_einsum_over_the_sequence_axis_is_natural() -> None:
    result = analyze(EinsumMix(), (torch.randn(2, 5, 3),))
    assert [(t.node.name, t.implied) for t in result.transposes if t.feeds_contraction] == [
        ("transpose", False)
    ]


class TokenMixing(nn.Module):
    """MLP-Mixer: the transpose puts tokens last for a static matmul: layout only."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = nn.Linear(5, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tokens(x.transpose(1, 2)).transpose(1, 2) * 1.0


def test_layout_transposes_feeding_static_matmuls_do_not_count() -> None:
    assert transposes(TokenMixing(), torch.randn(2, 5, 3)) == {
        "transpose": False,
        "transpose_1": False,
    }


class DoubleTranspose(nn.Module):
    """Kᵀ transposed back: x·(xᵀ)ᵀ = x·x contracts the right operand naturally... almost:
    here x @ x.mT.mT on square matrices is x @ x, a natural use of both."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ x.mT.mT


def test_two_transposes_that_cancel_are_layout() -> None:
    found = transposes(DoubleTranspose(), torch.randn(2, 4, 4))
    assert found and not any(found.values())


class GeneratedWeight(nn.Module):
    """F.linear with an input-generated weight: x·W(x)ᵀ, an implied transpose."""

    def __init__(self) -> None:
        super().__init__()
        self.hyper = nn.Linear(3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.hyper(x.mean(0)).view(3, 3)
        return nn.functional.linear(x, weight)


def test_linear_with_a_generated_weight_implies_a_transpose() -> None:
    result = analyze(GeneratedWeight(), (torch.randn(4, 3),))
    assert [(t.implied, t.feeds_contraction) for t in result.transposes] == [(True, True)]
