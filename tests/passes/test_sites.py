"""Site kinds and what is not a site (docs/concepts.md), on hand-written models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analyzer.analysis import analyze


class Lambda(nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function
        self.linear_a, self.linear_b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(self, x)


def run(function) -> tuple[list[str], dict[str, int], str]:
    result = analyze(Lambda(function), (torch.randn(3, 4),))
    return [s.kind for s in result.sites], result.primitive_counts(), result.degree


def test_self_products_are_pointwise_nonlinearities() -> None:
    def silu(m, x):
        h = m.linear_a(x)
        return h * torch.sigmoid(h)

    kinds, counts, degree = run(silu)
    assert kinds == [] and counts["gating"] == 0 and counts["nonlinearity"] >= 2
    kinds, counts, degree = run(lambda m, x: x * x)
    assert kinds == [] and degree == "2" and counts["nonlinearity"] == 1


def test_decomposed_gelu_is_not_a_site() -> None:
    def gelu(m, x):
        h = m.linear_a(x)
        return 0.5 * h * (1 + torch.tanh(0.79788456 * (h + 0.044715 * torch.pow(h, 3))))

    assert run(gelu)[0] == []


def test_products_of_two_functions_of_the_input_are_gating() -> None:
    kinds, counts, _ = run(lambda m, x: F.relu(m.linear_a(x)) * m.linear_b(x))
    assert kinds == ["gating"] and counts["gating"] == 1


def test_discrete_mask_is_a_relu_like_gate() -> None:
    kinds, counts, degree = run(lambda m, x: m.linear_a(x) * (m.linear_a(x) > 0))
    assert kinds == [] and counts["relu"] == 1 and counts["sparsity"] == 1 and degree == "1"


def test_hand_written_norms_are_normalization_sites() -> None:
    def rms(m, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def layer(m, x):
        centred = x - x.mean(-1, keepdim=True)
        return centred / torch.sqrt((centred**2).mean(-1, keepdim=True) + 1e-5)

    def softmax(m, x):
        e = torch.exp(x - x.amax(-1, keepdim=True))
        return e / e.sum(-1, keepdim=True)

    for function in (rms, layer, softmax):
        kinds, counts, degree = run(function)
        assert kinds == ["normalization"], function.__name__
        assert counts["normalization"] == 1 and degree == "inf"


def test_contraction_of_two_projections_with_witness_paths() -> None:
    result = analyze(Lambda(lambda m, x: m.linear_a(x) @ m.linear_b(x).T), (torch.randn(3, 4),))
    (site,) = result.sites
    document = result.to_json()["input_products"][0]
    assert site.kind == "contraction" and document["op"] in ("aten.matmul", "aten.mm")
    assert [path[0] for path in document["paths"]] == ["x", "x"]
    assert document["paths"][0][-1] == document["operands"][0]
    assert result.circuit_class == ["matmul", "transpose"]


def test_product_with_static_value_is_elementwise() -> None:
    kinds, counts, degree = run(lambda m, x: x * m.linear_a.weight[0])
    assert kinds == [] and counts["elementwise"] == 1 and degree == "1"


def test_embedding_lookup_is_a_continuous_source() -> None:
    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Embedding(10, 4)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            e = self.table(ids)
            return e @ e.transpose(-1, -2)

    result = analyze(Embed(), (torch.randint(0, 10, (2, 5)),))
    assert result.degree == "2" and [s.kind for s in result.sites] == ["contraction"]
    assert "sparsity" not in result.circuit_class
    assert result.to_json()["input_products"][0]["paths"][0][0] == "embedding"


def test_embedding_max_norm_is_a_normalization_of_rows() -> None:
    """embedding(ids, W, max_norm=1) divides the rows it reads that are longer than 1 by
    their norm (the oracle: torch's own result), a normalization site, piecewise."""
    table = 3 * torch.randn(3, 4)
    ids = torch.tensor([0, 2])
    rows = table[ids]
    expected = rows / rows.norm(dim=-1, keepdim=True).clamp(min=1.0)
    assert torch.allclose(F.embedding(ids, table.clone(), max_norm=1.0), expected, atol=1e-6)
    result = analyze(Lambda(lambda m, x: F.embedding(ids, 3 * x, max_norm=1.0)), (table,))
    assert [s.kind for s in result.sites] == ["normalization"]
    assert result.degree == "inf" and result.output_fact.piecewise
