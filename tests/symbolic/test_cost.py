"""Cost formulas against ``torch.utils.flop_counter.FlopCounterMode``, the oracle.

At three concrete sizes of each symbolic dimension, the contraction formulas (static +
dynamic) must equal half of FlopCounterMode's FLOPs, for the zoo models with
contractions and tiny transformers models. FlopCounterMode counts matmuls,
convolutions and attention only; the ops it does not count are listed here, each with
its reason, and left out of the comparison on both sides.
"""

from __future__ import annotations

import dataclasses

import pytest
import sympy
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from analyzer.frontend.zoo import build_zoo_model
from analyzer.symbolic import dims as dimspec
from analyzer.symbolic.cost import CostReport, cost, crossovers, leading_term
from analyzer.symbolic.symbols import symbol, symbols_of

# Ops whose multiply-adds FlopCounterMode does not see (it counts none of their work):
NOT_COUNTED_BY_FLOP_COUNTER = {
    "aten.bilinear": "its CPU kernel (_trilinear) is not in the flop registry",
    "aten.lstm": "the CPU LSTM kernel runs whole, below the dispatcher FlopCounterMode sees",
}
# Elementwise, normalisation and reduction ops have element counts in our formulas and
# no count at all in FlopCounterMode: compared by class, they are outside the oracle.
CONTRACTION_CLASSES = ("matmul",)

ZOO_DIMS = {
    "mlp": "seq=N", "convnet": "batch=B", "elman_rnn": "batch=B", "lstm": "batch=B",
    "gru": "batch=B", "transformer_block": "seq=N", "linear_attention": "seq=N",
    "hopfield": "seq=N", "swiglu_mlp": "seq=N", "moe_topk": "seq=N", "bilinear": "seq=N",
    "mlp_mixer": "batch=B", "mamba_block": "batch=B", "hypernetwork": "seq=N",
}  # fmt: skip
SIZES = (3, 7, 12)


def flop_counter_macs(module: torch.nn.Module, args: list, kwargs: dict | None = None) -> int:
    """Half of FlopCounterMode's FLOPs, attention on the math kernel (whose matmuls it
    counts; the fused CPU kernel is not in its registry)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        module(*args, **(kwargs or {}))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def counted_contractions(report: CostReport, sizes: dict[str, int]) -> int:
    """Our static + dynamic contractions at ``sizes``, without the ops the oracle skips."""
    total = 0
    for node in report.nodes:
        if node.op in NOT_COUNTED_BY_FLOP_COUNTER:
            continue
        total += report.at(node.static_contraction + node.dynamic_contraction, sizes)
    return total


def check_against_flop_counter(
    module: torch.nn.Module, args: tuple, dim: str, kwargs: dict | None = None, hf: bool = False
) -> CostReport:
    report = cost(module, args, [dim], example_kwargs=kwargs, hf=hf)
    spec = dimspec.parse_dim(dim)
    names = list(kwargs or {}) if hf else ["x"] * len(args)
    inputs = [*args, *(kwargs or {}).values()]
    axes = dimspec.resolve_axes([spec], names, inputs, hf)
    for size in SIZES:
        resized = dimspec.resized(inputs, axes, {spec.symbol: size})
        if hf:
            oracle = flop_counter_macs(module, [], dict(zip(kwargs or {}, resized, strict=True)))
        else:
            oracle = flop_counter_macs(module, resized)
        ours = counted_contractions(report, {spec.symbol: size})
        assert ours == oracle, (dim, size, ours, oracle)
    return report


@pytest.mark.parametrize("name", sorted(ZOO_DIMS))
def test_zoo_formulas_equal_flop_counter_at_three_sizes(name: str) -> None:
    module, args = build_zoo_model(name)
    report = check_against_flop_counter(module, args, ZOO_DIMS[name])
    assert report.static_contraction != 0  # every zoo model has a W·x somewhere


@pytest.mark.parametrize("wrong", ["no_dynamic", "one_linear_missed"])
def test_the_oracle_comparison_can_fail(monkeypatch, wrong: str) -> None:
    """A wrong formula is caught by :func:`check_against_flop_counter`: attention's dynamic
    contractions dropped, or one linear layer's static contraction missed."""
    real = cost

    def wrong_cost(*args, **kwargs) -> CostReport:
        report = real(*args, **kwargs)
        nodes, missed = [], False
        for node in report.nodes:
            if wrong == "no_dynamic":
                node = dataclasses.replace(node, dynamic_contraction=sympy.Integer(0))
            elif node.static_contraction != 0 and not missed:
                node, missed = dataclasses.replace(node, static_contraction=sympy.Integer(0)), True
            nodes.append(node)
        return dataclasses.replace(report, nodes=nodes)

    monkeypatch.setitem(globals(), "cost", wrong_cost)
    module, args = build_zoo_model("transformer_block")
    with pytest.raises(AssertionError):
        check_against_flop_counter(module, args, "seq=N")


