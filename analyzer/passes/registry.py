"""The taxonomy: primitive classes, transfer rules and the op → entry table, as data.

Every aten op (keyed by its overload packet, ``"aten.linear"``) and the few
Python functions that survive tracing (``"operator.getitem"``) map to one
:class:`OpEntry`: its primitive class, the *rule* the dataflow passes apply, and
for fused ops the classes they imply and the operand positions they multiply.
Adding an op is one line; registering one twice is an error.

>>> lookup("aten.linear").primitive
'matmul'
>>> lookup("aten.no_such_op") is None
True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch.fx as fx

from analyzer.frontend.dialect import op_name, overload_name

PRIMITIVE_CLASSES = (
    "matmul", "relu", "nonlinearity", "transpose", "gating", "normalization",
    "sparsity", "structural", "elementwise", "reduction", "unknown",
)  # fmt: skip
"""Every class a node can have, in the order of the JSON ``primitives`` object."""

CIRCUIT_CLASSES = frozenset(
    {"matmul", "relu", "nonlinearity", "transpose", "gating", "normalization", "sparsity"}
)
"""The classes that make up a model's primitive set (``circuit_class``)."""


class Rule(enum.Enum):
    """How an op transforms the facts of its operands (see ``analyzer.passes.dataflow``)."""

    STRUCTURAL = "structural"  # data movement: join of operands
    AFFINE = "affine"  # add, sub, neg, linear reductions: join of operands
    PRODUCT = "product"  # mul: degrees add; a site when two operands are continuous
    DIVIDE = "divide"  # div: inf when the divisor is continuous
    CONTRACTION = "contraction"  # matmul family: degrees of the multiplied operands add
    ATTENTION = "attention"  # softmax(q·kᵀ)·v: two contractions around a normalisation
    RELU = "relu"  # piecewise linear: same degree, piecewise
    SMOOTH = "smooth"  # smooth nonlinearity: inf
    POW = "pow"  # pow(a, k): k·d(a) for constant natural k
    SQUARE_REDUCTION = "square_reduction"  # var: 2·d(a)
    NORMALIZATION = "normalization"  # fused normalisation: inf, a site of kind normalization
    COMPARE = "compare"  # comparisons, sign, argmax: discrete
    WHERE = "where"  # where(c, a, b) / masked_fill(a, mask, v): selection by a condition
    LOOKUP = "lookup"  # embedding / index / gather: a continuous source from a static table
    SELECT_TOP = "select_top"  # topk / sort / max.dim: (values piecewise, indices discrete)
    BATCH_NORM = "batch_norm"  # affine in eval mode, a normalisation in training mode
    RECURRENT = "recurrent"  # fused lstm / gru / rnn: inf, classes declared
    STATIC = "static"  # factories and shape queries: never depend on the input
    UNKNOWN = "unknown"  # not in the table: worst case


@dataclass(frozen=True, slots=True)
class OpEntry:
    """What the passes need to know about one op.

    ``multiplied`` lists the argument positions whose values are multiplied together
    (a negative list index reaches into a list argument, as for ``einsum``);
    ``implies`` names classes a fused op contains besides its own; ``gating_site``
    marks fused ops that multiply two continuous values elementwise (LSTM gates).
    ``transposes`` is the argument position a fused op transposes (the ``K`` of
    attention, the weight of ``linear``). ``divisor`` is the argument position a
    quotient divides by (``1`` for ``div``, ``0`` for ``reciprocal``).
    """

    primitive: str
    rule: Rule
    multiplied: tuple[int, ...] = ()
    implies: frozenset[str] = frozenset()
    transposes: int | None = None
    gating_site: bool = False
    pointwise: bool = False
    selector: tuple[int, ...] = ()
    divisor: int = 1


REGISTRY: dict[str, OpEntry] = {}


