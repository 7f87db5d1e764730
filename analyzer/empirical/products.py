"""Products analyze did not publish: every multiplying node, tested for an input-by-input product.

A site that ``analyze`` misses is a false claim, so validate looks at every node whose op
multiplies (by its own table below, not the registry's) and that analyze did not list,
and measures whether it multiplies input-dependent values (docs/concepts.md):

* a **contraction** of two operands that both vary with the input is a site;
* an **elementwise product** ``a ⊙ b`` (``mul``, ``div``, ``addcmul``, ``lerp``'s weight and
  span, ``glu``'s halves, PReLU's slope) is a site unless ``a`` and ``b`` are pointwise
  functions of one common tensor. Then at every entry ``k`` the gradients of ``aₖ`` and
  ``bₖ`` are parallel, so the 2×2 determinant ``ȧᵤₖ·ḃᵥₖ − ȧᵥₖ·ḃᵤₖ`` of their tangents along
  two directions vanishes; for two independent functions (``a = Wx``, ``b = Vx``) it does
  not. ``x·x``, ``h·sigmoid(h)`` and a decomposed GELU are therefore not sites;
* a **reduction that multiplies entries** (``prod``, ``cumprod``, ``det``, a multiplying
  scatter) or a **fused normalisation** (layer/RMS/group norm, softmax) is a site when its
  node-local mixed derivative along directions with disjoint supports is non-zero.

>>> from analyzer.frontend.tracing import trace
>>> from analyzer.empirical.execute import Program
>>> class Gate(torch.nn.Module):
...     def forward(self, x):
...         return x[..., :2] * x[..., 2:]
>>> program = Program.of(trace(Gate(), (torch.randn(3, 4),)))
>>> [(c.node.name, c.test) for c in candidates(program, published=set())]
[('mul', 'rank')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx

from analyzer.empirical.execute import Program
from analyzer.frontend.dialect import op_name

_ELEMENTWISE = {  # op -> positions of the two factors
    "aten.mul": (0, 1), "aten.mul_": (0, 1), "aten.multiply": (0, 1),
    "aten.div": (0, 1), "aten.div_": (0, 1), "aten.divide": (0, 1), "aten.true_divide": (0, 1),
    "aten.addcmul": (1, 2), "aten.addcdiv": (1, 2), "aten.prelu": (0, 1),
    "aten._prelu_kernel": (0, 1), "aten.xlogy": (0, 1),
}  # fmt: skip
_CONTRACTIONS = {  # op -> positions of the contracted operands
    "aten.mm": (0, 1), "aten.bmm": (0, 1), "aten.matmul": (0, 1), "aten.linear": (0, 1),
    "aten.addmm": (1, 2), "aten.baddbmm": (1, 2), "aten.addbmm": (1, 2), "aten.addmv": (1, 2),
    "aten.addr": (1, 2), "aten.mv": (0, 1), "aten.dot": (0, 1), "aten.vdot": (0, 1),
    "aten.inner": (0, 1), "aten.outer": (0, 1), "aten.kron": (0, 1), "aten.tensordot": (0, 1),
    "aten.bilinear": (0, 1), "aten._trilinear": (0, 1, 2), "aten.conv1d": (0, 1),
    "aten.conv2d": (0, 1), "aten.conv3d": (0, 1), "aten.convolution": (0, 1),
    "aten._convolution": (0, 1), "aten.conv_transpose1d": (0, 1),
    "aten.conv_transpose2d": (0, 1), "aten._grouped_mm": (0, 1),
    "transformers.grouped_mm_fallback": (0, 1), "aten.grid_sampler": (0, 1),
    "aten.grid_sampler_2d": (0, 1), "aten.grid_sampler_3d": (0, 1),
}  # fmt: skip
_ENTRY_PRODUCTS = {
    "aten.prod", "aten.cumprod", "aten.det", "aten.linalg_det", "aten._linalg_det",
    "aten.slogdet", "aten.linalg_slogdet", "aten._linalg_slogdet", "aten.logdet",
    "aten.layer_norm", "aten.native_layer_norm", "aten.group_norm", "aten.native_group_norm",
    "aten.rms_norm", "aten._fused_rms_norm", "aten.softmax", "aten._softmax",
    "aten.log_softmax", "aten._log_softmax", "aten._safe_softmax", "aten.instance_norm",
    "aten.lstm", "aten.gru", "aten.lstm_cell", "aten.gru_cell", "aten.cosine_similarity",
    "aten.cdist", "aten._cdist_forward", "aten.pdist", "aten._pdist_forward",
    "aten.linalg_solve", "aten._linalg_solve_ex", "aten.linalg_solve_ex", "aten.linalg_inv",
    "aten.linalg_inv_ex", "aten.inverse", "aten._weight_norm", "aten.embedding_renorm",
    "aten.embedding_renorm_", "aten.renorm", "aten.renorm_",
}  # fmt: skip
_ATTENTION = {
    "aten.scaled_dot_product_attention", "aten._scaled_dot_product_attention_math",
    "aten._scaled_dot_product_flash_attention_for_cpu",
}  # fmt: skip
# on complex values these multiply real and imaginary parts of different entries
_COMPLEX_PRODUCTS = {"aten.pow", "aten.square", "aten.reciprocal", "aten.exp"}
_REDUCING_SCATTERS = {  # op -> position of its reduce argument
    "aten.scatter_reduce": 4, "aten.scatter_reduce_": 4, "aten.index_reduce": 4,
    "aten.index_reduce_": 4, "aten.scatter": 4, "aten.scatter_": 4,
}  # fmt: skip


@dataclass
class Candidate:
    """A multiplying node analyze did not publish, and how to test it."""

    node: fx.Node
    test: str  # "contraction" | "rank" | "local"
    factors: tuple[str, ...]  # keys of the captured values the test reads
    factor_of: Callable[[list[Any]], tuple[Any, Any]] | None = None  # rank: (a, b)
    part: str | None = None  # a fused attention's "scores" or "mix"
    published_as: str | None = None  # the kind analyze gave the node, when not this one


def candidates(
    program: Program,
    published: set[tuple[fx.Node, str | None]],
    kinds: dict[tuple[fx.Node, str | None], str] | None = None,
) -> list[Candidate]:
    """Every varying multiplying node (or fused attention part) not in ``published``
    (``(node, part)`` pairs) with varying factors, and its test. With ``kinds`` (the
    published kind of each pair), a contraction published under another kind (``gating``
    "(a Python number here)") is a candidate too: existence is not enough."""
    found = []
    nodes = {node for node, _ in published}
    kinds = kinds or {}
    contracting = {node for (node, part), kind in kinds.items() if kind == "contraction"}
    for node in program.graph.nodes:
        if node.op != "call_function" or node not in program.varying:
            continue
        name = op_name(node)
        if name in _ATTENTION:
            found.extend(_attention(program, node, published))
            continue
        contraction = name in _CONTRACTIONS or name == "aten.einsum"
        if node in nodes and not (contraction and kinds and node not in contracting):
            continue
        other = kinds.get((node, None)) if node in nodes else None
        if isinstance(node.target, torch._ops.HigherOrderOperator):
            if _body_multiplies(program, node):  # a product inside a no_grad block, say
                found.append(Candidate(node, "local", (node.name,)))
            continue
        if name in _CONTRACTIONS:
            factors = _varying_args(program, node, _CONTRACTIONS[name])
            if len(factors) >= 2:
                keys = tuple(n.name for n in factors)
                found.append(Candidate(node, "contraction", keys, published_as=other))
        elif name == "aten.einsum":
            operands = node.args[1] if len(node.args) > 1 else []
            factors = [n for n in operands if isinstance(n, fx.Node) and n in program.varying]
            if len(factors) >= 2:
                keys = tuple(n.name for n in factors)
                found.append(Candidate(node, "contraction", keys, published_as=other))
        elif name in _ELEMENTWISE:
            first, second = _ELEMENTWISE[name]
            factors = _varying_args(program, node, (first, second))
            if any(_complex(n) for n in factors):  # re·im products: measured at the node
                found.append(Candidate(node, "local", (node.name,)))
            elif len(factors) == 2:
                found.append(Candidate(node, "rank", (factors[0].name, factors[1].name), _pair))
        elif name == "aten.lerp":
            keys = _lerp_keys(program, node)
            if keys is not None:
                found.append(Candidate(node, "rank", keys, _lerp))
        elif name == "aten.glu" and _varying_args(program, node, (0,)):
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", -1)
            found.append(Candidate(node, "rank", (node.args[0].name,), _halves(dim)))
        elif name in _COMPLEX_PRODUCTS and any(_complex(n) for n in _varying_args(
                program, node, (0, 1))):  # fmt: skip
            found.append(Candidate(node, "local", (node.name,)))  # re·im products
        elif name in _ENTRY_PRODUCTS or _multiplying_scatter(node, name):
            if _varying_args(program, node, (0, 2)):
                found.append(Candidate(node, "local", (node.name,)))
    return found


def _attention(
    program: Program, node: fx.Node, published: set[tuple[fx.Node, str | None]]
) -> list[Candidate]:
    """The parts of a fused attention analyze did not list: ``scores`` when query and key
    vary, ``mix`` when the weights (from query, key or mask) and value vary."""
    query, key, value = (node.args[i] if i < len(node.args) else None for i in range(3))
    mask = node.args[3] if len(node.args) > 3 else node.kwargs.get("attn_mask")
    varying = {n.name for n in (query, key, value, mask) if isinstance(n, fx.Node)
               and n in program.varying}  # fmt: skip
    found = []
    if (node, "scores") not in published and {query.name, key.name} <= varying:
        found.append(Candidate(node, "contraction", (query.name, key.name), part="scores"))
    weights_vary = varying & {n.name for n in (query, key, mask) if isinstance(n, fx.Node)}
    if (node, "mix") not in published and value.name in varying and weights_vary:
        keys = (f"{node.name}.weights", value.name)
        found.append(Candidate(node, "contraction", keys, part="mix"))
    listed = any(n is node for n, _ in published)
    if not listed and isinstance(mask, fx.Node) and mask.name in varying:
        # the softmax normalises scores an input-dependent mask shifts: a normalisation
        found.append(Candidate(node, "contraction", (mask.name,), part="softmax"))
    return found


def _body_multiplies(program: Program, node: fx.Node) -> bool:
    """Whether a higher-order op's body (its subgraph) holds a multiplying op with two
    operands that the body's varying inputs reach."""
    bodies = [
        program.attribute(program.traced.graph_module, str(a.target))
        for a in node.args if isinstance(a, fx.Node) and a.op == "get_attr"
    ]  # fmt: skip
    operands = [a for a in node.args if isinstance(a, fx.Node) and a.op != "get_attr"]
    for body in bodies:
        if not isinstance(body, fx.GraphModule):
            continue
        inputs = [n for n in body.graph.nodes if n.op == "placeholder"]
        reached = {b for b, a in zip(inputs, operands, strict=False) if a in program.varying}
        for inner in body.graph.nodes:
            operands_in = fx.node.map_arg((inner.args, inner.kwargs), lambda n: n)
            used = [n for n in _flat_nodes(operands_in) if n in reached]
            if used:
                reached.add(inner)
            name = op_name(inner)
            multiplying = name in _CONTRACTIONS or name in _ELEMENTWISE or name in _ATTENTION
            if (multiplying and len(set(used)) >= 2) or (name in _ATTENTION and used):
                return True
    return False