def test_attention_is_two_dynamic_contractions() -> None:
    module, args = build_zoo_model("transformer_block")
    report = cost(module, args, ["seq=N"], solve=True)
    n = symbol("N")
    (attention,) = [node for node in report.nodes if "attention" in node.op]
    assert attention.parts == {"scores": 32 * n**2, "mix": 32 * n**2}
    assert report.dynamic_contraction == 64 * n**2 == report.by_site_kind["contraction"]
    assert report.static_contraction == 4096 * n
    assert report.crossover == {"seq": [sympy.Integer(64)]}
    assert report.leading(report.total) == 64 * n**2


class _StaticValues(torch.nn.Module):
    """Attention over a fixed table of values: only ``scores`` multiplies two inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
        self.keys = torch.nn.Parameter(torch.randn(5, 8))
        self.values = torch.nn.Parameter(torch.randn(1, 1, 5, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.q(x).unsqueeze(1)  # (2, 1, N, 8)
        k = (self.k(x.mean(1, keepdim=True)) + self.keys).unsqueeze(1)  # (2, 1, 5, 8)
        values = self.values.expand(2, 1, 5, 8)
        return torch.nn.functional.scaled_dot_product_attention(q, k, values)


def test_a_fused_attention_part_that_is_no_site_is_static() -> None:
    report = cost(_StaticValues(), (torch.randn(2, 6, 8),), ["seq=N"])
    n = symbol("N")
    (attention,) = [node for node in report.nodes if "attention" in node.op]
    assert attention.dynamic_contraction == attention.parts["scores"] == 2 * 5 * 8 * n
    assert attention.static_contraction == attention.parts["mix"] == 2 * 5 * 8 * n


def test_two_dimensions_and_the_json_round_trip() -> None:
    module, args = build_zoo_model("transformer_block")
    report = cost(module, args, ["seq=N", "batch=B"], solve=True)
    document = report.to_json()
    assert document["schema"] == "analyzer.cost/1"
    assert document["dims"] == {"seq": "N", "batch": "B"}
    names = symbols_of(document["dims"].values())

    def read(text: str) -> sympy.Expr:
        return sympy.sympify(text, locals=names)

    assert read(document["total"]) == report.total
    assert read(document["dynamic_contraction"]) == 32 * names["B"] * names["N"] ** 2
    assert all(read(v) == report.by_class[k] for k, v in document["by_class"].items())
    assert all(read(v) == report.by_site_kind[k] for k, v in document["by_site_kind"].items())
    assert sum(read(n["macs"]) for n in document["per_node"]) - report.total == 0
    assert [read(r) for r in document["crossover"]["seq"]] == [64]
    assert document["crossover"]["batch"] == []  # B cancels: no size of B is a crossover


def test_crossover_is_solved_over_the_reals() -> None:
    n = symbol("N")
    (root,) = crossovers(16384 * n + 1024, 128 * n**2, {"seq": "N"})["seq"]
    assert root == 64 + 6 * sympy.sqrt(114)


def test_leading_term_is_by_total_degree_over_every_symbol() -> None:
    """B·N² is of total degree 3, above B·N (2), though both are of degree 1 in B."""
    b, n = symbol("B"), symbol("N")
    assert leading_term(32 * b * n**2 + 4096 * b * n, [b, n]) == 32 * b * n**2
    assert leading_term(5 * b**2 + 7 * n**2 + 3 * b, [b, n]) == 5 * b**2 + 7 * n**2
    assert leading_term(4096 * b * n + 32 * n**2, [b, n]) == 4096 * b * n + 32 * n**2


def test_leading_term_of_a_non_polynomial_is_the_expression() -> None:
    n = symbol("N")
    assert leading_term(sympy.floor(n / 2) * 3, [n]) == sympy.floor(n / 2) * 3


def test_a_fixed_dimension_is_reported_with_exports_reason() -> None:
    from analyzer.errors import SpecError

    with pytest.raises(SpecError, match=r"fixes seq \(N\) to 6"):
        cost(*build_zoo_model("mlp_mixer"), ["seq=N"])


TINY_HF = {
    "gpt2": {"n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 100, "n_positions": 64},
    "llama": {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100},
    "bert": {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
             "num_attention_heads": 2, "vocab_size": 100},
}  # fmt: skip
HF_DIMS = {"gpt2": "seq=N:1..64", "llama": "seq=N", "bert": "seq=N:1..512"}


@pytest.mark.parametrize("model_type", sorted(TINY_HF))
def test_tiny_hf_formulas_equal_flop_counter_at_three_sizes(model_type: str) -> None:
    pytest.importorskip("transformers")
    from analyzer.frontend.hf import build_hf_model

    torch.manual_seed(0)
    built = build_hf_model(model_type, TINY_HF[model_type], "cpu")
    module, kwargs = built.module, built.inputs
    report = check_against_flop_counter(module, (), HF_DIMS[model_type], kwargs, hf=True)
    n = symbol("N")
    layers, width = 2, 32
    assert report.dynamic_contraction == layers * 2 * width * n**2  # Q·Kᵀ and A·V per layer


def test_hf_gpt2_crossover_is_six_widths() -> None:
    """GPT-2's static contractions are 12·d² per token and layer, its attention 2·d·N²:
    they cross at N = 6·d."""
    pytest.importorskip("transformers")
    from analyzer.frontend.hf import build_hf_model

    built = build_hf_model("gpt2", TINY_HF["gpt2"] | {"n_positions": 1024}, "meta")
    module, kwargs = built.module, built.inputs
    report = cost(module, (), ["seq=N"], example_kwargs=kwargs, hf=True, solve=True)
    assert report.crossover == {"seq": [6 * 32]}


def test_leading_term_without_symbols_is_the_whole_expression() -> None:
    """No dimension to rank by: every term is a constant, so all of it leads (a Poly over
    no symbols would pick its own generators and keep ``3·N²`` alone)."""
    n = symbol("N")
    assert leading_term(3 * n**2 + 5, []) == 3 * n**2 + 5
    assert leading_term(sympy.Integer(0), [n]) == 0


def test_crossover_roots_are_the_positive_solutions_in_a_fixed_order() -> None:
    """``8N² = 38N − 45`` at N = 9/4 and 5/2 (sympy's order, by value); the report lists
    them by the length of their text, then the text: ``5/2`` before ``9/4``."""
    n = symbol("N")
    static, dynamic = 38 * n - 45, 8 * n**2
    roots = crossovers(static, dynamic, {"seq": "N"})["seq"]
    assert roots == [sympy.Rational(5, 2), sympy.Rational(9, 4)]
    assert all((dynamic - static).subs(n, r) == 0 for r in roots)


def test_a_dimension_absent_from_the_difference_has_no_crossover() -> None:
    """B is listed first and appears in neither side: it gets an empty list, and the
    dimensions after it are still solved."""
    n = symbol("N")
    assert crossovers(12 * n, 2 * n**2, {"batch": "B", "seq": "N"}) == {
        "batch": [], "seq": [6]
    }  # fmt: skip
    assert crossovers(12 * n, 12 * n, {"seq": "N"}) == {"seq": []}


def test_a_crossover_sympy_cannot_solve_is_no_root() -> None:
    """``floor(N/2)`` (a strided axis) makes the equation one sympy cannot solve: no root."""
    n = symbol("N")
    assert crossovers(3 * n, 3 * sympy.floor(n / 2) + n, {"seq": "N"}) == {"seq": []}


class _Gram(torch.nn.Module):
    """``x·xᵀ``, unfused: a product of two inputs, every multiply-add dynamic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ x.transpose(-1, -2)


@pytest.mark.parametrize(
    ("module", "dynamic"), [(_Gram(), True), (torch.nn.Linear(8, 4), False)], ids=["gram", "linear"]
)
def test_an_unfused_contraction_splits_by_its_site(module: torch.nn.Module, dynamic: bool) -> None:
    """FlopCounterMode's count is all dynamic for ``x·xᵀ`` and all static for ``W·x``."""
    report = cost(module, (torch.randn(2, 5, 8),), ["seq=N"])
    n = symbol("N")
    split, other = report.dynamic_contraction, report.static_contraction
    if not dynamic:
        split, other = other, split
    assert other == 0
    for size in SIZES:
        oracle = flop_counter_macs(module, [torch.randn(2, size, 8)])
        assert report.at(split, {"N": size}) == oracle, (size, split)
    assert split.free_symbols == {n}


def test_a_recurrent_layer_without_a_formula_splits_into_zeros() -> None:
    """oneDNN's LSTM layer has no formula (its parts are one element count): its static
    contraction is zero, a number the totals can add, not a missing value."""
    import torch.fx as fx

    from analyzer.symbolic.cost import _split
    from analyzer.symbolic.formulas import node_parts
    from analyzer.symbolic.symbols import ShapeReader

    graph = fx.Graph()
    node = graph.call_function(torch.ops.aten.mkldnn_rnn_layer.default, (graph.placeholder("x"),))
    parts, _ = node_parts(node, ShapeReader({}))
    assert "projections" not in parts
    assert _split(node, parts, set()) == (0, 0)