def register(names: str, primitive: str, rule: Rule, **options: object) -> None:
    """Add one entry under each whitespace-separated name; twice is an error."""
    assert primitive in PRIMITIVE_CLASSES, primitive
    entry = OpEntry(primitive, rule, **options)  # type: ignore[arg-type]
    for name in names.split():
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is registered twice")
        REGISTRY[name] = entry


def lookup(name: str) -> OpEntry | None:
    """The entry for an op name such as ``"aten.mm"``, or ``None`` when unknown."""
    return REGISTRY.get(name)


def entry_for(node: fx.Node) -> OpEntry | None:
    """The registry entry of a node: its overload first, then its packet."""
    return lookup(overload_name(node)) or lookup(op_name(node))


_p = {"pointwise": True}

# --- contractions: the product of the multiplied operands, degrees add ---------------
register("aten.linear", "matmul", Rule.CONTRACTION, multiplied=(0, 1), transposes=1)
register("aten.mm aten.bmm aten.matmul aten.dot aten.mv aten.vdot aten.inner aten.outer "
         "aten.ger aten.tensordot", "matmul", Rule.CONTRACTION, multiplied=(0, 1))  # fmt: skip
register("aten.addmm aten.baddbmm aten.addbmm aten.addmv aten.addr", "matmul",
         Rule.CONTRACTION, multiplied=(1, 2))  # fmt: skip
register("aten.conv1d aten.conv2d aten.conv3d aten.convolution aten._convolution "
         "aten.conv_transpose1d aten.conv_transpose2d aten.conv_transpose3d",
         "matmul", Rule.CONTRACTION, multiplied=(0, 1))  # fmt: skip
# grouped (per-expert) matmuls of mixture-of-experts layers; transformers' own custom op
register("aten._grouped_mm transformers.grouped_mm_fallback", "matmul", Rule.CONTRACTION,
         multiplied=(0, 1))  # fmt: skip
register("aten.einsum", "matmul", Rule.CONTRACTION, multiplied=(-1,))  # all of the list arg 1
register("aten.bilinear aten._trilinear", "matmul", Rule.CONTRACTION, multiplied=(0, 1, 2))
# softmax(Q·Kᵀ + mask)·V: the sites `scores` (q, k) and `mix` (weights, v), a
# normalisation between them, and K transposed. Arguments: query 0, key 1, value 2,
# attn_mask 3 (it shifts the scores before the softmax).
register("aten.scaled_dot_product_attention aten._scaled_dot_product_flash_attention_for_cpu "
         "aten._scaled_dot_product_efficient_attention aten._scaled_dot_product_flash_attention "
         "aten._scaled_dot_product_cudnn_attention aten._scaled_dot_product_attention_math "
         "aten._scaled_dot_product_fused_attention_overrideable",
         "matmul", Rule.ATTENTION, multiplied=(0, 1, 2),
         implies=frozenset({"normalization"}), transposes=1)  # fmt: skip

# --- elementwise products and quotients -----------------------------------------------
register("aten.mul aten.multiply aten.mul_", "elementwise", Rule.PRODUCT, **_p)
register("aten.div aten.divide aten.true_divide aten.div_", "elementwise", Rule.DIVIDE, **_p)
register("aten.reciprocal", "elementwise", Rule.DIVIDE, divisor=0, **_p)  # 1 / a
register("aten.addcmul", "elementwise", Rule.PRODUCT, multiplied=(1, 2), **_p)

# --- affine pointwise arithmetic and linear reductions -----------------------------
register("aten.add aten.sub aten.rsub aten.neg aten.add_ aten.sub_ aten.subtract "
         "aten.positive aten.lerp aten.alias aten.detach aten.lift_fresh_copy "
         "aten.dropout aten.feature_dropout aten.alpha_dropout aten.native_dropout",
         "elementwise", Rule.AFFINE, **_p)  # fmt: skip
register("aten.sum aten.mean aten.cumsum aten.nansum aten.trace aten.diff",
         "reduction", Rule.AFFINE)  # fmt: skip
