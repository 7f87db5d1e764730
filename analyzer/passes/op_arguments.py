"""What an op's own arguments say about its algebra: a norm's order, a scatter's
reduction, the training flag of a batch norm, which tensor is an attention's query or
the matrix a solve inverts. The transfer functions, the site rules and the classifier
read an op through these, so that all three agree.

>>> import torch, torch.fx as fx
>>> g = fx.Graph(); x = g.placeholder("x")
>>> one = g.call_function(torch.ops.aten.linalg_vector_norm.default, (x, 1))
>>> two = g.call_function(torch.ops.aten.linalg_vector_norm.default, (x,))
>>> norm_is_piecewise_linear(one), norm_is_piecewise_linear(two)
(True, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import argument, argument_named, op_name, tensor_operands, value_meta
from analyzer.passes.operands import is_complex, named_node

MATRIX_POWERS = frozenset({"aten.linalg_matrix_power", "aten.matrix_power"})
DETERMINANTS = frozenset({"aten.det", "aten.linalg_det", "aten._linalg_det"})
LOG_DETERMINANTS = frozenset({"aten.slogdet", "aten.linalg_slogdet", "aten.logdet"})
SCATTER_PRODUCTS = frozenset({"multiply", "prod"})
SOFTMAX_BACKWARDS = frozenset({"aten._softmax_backward_data"})
MEAN_REDUCTION = 1  # aten's Reduction enum: 0 none, 1 mean, 2 sum
EMBEDDING_BAG_MAX = 2  # embedding_bag's mode: 0 sum, 1 mean, 2 max
GRID_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
COMPLEX_OF = {"float16": "complex32", "float32": "complex64", "float64": "complex128"}
"""The complex type whose entries are pairs of a float type's entries."""


def is_rounding_cast(node: fx.Node) -> bool:
    """Whether a data-movement op's single result is an integer or boolean tensor (a
    float read into it is truncated: piecewise constant)."""
    value = node.meta.get("val")
    if value is not None and not hasattr(value, "dtype"):
        return False  # several results (split), or a number
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith(("int", "uint", "bool", "long"))


def reinterprets_bits(node: fx.Node) -> bool:
    """Whether ``view(dtype)`` reads its source's bits as another type (``x.view(int32)``,
    float32 as bfloat16); a view to the same type, or between a float type and the complex
    type made of pairs of it, moves values only. Unknown types count as a reinterpretation.
    """
    source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    _, before = value_meta(source) if source is not None else (None, None)
    _, after = value_meta(node)
    if before is None or after is None:
        return True
    pairs = COMPLEX_OF.get(before) == after or COMPLEX_OF.get(after) == before
    return before != after and not pairs


def power_exponent(node: fx.Node) -> Any:
    """The exponent of ``pow`` (``x ** k``), ``square`` (2) or a matrix power (``n``)."""
    name = op_name(node)
    if name == "aten.pow":
        return argument(node, 1, "exponent")
    if name in MATRIX_POWERS:
        return argument(node, 1, "n")
    return 2


def divides_by_weights(node: fx.Node) -> bool:
    """Whether a weighted nll_loss divides by the weights it selected (mean reduction)."""
    return op_name(node).startswith("aten.nll_loss") and (
        argument_named(node, "reduction") in (MEAN_REDUCTION, None)
    )


@dataclass(frozen=True)
class AttentionInputs:
    """The operands of a fused attention, read by name from its schema."""

    query: fx.Node | None
    key: fx.Node | None
    value: fx.Node | None
    mask: fx.Node | None

    @property
    def weights_from(self) -> list[fx.Node]:
        """What the attention weights softmax(q·kᵀ + mask) are computed from."""
        return [n for n in (self.query, self.key, self.mask) if n is not None]


def attention_inputs(node: fx.Node) -> AttentionInputs:
    """Query, key, value and mask of a fused attention (``src`` for all three in a fused
    encoder layer)."""
    source = named_node(node, "src")
    if source is not None:
        return AttentionInputs(source, source, source, named_node(node, "mask"))
    mask = named_node(node, "attn_mask") or named_node(node, "attn_bias")
    return AttentionInputs(
        named_node(node, "query"), named_node(node, "key"), named_node(node, "value"),
        mask or named_node(node, "mask"),
    )  # fmt: skip


def scatter_reduction(node: fx.Node) -> str:
    """The reduction a scatter applies: ``"sum"`` for plain scatter/add, else its name."""
    reduce = argument_named(node, "reduce")
    return str(reduce) if reduce is not None else "sum"


def is_training_batch_norm(node: fx.Node) -> bool:
    """Whether a batch-norm node normalises with batch statistics (training mode)."""
    if op_name(node) == "aten._native_batch_norm_legit_no_training":
        return False
    return bool(argument_named(node, "training"))


def norm_is_piecewise_linear(node: fx.Node) -> bool:
    """Whether a norm's order is 1 or ±∞ (a sum or maximum of absolute values) of a real
    tensor: a complex entry's absolute value is sqrt(re² + im²)."""
    if any(is_complex(n) for n in tensor_operands(node)):
        return False
    order = next((v for v in (argument_named(node, n) for n in ("ord", "p")) if v is not None), 2)
    if op_name(node) == "aten.linalg_matrix_norm" and order == -1:
        return True  # the smallest absolute column sum
    # a vector's order −1 is (Σ 1/|xᵢ|)⁻¹: rational, not piecewise linear
    return isinstance(order, (int, float)) and order in (1, math.inf, -math.inf)


def cdist_is_piecewise_linear(node: fx.Node) -> bool:
    """Whether pairwise distances are taken with p = 0, 1 or ∞ (no product inside)."""
    order = argument_named(node, "p")
    return isinstance(order, (int, float)) and order in (0, 1, math.inf)


def grid_mode(node: fx.Node) -> str:
    """grid_sample's interpolation: ``bilinear``, ``nearest`` or ``bicubic``."""
    return GRID_MODES.get(argument_named(node, "interpolation_mode"), "bicubic")


def inverted_matrix(node: fx.Node) -> fx.Node | None:
    """The matrix an inverse or solve inverts: ``A``, cholesky_solve's factor ``input2``,
    else the first argument (``inv(self)``)."""
    return named_node(node, "A") or named_node(node, "input2") or named_node(node, "self")


def backward_operands(node: fx.Node) -> tuple[fx.Node | None, fx.Node | None]:
    """The incoming gradient δ and the point the derivative is taken at."""
    gradient = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    for name in ("self", "output", "input", "self_or_result"):
        point = named_node(node, name)
        if point is not None:
            return gradient, point
    rest = [n for n in tensor_operands(node) if n is not gradient]
    return gradient, rest[0] if rest else None