def _flat_nodes(value: Any) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg(value, found.append)
    return found


def _complex(node: fx.Node) -> bool:
    value = node.meta.get("val")
    return isinstance(value, torch.Tensor) and value.is_complex()


def _varying_args(program: Program, node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    args = [node.args[p] if p < len(node.args) else None for p in positions]
    return [a for a in args if isinstance(a, fx.Node) and a in program.varying]


def _multiplying_scatter(node: fx.Node, name: str) -> bool:
    position = _REDUCING_SCATTERS.get(name)
    if position is None:
        return False
    reduce = node.args[position] if position < len(node.args) else node.kwargs.get("reduce")
    return reduce in ("prod", "multiply")


def _pair(values: list[Any]) -> tuple[Any, Any]:
    return values[0], values[1]


def _lerp_keys(program: Program, node: fx.Node) -> tuple[str, ...] | None:
    start, end = node.args[0], node.args[1]
    weight = node.args[2] if len(node.args) > 2 else node.kwargs.get("weight")
    if not (isinstance(weight, fx.Node) and weight in program.varying):
        return None
    ends = [e for e in (start, end) if isinstance(e, fx.Node)]
    if not any(e in program.varying for e in ends) or len(ends) < 2:
        return None
    return (weight.name, start.name, end.name)


def _lerp(values: list[Any]) -> tuple[Any, Any]:
    weight, start, end = values
    return weight, end - start  # lerp = start + weight·(end − start)


def _halves(dim: int) -> Callable[[list[Any]], tuple[Any, Any]]:
    def split(values: list[Any]) -> tuple[Any, Any]:
        first, second = values[0].chunk(2, dim=dim)
        return first, second

    return split


def rank_evidence(
    pair_u: tuple[torch.Tensor, torch.Tensor], pair_v: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """The largest relative 2×2 determinant ``|ȧᵤ·ḃᵥ − ȧᵥ·ḃᵤ| / (|ȧᵤ·ḃᵥ| + |ȧᵥ·ḃᵤ|)`` over
    the entries: 0 when the factors are pointwise functions of one tensor."""
    au, bu, av, bv = torch.broadcast_tensors(*pair_u, *pair_v)
    first, second = au * bv, av * bu
    scale = first.abs() + second.abs()
    ratio = (first - second).abs() / torch.where(scale > 0, scale, torch.ones_like(scale))
    return ratio.amax() if ratio.numel() else ratio.new_zeros(())