register("aten.var aten.var_mean", "nonlinearity", Rule.SQUARE_REDUCTION)
register("aten.avg_pool1d aten.avg_pool2d aten.avg_pool3d aten.adaptive_avg_pool1d "
         "aten.adaptive_avg_pool2d aten.adaptive_avg_pool3d aten._adaptive_avg_pool2d",
         "reduction", Rule.AFFINE)  # fmt: skip

# --- piecewise-linear (ReLU-like) ---------------------------------------------------
register("aten.relu aten.relu_ aten.leaky_relu aten.hardtanh aten.relu6 aten.clamp "
         "aten.clip aten.clamp_min aten.clamp_max aten.abs aten.maximum aten.minimum "
         "aten.prelu aten.threshold", "relu", Rule.RELU, **_p)  # fmt: skip
register("aten.max_pool1d aten.max_pool2d aten.max_pool3d aten.max_pool2d_with_indices "
         "aten.max_pool3d_with_indices aten.adaptive_max_pool1d aten.adaptive_max_pool2d "
         "aten.amax aten.amin aten.cummax aten.max.other aten.min.other aten.max.default "
         "aten.min.default aten.median.default",
         "relu", Rule.RELU)  # fmt: skip

# --- smooth nonlinearities ---------------------------------------------------------
register("aten.gelu aten.silu aten.silu_ aten.tanh aten.sigmoid aten.exp aten.exp2 "
         "aten.expm1 aten.log aten.log2 aten.log10 aten.log1p aten.softplus aten.erf "
         "aten.erfc aten.sin aten.cos aten.tan aten.sqrt aten.rsqrt aten.mish aten.elu "
         "aten.selu aten.celu aten.hardswish aten.hardsigmoid aten.logsigmoid aten.atan "
         "aten.asin aten.acos aten.sinh aten.cosh aten.glu aten.softsign aten.tanh_ "
         "aten.sigmoid_ aten.gelu_ aten.atan2 aten.fmod aten.remainder aten.std "
         "aten.logsumexp aten.norm aten.linalg_vector_norm aten.frobenius_norm "
         "aten.logaddexp aten.square_root aten.cumprod aten.prod",
         "nonlinearity", Rule.SMOOTH, **_p)  # fmt: skip
register("aten.pow aten.square", "nonlinearity", Rule.POW, **_p)

# --- normalisation (fused ones are sites of kind normalization) --------------------
register("aten.softmax aten._softmax aten.log_softmax aten._log_softmax aten.layer_norm "
         "aten.native_layer_norm aten.rms_norm aten._fused_rms_norm aten.group_norm "
         "aten.native_group_norm aten.instance_norm aten.normalize "
         "aten._native_batch_norm_legit", "normalization", Rule.NORMALIZATION)  # fmt: skip
# batch norm uses running statistics in eval mode: an affine map
register("aten.batch_norm aten.native_batch_norm", "normalization", Rule.BATCH_NORM)
register("aten._native_batch_norm_legit_no_training", "elementwise", Rule.AFFINE)

# --- data-dependent selection ------------------------------------------------------
register("aten.eq aten.ne aten.gt aten.ge aten.lt aten.le aten.greater aten.less "
         "aten.sign aten.argmax aten.argmin aten.argsort aten.isnan aten.isinf "
         "aten.logical_not aten.logical_and aten.logical_or aten.logical_xor "
         "aten.__and__ aten.__or__ aten.__xor__ aten.bitwise_and aten.bitwise_or "
         "aten.bitwise_not aten.floor aten.ceil aten.round aten.trunc aten.heaviside "
         "aten.searchsorted aten.bucketize aten.nonzero aten.any aten.all "
         "aten.floor_divide aten.isin aten.one_hot aten.bincount aten.histc aten.unique "
         "aten.eq_ aten.__rshift__ aten.__lshift__", "sparsity", Rule.COMPARE)  # fmt: skip
# `selector` names the condition / index arguments: a selection is data-dependent
# exactly when one of them is not static.
register("aten.where", "sparsity", Rule.WHERE, selector=(0,))
register("aten.masked_fill aten.masked_fill_ aten.masked_scatter aten.masked_select "
         "aten.index_put aten.index_put_", "sparsity", Rule.WHERE, selector=(1,))  # fmt: skip
register("aten.scatter aten.scatter_add aten.scatter_reduce aten.index_add aten.index_copy",
         "sparsity", Rule.WHERE, selector=(2,))  # fmt: skip
register("aten.embedding aten.take aten.take_along_dim aten._unsafe_index aten.index "
         "aten.embedding_bag", "sparsity", Rule.LOOKUP, selector=(1,))  # fmt: skip
register("aten.index_select aten.gather", "sparsity", Rule.LOOKUP, selector=(2,))
register("aten.topk aten.sort aten.max aten.min aten.median aten.kthvalue aten.mode "
         "aten.cummin", "sparsity", Rule.SELECT_TOP)  # fmt: skip

# --- fused recurrent cells: matmuls with static weights, gates, tanh ---------------
register("aten.lstm aten.gru aten.lstm_cell aten.gru_cell", "gating", Rule.RECURRENT,
         implies=frozenset({"matmul", "nonlinearity", "gating"}), gating_site=True)  # fmt: skip
register("aten.rnn_tanh aten.rnn_tanh_cell", "nonlinearity", Rule.RECURRENT,
         implies=frozenset({"matmul", "nonlinearity"}))  # fmt: skip
register("aten.rnn_relu aten.rnn_relu_cell", "relu", Rule.RECURRENT,
         implies=frozenset({"matmul", "relu"}))  # fmt: skip

# --- transposes: `transpose` when applied to a continuous value, else structural ---
TRANSPOSE_OPS = frozenset(
    "aten.transpose aten.permute aten.t aten.numpy_T aten.mT aten.swapaxes "
    "aten.swapdims aten.adjoint aten.matrix_H aten.movedim aten.moveaxis".split()
)
for _name in sorted(TRANSPOSE_OPS):
    register(_name, "transpose", Rule.STRUCTURAL)

# --- property sets the site pass reads (see analyzer.passes.sites) ------------------------
# Reductions whose result is a statistic of their input (a mean, a norm, a maximum).
STATISTIC_OPS = frozenset(
    "aten.sum aten.mean aten.var aten.var_mean aten.std aten.amax aten.amin aten.max "
    "aten.min aten.logsumexp aten.norm aten.linalg_vector_norm aten.nansum".split()
)
# Ops that keep every entry where it is: a pointwise root survives them.
IDENTITY_OPS = frozenset(
    "aten.to aten._to_copy aten.clone aten.contiguous aten.alias aten.detach aten.dropout "
    "aten.type_as aten.float aten.double aten.half aten.bfloat16 aten.lift_fresh_copy".split()
)

# --- structural: data movement with no arithmetic ----------------------------------
register("aten.view aten.reshape aten._reshape_alias aten._unsafe_view aten.expand "
         "aten.expand_as aten.cat aten.concat aten.concatenate aten.stack aten.hstack "
         "aten.vstack aten.split aten.split_with_sizes aten.chunk aten.tensor_split "
         "aten.unbind aten.slice aten.select aten.narrow aten.squeeze aten.unsqueeze "
         "aten.flatten aten.unflatten aten.clone aten.contiguous aten.to aten._to_copy "
         "aten.type_as aten.copy aten.copy_ aten.view_as aten.reshape_as aten.repeat "
         "aten.repeat_interleave aten.roll aten.flip aten.pad aten.constant_pad_nd "
         "aten.reflection_pad1d aten.reflection_pad2d aten.replicate_pad1d aten.tile "
         "aten.tril aten.triu "
         "aten.as_strided aten.diagonal aten.unfold aten.pixel_shuffle aten.im2col "
         "aten.broadcast_to aten.float aten.double aten.half aten.bfloat16 aten.long "
         "aten.int aten.bool aten.fill_ aten.zero_ aten.lift aten.unsafe_split "
         "aten.alias_copy aten.view_copy aten.upsample_nearest2d aten.col2im "
         "aten.slice_scatter aten.select_scatter aten.channel_shuffle aten.atleast_1d "
         "aten.atleast_2d aten.diag_embed aten.diag aten.view_as_real aten.view_as_complex "
         "aten.resolve_conj aten.resolve_neg aten.conj aten.real aten.squeeze_ "
         "aten.unsqueeze_ aten.t_ operator.getitem", "structural", Rule.STRUCTURAL)  # fmt: skip
register("aten.zeros aten.ones aten.full aten.empty aten.arange aten.zeros_like "
         "aten.ones_like aten.full_like aten.empty_like aten.new_zeros aten.new_ones "
         "aten.new_full aten.new_empty aten.scalar_tensor aten.tensor aten.rand aten.randn "
         "aten.rand_like aten.randn_like aten.randint aten.linspace aten.eye "
         "aten.empty_strided aten.new_empty_strided aten.sym_size aten.sym_numel "
         "aten.sym_stride aten.size aten.numel aten.dim aten._assert_tensor_metadata "
         "aten._assert_scalar aten.sym_constrain_range_for_size aten._assert_async "
         "aten.sym_constrain_range aten._local_scalar_dense aten.item aten.is_nonzero "
         "aten.detach_ aten.set_grad_enabled aten._has_compatible_shallow_copy_type "
         "aten.lift_fresh aten.bernoulli aten.multinomial aten.normal aten.uniform "
         "aten.randperm aten._functional_sym_constrain_range_for_size "
         "operator.add operator.sub operator.mul operator.floordiv operator.truediv "
         "operator.mod operator.neg operator.eq operator.ne operator.lt operator.le "
         "operator.gt operator.ge torch.sym_int torch.sym_float torch.sym_max "
         "torch.sym_min torch.sym_not torch.sym_sum math.ceil math.floor math.sqrt "
         "torch._C._set_grad_enabled torch._functorch.predispatch._add_batch_dim "
         "torch.autograd.grad_mode._enter_autocast", "structural", Rule.STATIC)  # fmt: skip

# --- ops found by the census ----------------------------------------------------------
# all(x) spelled by torch.export: a boolean of the data, piecewise constant (like aten.all)
register("aten._is_all_true", "sparsity", Rule.COMPARE)
# if-then-else on symbolic sizes: shape arithmetic, never a function of tensor values
register("torch.sym_ite operator.and_ operator.or_", "structural", Rule.STATIC)
# vmap as traced before dispatch: unwrapping a batched value moves data, d(out) = d(x)
register("torch._functorch.predispatch._remove_batch_dim", "structural", Rule.STRUCTURAL)
# vmap's level bookkeeping and decomposition loading: integers and None, no tensor data
register("torch._functorch.predispatch._vmap_increment_nesting "
         "torch._functorch.predispatch._vmap_decrement_nesting "
         "torch._functorch.predispatch.lazy_load_decompositions",
         "structural", Rule.STATIC)  # fmt: skip
# erfinv(x), atanh(x): smooth pointwise functions, degree inf
register("aten.erfinv aten.atanh", "nonlinearity", Rule.SMOOTH, **_p)
# mse_loss(a, b) = mean((a − b)²): a square of one value (no site), degree 2·max(d(a), d(b))
register("aten.mse_loss", "nonlinearity", Rule.SQUARE_REDUCTION)
# distinct entries of x, a data-dependent selection: values keep d(x), piecewise; the
# inverse indices and counts share that fact (an over-approximation: they are discrete)
register("aten.unique_consecutive aten._unique2", "sparsity", Rule.RELU)
