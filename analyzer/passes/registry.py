"""The taxonomy: primitive classes, transfer rules and the op → entry table, as data.

Every aten op (keyed by its overload packet, ``"aten.linear"``) and the few
Python functions that survive tracing (``"operator.getitem"``) map to one
:class:`OpEntry`: its primitive class, the *rule* the dataflow passes apply, and
for fused ops the classes they imply and the operand positions they multiply.
Adding an op is one line; registering one twice is an error. Finding the entry of a
node (its overload first, then its packet) is :mod:`analyzer.passes.registry_lookup`'s job.

>>> REGISTRY["aten.linear"].primitive
'matmul'
>>> "aten.no_such_op" in REGISTRY
False
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
    """How an op transforms the facts of its operands (see ``analyzer.passes.transfer``)."""

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
    BATCH_NORM = "batch_norm"  # affine in eval mode (static statistics), else a normalisation
    RECURRENT = "recurrent"  # fused lstm / gru / rnn: inf, classes declared
    STATIC = "static"  # factories and shape queries: never depend on the input's values
    LERP = "lerp"  # a + w·(b − a): a product when the weight w is a tensor
    PRELU = "prelu"  # max(0, x) + a·min(0, x): a product when the slope a varies
    SCATTER = "scatter"  # scatter with a reduction: multiply / prod multiply entries
    ENTRY_PRODUCT = "entry_product"  # prod, cumprod, det: products of distinct entries
    NORM = "norm"  # vector norms: piecewise linear for p = 1, ∞; smooth otherwise
    CDIST = "cdist"  # pairwise distances: a contraction x1·x2ᵀ inside, smooth for p = 2
    GRID_SAMPLE = "grid_sample"  # image read at grid places with grid-polynomial weights
    INVERSE = "inverse"  # inv(A), solve(A, B): rational in A, linear in B
    SPLIT_GATE = "split_gate"  # glu: one half of a tensor gates the other
    COVARIANCE = "covariance"  # cov: (x − μ)(x − μ)ᵀ, rational in its weights
    HISTOGRAM = "histogram"  # weighted counts in bins placed by the data; density divides
    ACTIVATION_BACKWARD = "activation_backward"  # δ ⊙ f'(x): a product with the derivative
    CONV_BACKWARD = "conv_backward"  # (δ ⋆ W, δ ⋆ x, Σδ): contractions per output
    ATTENTION_BACKWARD = "attention_backward"  # gradients of q, k, v: contractions with δ
    BITCAST = "bitcast"  # view(dtype): the same bits read as another type: worst case
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
    quotient divides by (``1`` for ``div``, ``0`` for ``reciprocal``). ``value_args``
    names the arguments a copy or fill takes its values from (the rest give a shape).
    ``site_kind`` is the kind of site a smooth op with ``multiplied`` operands is.
    ``factors`` groups argument positions into the factors of a product whose factors
    are sums (``mse_loss_backward``: δ · (x − y)). ``derivative_degree`` is the degree of
    an activation's derivative in its argument (0 for ReLU's step, ``None`` if smooth).
    ``self_contraction`` marks ops that contract a tensor with itself (``A·A·A``,
    ``(x − μ)(x − μ)ᵀ``): a contraction site on one continuous operand. ``kinked`` marks
    ops whose own function has kinks or jumps (huber's two pieces, atan2's branch cut):
    their result is piecewise whatever their operands are.
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
    value_args: tuple[str, ...] = ()
    site_kind: str = "gating"
    factors: tuple[tuple[int, ...], ...] = ()
    derivative_degree: int | None = None
    self_contraction: bool = False
    kinked: bool = False


REGISTRY: dict[str, OpEntry] = {}


def register(names: str, primitive: str, rule: Rule, **options: object) -> None:
    """Add one entry under each whitespace-separated name; twice is an error."""
    assert primitive in PRIMITIVE_CLASSES, primitive
    entry = OpEntry(primitive, rule, **options)  # type: ignore[arg-type]
    for name in names.split():
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is registered twice")
        REGISTRY[name] = entry


_p = {"pointwise": True}

# --- contractions: the product of the multiplied operands, degrees add ---------------
register("aten.linear", "matmul", Rule.CONTRACTION, multiplied=(0, 1), transposes=1)
register("aten.mm aten.bmm aten.matmul aten.dot aten.mv aten.vdot aten.inner aten.outer "
         "aten.ger aten.tensordot aten.kron aten.linalg_vecdot aten._int_mm",
         "matmul", Rule.CONTRACTION, multiplied=(0, 1))  # fmt: skip
register("aten.addmm aten.baddbmm aten.addbmm aten.addmv aten.addr", "matmul",
         Rule.CONTRACTION, multiplied=(1, 2))  # fmt: skip
register("aten.conv1d aten.conv2d aten.conv3d aten.convolution aten._convolution "
         "aten.conv_transpose1d aten.conv_transpose2d aten.conv_transpose3d "
         "aten.mkldnn_convolution aten.cudnn_convolution aten.conv_tbc",
         "matmul", Rule.CONTRACTION, multiplied=(0, 1))  # fmt: skip
# grouped (per-expert) matmuls of mixture-of-experts layers; transformers' own custom op
register("aten._grouped_mm transformers.grouped_mm_fallback", "matmul", Rule.CONTRACTION,
         multiplied=(0, 1))  # fmt: skip
# every tensor in the list argument is a factor
register("aten.einsum aten.chain_matmul aten.linalg_multi_dot", "matmul", Rule.CONTRACTION,
         multiplied=(-1,))  # fmt: skip
register("aten.bilinear aten._trilinear", "matmul", Rule.CONTRACTION, multiplied=(0, 1, 2))
# softmax(Q·Kᵀ + mask)·V: the sites `scores` (q, k) and `mix` (weights, v), a
# normalisation between them, and K transposed; operands are read by schema name
register("aten.scaled_dot_product_attention aten._scaled_dot_product_flash_attention_for_cpu "
         "aten._scaled_dot_product_efficient_attention aten._scaled_dot_product_flash_attention "
         "aten._scaled_dot_product_cudnn_attention aten._scaled_dot_product_attention_math "
         "aten._scaled_dot_product_fused_attention_overrideable "
         "aten._native_multi_head_attention", "matmul", Rule.ATTENTION,
         implies=frozenset({"normalization"}), transposes=1)  # fmt: skip
# nn.TransformerEncoderLayer's fused fast path: attention, two layer norms, the MLP
register("aten._transformer_encoder_layer_fwd", "matmul", Rule.ATTENTION,
         implies=frozenset({"normalization", "relu", "nonlinearity"}), transposes=0)  # fmt: skip
# ‖x1ᵢ − x2ⱼ‖: for p = 2, ‖a‖² − 2·a·b + ‖b‖², a contraction of x1 and x2 inside a sqrt
register("aten.cdist aten._cdist_forward aten._euclidean_dist", "matmul", Rule.CDIST,
         multiplied=(0, 1))  # fmt: skip
# x·y / (‖x‖·‖y‖): a contraction of x and y, normalised
register("aten.cosine_similarity", "matmul", Rule.SMOOTH, multiplied=(0, 1),
         site_kind="contraction", implies=frozenset({"normalization"}))  # fmt: skip

# --- elementwise products and quotients -----------------------------------------------
register("aten.mul aten.multiply aten.mul_", "elementwise", Rule.PRODUCT, **_p)
register("aten.div aten.divide aten.true_divide aten.div_", "elementwise", Rule.DIVIDE, **_p)
register("aten.reciprocal", "elementwise", Rule.DIVIDE, divisor=0, **_p)  # 1 / a
register("aten.addcmul aten.addcmul_", "elementwise", Rule.PRODUCT, multiplied=(1, 2), **_p)
# self + value · t1 / t2: a product of t1 and 1/t2
register("aten.addcdiv aten.addcdiv_", "elementwise", Rule.DIVIDE, multiplied=(1, 2),
         divisor=2, **_p)  # fmt: skip
# a + w·(b − a); with a scalar weight it is affine
register("aten.lerp aten.lerp_", "elementwise", Rule.LERP, **_p)
# the cross product multiplies components of a and b at other positions
register("aten.cross aten.linalg_cross", "elementwise", Rule.PRODUCT, multiplied=(0, 1))
# abs · (cos θ + i sin θ)
register("aten.polar", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating")

# --- affine pointwise arithmetic and linear reductions -----------------------------
register("aten.add aten.sub aten.rsub aten.neg aten.add_ aten.sub_ aten.subtract "
         "aten.positive aten.alias aten.detach aten.detach_ aten.lift_fresh_copy "
         "aten.dropout aten.feature_dropout aten.alpha_dropout aten.native_dropout "
         "aten.conj_physical aten.neg_ aten._conj aten.conj "
         "operator.add operator.sub operator.neg torch.sym_sum",
         "elementwise", Rule.AFFINE, **_p)  # fmt: skip
register("aten.sum aten.mean aten.cumsum aten.nansum aten.trace aten.diff aten.cumsum_ "
         "aten.nanmean", "reduction",
         Rule.AFFINE)  # fmt: skip
register("aten.var aten.var_mean", "nonlinearity", Rule.SQUARE_REDUCTION)
register("aten.avg_pool1d aten.avg_pool2d aten.avg_pool3d aten.adaptive_avg_pool1d "
         "aten.adaptive_avg_pool2d aten.adaptive_avg_pool3d aten._adaptive_avg_pool2d "
         "aten._adaptive_avg_pool3d", "reduction", Rule.AFFINE)  # fmt: skip
# fixed linear resampling: each output is a weighted sum of neighbouring inputs
register("aten.upsample_bilinear2d aten.upsample_linear1d aten.upsample_trilinear3d "
         "aten.upsample_bicubic2d aten._upsample_bilinear2d_aa aten._upsample_bicubic2d_aa",
         "reduction", Rule.AFFINE)  # fmt: skip
# the discrete Fourier transform is a fixed linear map (a matmul by a static matrix)
register("aten.fft_fft aten.fft_ifft aten.fft_rfft aten.fft_irfft aten.fft_hfft "
         "aten.fft_ihfft aten.fft_fft2 aten.fft_ifft2 aten.fft_rfft2 aten.fft_irfft2 "
         "aten.fft_fftn aten.fft_ifftn aten.fft_rfftn aten.fft_irfftn aten._fft_r2c "
         "aten._fft_c2c aten._fft_c2r aten.fft_fftshift aten.fft_ifftshift",
         "matmul", Rule.AFFINE)  # fmt: skip
# random draws whose parameters are affine in their outcome: mean + std·ε
register("aten.normal aten.normal_functional", "elementwise", Rule.AFFINE)

# --- piecewise-linear (ReLU-like) ---------------------------------------------------
register("aten.relu aten.relu_ aten.leaky_relu aten.hardtanh aten.relu6 aten.clamp "
         "aten.clip aten.clamp_min aten.clamp_max aten.abs aten.maximum aten.minimum "
         "aten.threshold aten.fmax aten.fmin aten.hardshrink aten.softshrink aten.clamp_ "
         "aten.abs_ aten.leaky_relu_ aten.hardtanh_ aten.rrelu aten.rrelu_with_noise "
         "torch.sym_max torch.sym_min", "relu", Rule.RELU, **_p)  # fmt: skip
register("aten.max_pool1d aten.max_pool2d aten.max_pool3d aten.max_pool2d_with_indices "
         "aten.max_pool3d_with_indices aten.adaptive_max_pool1d aten.adaptive_max_pool2d "
         "aten.adaptive_max_pool3d aten.amax aten.amin aten.max.other aten.min.other "
         "aten.max.default aten.min.default aten.median.default aten.nanmedian.default "
         "aten.fractional_max_pool2d aten.aminmax aten.frac", "relu",
         Rule.RELU)  # fmt: skip
# Σ w over the values in each bin (bins placed by the data's range); density=True divides
# by Σ w and by the bin width (max − min)/bins: rational in both
register("aten.histogram", "relu", Rule.HISTOGRAM)
# heaviside(x, values): 0 or 1 by the sign of x, and `values` copied where x = 0
register("aten.heaviside", "sparsity", Rule.WHERE, selector=(0,))
# a learned slope (a parameter) is ReLU-like; a slope computed from the input multiplies
# (not pointwise: the slope is broadcast along the channel axis, not the trailing one)
register("aten.prelu aten._prelu_kernel", "relu", Rule.PRELU)

# --- smooth nonlinearities ---------------------------------------------------------
register("aten.gelu aten.silu aten.silu_ aten.tanh aten.sigmoid aten.exp aten.exp2 "
         "aten.expm1 aten.log aten.log2 aten.log10 aten.log1p aten.erf "
         "aten.erfc aten.erfinv aten.sin aten.cos aten.tan aten.sqrt aten.rsqrt aten.mish "
         "aten.logsigmoid "
         "aten.log_sigmoid aten.log_sigmoid_forward aten.atan aten.asin aten.acos "
         "aten.sinh aten.cosh aten.asinh aten.acosh aten.atanh aten.softsign aten.tanh_ "
         "aten.sigmoid_ aten.gelu_ "
         "aten.logaddexp aten.logaddexp2 aten.square_root "
         "aten.exp_ aten.sqrt_ aten.rsqrt_ aten.sin_ aten.cos_ aten.log_ "
         "aten.lgamma aten.digamma aten.mvlgamma aten.i0 "
         "aten.special_i0e aten.special_i1 aten.special_i1e aten.special_erfcx "
         "aten.special_ndtr aten.special_ndtri aten.special_log_ndtr aten.sinc "
         "aten.nan_to_num "
         "aten.mish_ math.sqrt operator.pow",
         "nonlinearity", Rule.SMOOTH, **_p)  # fmt: skip
# smooth pieces joined at a point: elu's two branches, hardswish's clamp, softplus's switch to
# the identity above its threshold
register("aten.softplus aten.elu aten.selu aten.celu aten.hardswish aten.hardsigmoid "
         "aten.elu_ aten.celu_ aten.selu_ aten.hardswish_ aten.hardsigmoid_", "nonlinearity",
         Rule.SMOOTH, kinked=True, **_p)  # fmt: skip
# smooth reductions (they mix the entries they reduce: not pointwise)
register("aten.std aten.std_mean aten.logsumexp", "nonlinearity", Rule.SMOOTH)
register("aten.pow aten.square aten.pow_", "nonlinearity", Rule.POW, **_p)
# smooth between jumps: x − y·trunc(x / y), |x|·sign(y), the branch cut of atan2 and angle
register("aten.fmod aten.remainder aten.copysign aten.angle", "nonlinearity", Rule.SMOOTH,
         kinked=True, **_p)  # fmt: skip
# x·log(y), y/x inside atan2, exp(y·log x): a product of the two operands inside
register("aten.xlogy aten.special_xlog1py aten.special_xlogy aten.float_power",
         "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating", **_p)  # fmt: skip
register("aten.atan2 aten.arctan2", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1),
         site_kind="gating", kinked=True, **_p)  # fmt: skip
# Σ (x₍ᵢ₊₁₎ − xᵢ)·(yᵢ + y₍ᵢ₊₁₎)/2: the samples times the spacing, when x is given
register("aten.trapezoid aten.cumulative_trapezoid", "reduction", Rule.PRODUCT,
         multiplied=(0, 1))  # fmt: skip
# Aⁿ and (x − μ)(x − μ)ᵀ: contractions of a tensor with itself
register("aten.linalg_matrix_power aten.matrix_power", "matmul", Rule.POW,
         self_contraction=True)  # fmt: skip
# Σ w·(x − μ_w)(x − μ_w)ᵀ / Σ w: quadratic in x, rational in the observation weights w
register("aten.cov", "matmul", Rule.COVARIANCE)
register("aten.corrcoef", "matmul", Rule.SMOOTH, self_contraction=True)
# base ** linspace(start, end): an exponential of tensor endpoints
register("aten.logspace", "nonlinearity", Rule.SMOOTH)
# log Σ exp along an axis: mixes the entries it accumulates, so not pointwise
register("aten.logcumsumexp", "nonlinearity", Rule.SMOOTH)
# every norm has a cone at zero (‖x‖₂ kinks there)
register("aten.linalg_vector_norm aten.norm aten.linalg_norm aten.frobenius_norm "
         "aten.nuclear_norm aten.linalg_matrix_norm aten.pairwise_distance", "nonlinearity",
         Rule.NORM, kinked=True)  # fmt: skip
# glu(x) = a · sigmoid(b): a gating site over the two halves of one tensor
register("aten.glu", "gating", Rule.SPLIT_GATE)
# products of distinct entries of one tensor: x₀·x₁·x₂, a determinant's terms
register("aten.prod aten.cumprod aten.cumprod_ aten.det aten.linalg_det aten._linalg_det "
         "aten.slogdet aten.linalg_slogdet aten.logdet", "gating", Rule.ENTRY_PRODUCT)  # fmt: skip
# inverses and solves: adj(A)/det(A) multiplies distinct entries of A; solve(A, B) = A⁻¹·B
register("aten.linalg_inv aten.linalg_inv_ex aten.inverse aten.linalg_solve "
         "aten._linalg_solve_ex aten.linalg_solve_ex aten.linalg_solve_triangular "
         "aten.triangular_solve aten.cholesky_solve aten.linalg_lstsq "
         "aten.cholesky_inverse", "gating", Rule.INVERSE)  # fmt: skip
# the pseudo-inverse drops singular values under its tolerance: a jump where one crosses it
register("aten.linalg_pinv", "gating", Rule.INVERSE, kinked=True)
# decompositions and functions of a matrix: smooth functions of its entries that multiply
# distinct entries (a Cholesky factor's Σ L·L, exp(X) = Σ Xᵏ/k!): a contraction site
register("aten.linalg_cholesky aten.linalg_cholesky_ex aten.linalg_matrix_exp "
         "aten.matrix_exp aten.cholesky",
         "nonlinearity", Rule.SMOOTH, self_contraction=True)  # fmt: skip
# ... and those that switch branches: eigen- and singular values come sorted (a kink where
# two cross, |λ| where one crosses zero) with vectors of a normalised sign (a jump); LU and
# LDL pivot on the largest entry (a jump where two entries trade places); Householder QR
# picks each reflector's sign from a diagonal entry's (a jump where it crosses zero)
register("aten.linalg_eigh aten.linalg_eigvalsh aten.linalg_svd aten.linalg_svdvals "
         "aten._linalg_svd aten._linalg_eigh aten.linalg_qr aten.linalg_eig "
         "aten.linalg_eigvals aten.linalg_lu aten.linalg_lu_factor aten.linalg_lu_factor_ex",
         "nonlinearity", Rule.SMOOTH, self_contraction=True, kinked=True)  # fmt: skip

# --- normalisation (fused ones are sites of kind normalization) --------------------
register("aten.softmax aten._softmax aten.log_softmax aten._log_softmax aten.layer_norm "
         "aten.native_layer_norm aten.rms_norm aten._fused_rms_norm aten.group_norm "
         "aten.native_group_norm aten.instance_norm aten.normalize "
         "aten._weight_norm aten._weight_norm_interface aten._safe_softmax "
         "aten.local_response_norm", "normalization",
         Rule.NORMALIZATION)  # fmt: skip
# sub-tensors longer than maxnorm scaled back to it: a switch where a norm crosses maxnorm
register("aten.renorm", "normalization", Rule.NORMALIZATION, kinked=True)
# batch norm: affine with static running statistics (eval), a normalisation otherwise
register("aten.batch_norm aten.native_batch_norm aten._native_batch_norm_legit "
         "aten._native_batch_norm_legit_no_training aten._native_batch_norm_legit_functional "
         "aten.cudnn_batch_norm aten.miopen_batch_norm", "normalization",
         Rule.BATCH_NORM)  # fmt: skip

# --- data-dependent selection ------------------------------------------------------
register("aten.eq aten.ne aten.gt aten.ge aten.lt aten.le aten.greater aten.less "
         "aten.greater_equal aten.less_equal aten.not_equal "
         "aten.sign aten.argmax aten.argmin aten.argsort aten.isnan aten.isinf "
         "aten.isfinite aten.isposinf aten.isneginf aten.signbit "
         "aten.logical_not aten.logical_and aten.logical_or aten.logical_xor "
         "aten.__and__ aten.__or__ aten.__xor__ aten.bitwise_and aten.bitwise_or "
         "aten.bitwise_and_ aten.bitwise_or_ aten.bitwise_xor_ aten.bitwise_not_ "
         "aten.logical_and_ aten.logical_or_ aten.logical_xor_ aten.logical_not_ "
         "aten.__iand__ aten.__ior__ aten.__ixor__ "
         "aten.bitwise_not aten.bitwise_xor aten.floor aten.ceil aten.round aten.trunc "
         "aten.fix "
         "aten.searchsorted aten.bucketize aten.nonzero aten.nonzero_static aten.any aten.all "
         "aten.floor_divide aten.isin aten.one_hot aten.histc "
         "aten.eq_ aten.__rshift__ aten.__lshift__ aten.is_nonzero aten._is_all_true "
         "aten._is_any_true aten.count_nonzero aten.equal aten.allclose aten.isclose "
         "aten.bernoulli aten.bernoulli_ aten.multinomial aten.poisson aten.binomial "
         "aten.sgn operator.floordiv operator.mod operator.eq operator.ne operator.lt "
         "operator.le operator.gt operator.ge operator.not_ torch.sym_not torch.sym_int "
         "math.ceil math.floor math.trunc builtins.round",
         "sparsity", Rule.COMPARE)  # fmt: skip
# `selector` names the condition / index arguments: a selection is data-dependent
# exactly when one of them is not static.
register("aten.where torch.sym_ite", "sparsity", Rule.WHERE, selector=(0,))
register("aten.masked_fill aten.masked_fill_ aten.masked_scatter aten.masked_select "
         "aten.index_put aten.index_put_ aten._index_put_impl_ aten._unsafe_index_put",
         "sparsity", Rule.WHERE, selector=(1,))  # fmt: skip
register("aten.scatter_add aten.scatter_add_ aten.index_add aten.index_add_ aten.index_copy "
         "aten.index_copy_ aten.index_fill aten.index_fill_", "sparsity", Rule.WHERE,
         selector=(2,))  # fmt: skip
# a reduction by a multiplying `reduce` multiplies the entries that land on one place
register("aten.scatter aten.scatter_ aten.scatter_reduce aten.scatter_reduce_ "
         "aten.index_reduce aten.index_reduce_", "sparsity", Rule.SCATTER,
         selector=(2,))  # fmt: skip
# weighted counts are linear in the weights, selected by the (discrete) values counted
register("aten.bincount", "sparsity", Rule.WHERE, selector=(0,))
register("aten.embedding aten.take aten.take_along_dim aten._unsafe_index aten.index "
         "aten._embedding_bag aten._embedding_bag_forward_only", "sparsity", Rule.LOOKUP,
         selector=(1,))  # fmt: skip
register("aten.embedding_bag", "sparsity", Rule.LOOKUP, selector=(1, 2))
register("aten.index_select aten.gather", "sparsity", Rule.LOOKUP, selector=(2,))
# the image is read at grid-dependent places; bilinear weights come from the grid
register("aten.grid_sampler aten.grid_sampler_2d aten.grid_sampler_3d "
         "aten._grid_sampler_2d_cpu_fallback", "sparsity", Rule.GRID_SAMPLE,
         selector=(1,))  # fmt: skip
register("aten.topk aten.sort aten.max aten.min aten.median aten.nanmedian aten.kthvalue "
         "aten.mode aten.cummin aten.cummax aten.msort aten._unique2 aten.unique_consecutive "
         "aten.unique_dim aten._unique", "sparsity", Rule.SELECT_TOP)  # fmt: skip

# --- backward ops (training-step graphs) -------------------------------------------
register("aten.mse_loss", "nonlinearity", Rule.SQUARE_REDUCTION)  # mean((x − y)²)
register("aten.l1_loss", "relu", Rule.RELU)
# quadratic within beta / delta of zero, linear beyond: degree 2 in (x − y)
register("aten.smooth_l1_loss aten.huber_loss", "nonlinearity", Rule.SQUARE_REDUCTION,
         kinked=True)  # fmt: skip
# −w·(y·log x + (1 − y)·log(1 − x)), and pos_weight·y·log σ(x): every tensor multiplies
register("aten.binary_cross_entropy_with_logits aten.soft_margin_loss", "nonlinearity",
         Rule.SMOOTH, multiplied=(0, 1, 2, 3))  # fmt: skip
# torch clamps its logarithms at −100: a kink where an input nears 0 or 1
register("aten.binary_cross_entropy", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1, 2),
         kinked=True)  # fmt: skip
# 2·δ·(x − y)/n: δ times a sum
register("aten.mse_loss_backward", "elementwise", Rule.PRODUCT, factors=((0,), (1, 2)))
# δ ⊙ f'(x): ReLU-like derivatives are steps (a data-dependent gate, degree 0)
register("aten.threshold_backward aten.hardtanh_backward aten.leaky_relu_backward "
         "aten.l1_loss_backward aten.smooth_l1_loss_backward aten.huber_loss_backward "
         "aten.rrelu_with_noise_backward", "relu", Rule.ACTIVATION_BACKWARD,
         derivative_degree=0)  # fmt: skip
# σ'(z) = σ(1 − σ) and tanh'(z) = 1 − tanh², read from the output y: degree 2 in y
register("aten.sigmoid_backward aten.tanh_backward aten._softmax_backward_data",
         "gating", Rule.ACTIVATION_BACKWARD, derivative_degree=2)  # fmt: skip
register("aten.silu_backward aten.gelu_backward aten.elu_backward aten.softplus_backward "
         "aten.hardswish_backward aten.hardsigmoid_backward aten.mish_backward "
         "aten.log_sigmoid_backward aten._log_softmax_backward_data "
         "aten.native_layer_norm_backward aten.native_group_norm_backward "
         "aten.native_batch_norm_backward aten._fused_rms_norm_backward "
         "aten.binary_cross_entropy_backward aten.logit_backward",
         "gating", Rule.ACTIVATION_BACKWARD)  # fmt: skip
# the weight gradient of a convolution correlates δ with the input: a contraction
register("aten.convolution_backward aten.mkldnn_convolution_backward", "matmul",
         Rule.CONV_BACKWARD)  # fmt: skip
register("aten._scaled_dot_product_flash_attention_for_cpu_backward "
         "aten._scaled_dot_product_flash_attention_backward "
         "aten._scaled_dot_product_efficient_attention_backward "
         "aten._scaled_dot_product_cudnn_attention_backward "
         "aten._scaled_dot_product_fused_attention_overrideable_backward",
         "matmul", Rule.ATTENTION_BACKWARD, implies=frozenset({"normalization"}))  # fmt: skip
# gradients scattered back to where they were read
register("aten.embedding_dense_backward aten.embedding_backward", "sparsity", Rule.WHERE,
         selector=(1,))  # fmt: skip
register("aten.max_pool2d_with_indices_backward aten.max_pool3d_with_indices_backward",
         "sparsity", Rule.WHERE, selector=(7,), value_args=("grad_output",))  # fmt: skip
# −w[t]·x[t]: a selection of the scores, times the class weights when they are given
register("aten.nll_loss_forward aten.nll_loss2d_forward aten.nll_loss aten.nll_loss2d "
         "aten.nll_loss_nd",
         "sparsity", Rule.WHERE, selector=(1,), factors=((0,), (2,)))  # fmt: skip
register("aten.nll_loss_backward aten.nll_loss2d_backward", "sparsity", Rule.WHERE,
         selector=(2,), value_args=("grad_output",))  # fmt: skip
register("aten.avg_pool2d_backward aten.avg_pool3d_backward aten._adaptive_avg_pool2d_backward "
         "aten._adaptive_avg_pool3d_backward aten.upsample_bilinear2d_backward "
         "aten.upsample_nearest2d_backward", "reduction", Rule.AFFINE)  # fmt: skip
register("aten.select_backward aten.slice_backward aten.index_select_backward "
         "aten.diagonal_backward aten.unfold_backward aten.expand_backward "
         "aten.permute_backward", "structural", Rule.STRUCTURAL)  # fmt: skip

# --- fused recurrent cells: matmuls with static weights, gates, tanh ---------------
# mkldnn_rnn_layer: one layer of the CPU's fused LSTM (the only cell oneDNN runs)
register("aten.lstm aten.gru aten.lstm_cell aten.gru_cell aten._thnn_fused_lstm_cell "
         "aten._thnn_fused_gru_cell aten.mkldnn_rnn_layer", "gating", Rule.RECURRENT,
         implies=frozenset({"matmul", "nonlinearity", "gating"}), gating_site=True)  # fmt: skip
register("aten.rnn_tanh aten.rnn_tanh_cell", "nonlinearity", Rule.RECURRENT,
         implies=frozenset({"matmul", "nonlinearity"}))  # fmt: skip
register("aten.rnn_relu aten.rnn_relu_cell", "relu", Rule.RECURRENT,
         implies=frozenset({"matmul", "relu"}))  # fmt: skip

# --- transposes: `transpose` when applied to a continuous value, else structural ---
TRANSPOSE_OPS = frozenset(
    "aten.transpose aten.permute aten.t aten.numpy_T aten.mT aten.swapaxes "
    "aten.swapdims aten.adjoint aten.matrix_H aten.movedim aten.moveaxis aten.transpose_ "
    "aten.t_ aten.permute_copy aten.transpose_copy aten.t_copy".split()
)
for _name in sorted(TRANSPOSE_OPS):
    register(_name, "transpose", Rule.STRUCTURAL)

# --- property sets the site pass reads (see analyzer.passes.sites) -----------------
# Reductions whose result is a statistic of their input (a mean, a norm, a maximum).
STATISTIC_OPS = frozenset(
    "aten.sum aten.mean aten.var aten.var_mean aten.std aten.amax aten.amin aten.max "
    "aten.min aten.logsumexp aten.norm aten.linalg_vector_norm aten.nansum "
    "aten.linalg_norm aten.frobenius_norm aten.std_mean aten.nanmean".split()
)
# Ops that keep every entry where it is: a pointwise root survives them.
IDENTITY_OPS = frozenset(
    "aten.to aten._to_copy aten.clone aten.contiguous aten.alias aten.detach aten.dropout "
    "aten.type_as aten.float aten.double aten.half aten.bfloat16 aten.lift_fresh_copy "
    "aten.alias_copy aten.detach_copy aten.native_dropout aten._local_scalar_dense "
    "aten.item".split()
)

# --- structural: data movement with no arithmetic ----------------------------------
register("aten.view aten.reshape aten._reshape_alias aten._unsafe_view aten.expand "
         "aten.expand_as aten.cat aten.concat aten.concatenate aten.stack aten.hstack "
         "aten.vstack aten.dstack aten.split aten.split_with_sizes aten.chunk "
         "aten.tensor_split aten.unbind aten.slice aten.select aten.narrow aten.squeeze "
         "aten.unsqueeze aten.flatten aten.unflatten aten.clone aten.contiguous aten.to "
         "aten._to_copy aten.type_as aten.view_as aten.reshape_as "
         "aten.repeat aten.repeat_interleave aten.roll aten.flip aten.fliplr aten.flipud "
         "aten.rot90 aten.pad aten.constant_pad_nd aten.reflection_pad1d "
         "aten.reflection_pad2d aten.reflection_pad3d aten.replication_pad1d "
         "aten.replication_pad2d aten.replication_pad3d aten.replicate_pad1d aten._pad_enum "
         "aten.circular_pad1d aten.circular_pad2d aten.circular_pad3d aten._pad_circular "
         "aten.tile aten.tril aten.triu aten.tril_ aten.triu_ "
         "aten.as_strided aten.diagonal aten.unfold aten.pixel_shuffle aten.pixel_unshuffle "
         "aten.im2col aten.col2im aten.broadcast_to aten.broadcast_tensors aten.float "
         "aten.double aten.half aten.bfloat16 aten.long aten.int aten.bool aten.lift "
         "aten.unsafe_split "
         "aten.unsafe_split_with_sizes aten.unsafe_chunk aten.alias_copy aten.view_copy "
         "aten.upsample_nearest1d aten.upsample_nearest2d aten.upsample_nearest3d "
         "aten._upsample_nearest_exact1d aten._upsample_nearest_exact2d "
         "aten._upsample_nearest_exact3d aten.slice_scatter aten.select_scatter "
         "aten.diagonal_scatter aten.as_strided_scatter aten.channel_shuffle "
         "aten.native_channel_shuffle aten.atleast_1d aten.atleast_2d aten.atleast_3d "
         "aten.diag_embed aten.diag aten.diagflat aten.view_as_real aten.view_as_complex "
         "aten.complex aten.real aten.imag aten.resolve_conj aten.resolve_neg aten.squeeze_ "
         "aten.unsqueeze_ aten.meshgrid aten.cartesian_prod aten.combinations "
         "aten.slice_copy aten.select_copy aten.expand_copy aten.squeeze_copy "
         "aten.unsqueeze_copy aten.split_copy aten.split_with_sizes_copy aten.unbind_copy "
         "aten.diagonal_copy aten.as_strided_copy aten.detach_copy aten.unfold_copy "
         "aten._unsafe_view_copy aten.movedim_copy aten.view_as_real_copy "
         "aten.view_as_complex_copy aten.narrow_copy aten.swapaxes_copy "
         "aten.set_ aten._local_scalar_dense aten.item analyzer.left_torch aten.scalar_tensor "
         "aten.linspace aten.arange "
         "aten.sym_float torch.sym_float builtins.float operator.getitem "
         "torch._functorch.predispatch._add_batch_dim "
         "torch._functorch.predispatch._remove_batch_dim "
         "torch._C._functorch._add_batch_dim torch._C._functorch._remove_batch_dim",
         "structural", Rule.STRUCTURAL)  # fmt: skip
# python arithmetic on scalars (sizes, or values read with .item())
register("operator.mul torch.sym_mul", "elementwise", Rule.PRODUCT)
register("operator.truediv", "elementwise", Rule.DIVIDE)
# values that depend on shapes (or on nothing) but never on the input's values
# a copy or a fill takes its values from the source / fill value alone
register("aten.copy aten.copy_", "structural", Rule.STRUCTURAL, value_args=("src",))
register("aten.fill aten.fill_ aten.full_like", "structural", Rule.STRUCTURAL,
         value_args=("value", "fill_value"))  # fmt: skip
register("aten.full aten.new_full", "structural", Rule.STRUCTURAL, value_args=("fill_value",))
register("aten.zeros aten.ones aten.empty aten.zero aten.zero_ aten.zeros_like "
         "aten.ones_like aten.empty_like aten.new_zeros aten.new_ones "
         "aten.new_empty aten.rand aten.randn "
         "aten.rand_like aten.randn_like aten.randint aten.randint_like aten.eye "
         "aten.empty_strided aten.new_empty_strided aten.sym_size aten.sym_numel "
         "aten.sym_stride aten.sym_storage_offset aten.size aten.numel aten.dim "
         "aten.stride aten._assert_tensor_metadata aten.uniform aten.uniform_ "
         "aten.exponential aten.exponential_ aten.geometric aten.cauchy aten.log_normal "
         "aten.random aten.random_ aten.normal_ aten.bernoulli.p "
         "aten._assert_scalar aten.sym_constrain_range_for_size aten._assert_async "
         "aten.sym_constrain_range aten._functional_sym_constrain_range_for_size "
         "aten._functional_sym_constrain_range aten._functional_assert_async "
         "aten.set_grad_enabled aten._has_compatible_shallow_copy_type "
         "aten.lift_fresh aten.randperm aten._print "
         "torch._C._set_grad_enabled torch.autograd.grad_mode._enter_autocast "
         "torch.autograd.grad_mode._exit_autocast torch.amp.autocast_mode._enter_autocast "
         "torch.amp.autocast_mode._exit_autocast torch._C._nn._parse_to "
         "torch._check torch._check_is_size builtins.len",
         "structural", Rule.STATIC)  # fmt: skip

# --- ops found by the census ----------------------------------------------------------
# boolean arithmetic on symbolic sizes (and conditions read with .item()): piecewise constant
register("operator.and_ operator.or_", "sparsity", Rule.COMPARE)
# vmap's level bookkeeping and decomposition loading: integers and None, no tensor data
register("torch._functorch.predispatch._vmap_increment_nesting "
         "torch._functorch.predispatch._vmap_decrement_nesting "
         "torch._functorch.predispatch.lazy_load_decompositions",
         "structural", Rule.STATIC)  # fmt: skip

# --- ops that PyTorch's OpInfo samples exercise (see tests/passes/test_opinfo.py) ------
# special functions: smooth in their argument, entrywise
register("aten.special_airy_ai aten.special_bessel_j0 aten.special_bessel_j1 "
         "aten.special_bessel_y0 aten.special_bessel_y1 aten.special_modified_bessel_i0 "
         "aten.special_modified_bessel_i1 aten.special_modified_bessel_k0 "
         "aten.special_modified_bessel_k1 aten.special_scaled_modified_bessel_k0 "
         "aten.special_scaled_modified_bessel_k1 aten.special_spherical_bessel_j0 "
         "aten.polygamma aten.special_polygamma aten.special_digamma aten.special_psi "
         "aten.special_gammaln aten.special_multigammaln aten.special_expit aten.special_exp2 "
         "aten.special_expm1 aten.special_logit aten.special_erf aten.special_erfc "
         "aten.special_erfinv aten.special_sinc aten.special_log1p aten.special_i0 "
         "aten.digamma_ aten.lgamma_ aten.polygamma_ aten.erfinv_ aten.i0_",
         "nonlinearity", Rule.SMOOTH, **_p)  # fmt: skip
# entr(x) = −x·log x for x > 0, 0 at 0, −∞ below: pieces joined at 0
register("aten.special_entr", "nonlinearity", Rule.SMOOTH, kinked=True, **_p)
# smooth in both arguments, which they multiply inside (ζ(x, q) = Σ (q + k)^−x, Γ(a, x)):
register("aten.special_zeta aten.igamma aten.igammac aten.special_gammainc "
         "aten.special_gammaincc", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1),
         site_kind="gating", **_p)  # fmt: skip
# orthogonal polynomials p_n(x): the degree n is a tensor too, truncated to an integer
register("aten.special_chebyshev_polynomial_t aten.special_chebyshev_polynomial_u "
         "aten.special_chebyshev_polynomial_v aten.special_chebyshev_polynomial_w "
         "aten.special_shifted_chebyshev_polynomial_t aten.special_shifted_chebyshev_polynomial_u "
         "aten.special_shifted_chebyshev_polynomial_v aten.special_shifted_chebyshev_polynomial_w "
         "aten.special_hermite_polynomial_h aten.special_hermite_polynomial_he "
         "aten.special_laguerre_polynomial_l aten.special_legendre_polynomial_p",
         "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating", kinked=True,
         **_p)  # fmt: skip
register("aten.special_softmax aten.special_log_softmax", "normalization", Rule.NORMALIZATION)
register("aten.special_logsumexp", "nonlinearity", Rule.SMOOTH)
register("aten.special_round aten.isreal aten.argwhere "
         "aten.bitwise_left_shift aten.bitwise_right_shift aten.gcd aten.lcm "
         "aten.linalg_matrix_rank", "sparsity", Rule.COMPARE)  # fmt: skip
# logit clamps to [eps, 1 − eps] when given eps; √(a² + b²) has a cone at a = b = 0
register("aten.logit aten.hypot", "nonlinearity", Rule.SMOOTH, kinked=True, **_p)
# a hash of the input's bits changes with every change of a value: not piecewise constant,
# nowhere continuous (the worst case, named)
register("aten.hash_tensor", "nonlinearity", Rule.SMOOTH, kinked=True)
# pointwise arithmetic: degrees ↔ radians; x·2ᵉ; the float next to x; mantissa and exponent
register("aten.deg2rad aten.rad2deg", "elementwise", Rule.AFFINE, **_p)
register("aten.ldexp", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating",
         kinked=True, **_p)  # fmt: skip
register("aten.nextafter", "relu", Rule.RELU, **_p)
register("aten.frexp", "relu", Rule.SELECT_TOP)
# matrix functions and factorisations: smooth, multiplying distinct entries
register("aten.linalg_householder_product aten.ormqr "
         "aten._linalg_slogdet aten.linalg_ldl_solve aten.linalg_lu_solve "
         "aten.lu_solve aten.linalg_tensorinv aten.linalg_tensorsolve", "nonlinearity",
         Rule.SMOOTH, self_contraction=True)  # fmt: skip
# pivoting (LDL), sorted singular values (cond, svd), sign choices (geqrf, qr), eigenvalue
# order: branch switches, as for the linalg decompositions above
register("aten.linalg_cond aten.geqrf aten.linalg_ldl_factor aten.linalg_ldl_factor_ex "
         "aten.svd aten.qr aten._linalg_eigvals", "nonlinearity", Rule.SMOOTH,
         self_contraction=True, kinked=True)  # fmt: skip
# powers x⁰ … xᴺ⁻¹ of each entry (a self-product, not pointwise in layout)
register("aten.linalg_vander", "nonlinearity", Rule.SMOOTH)
register("aten.pinverse", "gating", Rule.INVERSE, kinked=True)
register("aten.lu_unpack aten.linalg_diagonal aten.block_diag aten.column_stack aten.dsplit "
         "aten.hsplit aten.vsplit aten.ravel aten._chunk_cat aten.chalf aten.resize_ "
         "aten.resize_as_ aten.resize aten.resize_as aten.to_sparse", "structural",
         Rule.STRUCTURAL)  # fmt: skip
register("aten.mH", "transpose", Rule.STRUCTURAL)
register("aten.empty_permuted aten.tril_indices aten.triu_indices aten._linalg_check_errors",
         "structural", Rule.STATIC)  # fmt: skip
# losses: margins are ReLU-like; class weights and p = 2 multiply (over-approximated smooth)
register("aten.multilabel_margin_loss aten.multilabel_margin_loss_forward", "relu", Rule.RELU)
register("aten.multi_margin_loss", "nonlinearity", Rule.SMOOTH, multiplied=(0, 4),
         kinked=True)  # fmt: skip
register("aten._ctc_loss aten.ctc_loss", "nonlinearity", Rule.SMOOTH, kinked=True)
# statistics: a linear interpolation between order statistics, weighted by q's position
register("aten.quantile aten.nanquantile", "relu", Rule.PRODUCT, multiplied=(0, 1),
         kinked=True)  # fmt: skip
register("aten.histogramdd aten._histogramdd_bin_edges aten._histogramdd_from_bin_cts "
         "aten._histogramdd_from_bin_tensors", "relu", Rule.HISTOGRAM)  # fmt: skip
# segment reductions: sums, means, maxima, and (reduce='prod') products of entries
register("aten.segment_reduce aten._segment_reduce", "nonlinearity", Rule.SMOOTH,
         self_contraction=True, kinked=True)  # fmt: skip
# spectra: the short-time transform windows the signal (a product when the window varies);
# the inverse divides by the window's overlap-added square
register("aten.fft_hfft2 aten.fft_hfftn aten.fft_ihfft2 aten.fft_ihfftn", "matmul", Rule.AFFINE)
register("aten.stft", "matmul", Rule.CONTRACTION, multiplied=(0, 4))
register("aten.istft", "nonlinearity", Rule.SMOOTH, multiplied=(0, 4), site_kind="gating")
# pooling: unpooling places values at stored indices; pairwise distances within one tensor
register("aten.max_unpool2d aten.max_unpool3d", "sparsity", Rule.WHERE, selector=(1,))
register("aten.fractional_max_pool3d aten.max_pool1d_with_indices", "relu", Rule.RELU)
register("aten.pdist aten._pdist_forward", "nonlinearity", Rule.SMOOTH, self_contraction=True,
         kinked=True)  # fmt: skip
# the affine grid base·θᵀ: linear in θ
register("aten.affine_grid_generator", "matmul", Rule.AFFINE)
# linear maps: finite differences (smooth over-approximation when the spacing varies;
# a varying spacing divides the differences: a quotient of two continuous values),
# sums to a shape, the trapezoid rule, a distance
register("aten.gradient", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating")
register("aten.sum_to_size", "reduction", Rule.AFFINE)
register("aten.trapz", "reduction", Rule.PRODUCT, multiplied=(0, 1))
register("aten.dist", "nonlinearity", Rule.NORM)
# batch norm that updates its running statistics normalises by the batch's
register("aten._batch_norm_with_update aten._batch_norm_with_update_functional",
         "normalization", Rule.NORMALIZATION)  # fmt: skip
register("aten._batch_norm_no_update", "normalization", Rule.BATCH_NORM)
# masked reads and writes at stored places, and dropout's backward δ·mask·scale
register("aten._unsafe_masked_index", "sparsity", Rule.LOOKUP, selector=(1, 2))
register("aten._unsafe_masked_index_put_accumulate", "sparsity", Rule.WHERE, selector=(1, 2))
register("aten.put aten.put_", "sparsity", Rule.WHERE, selector=(1,))
register("aten.native_dropout_backward", "sparsity", Rule.WHERE, selector=(1,))
# addmm followed by relu or gelu in one op
register("aten._addmm_activation", "matmul", Rule.SMOOTH, multiplied=(1, 2),
         site_kind="contraction", kinked=True)  # fmt: skip
register("aten._lu_with_info", "nonlinearity", Rule.SMOOTH, self_contraction=True, kinked=True)
register("aten.feature_alpha_dropout", "elementwise", Rule.AFFINE)
# −Σ t·w·log_softmax(x) (mean: divided by Σ w): a normalisation, and a product of the
# scores with the weights or with probabilistic targets when they vary
register("aten.cross_entropy_loss", "normalization", Rule.NORMALIZATION, multiplied=(0, 1, 2))
# t·(log t − x), exp(x) − t·x: products of the prediction and the target
register("aten.kl_div", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1), site_kind="gating")
register("aten.poisson_nll_loss", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1),
         site_kind="gating", kinked=True)  # fmt: skip
# margins on a similarity or on −y·(x1 − x2): products of the inputs (and of the label)
register("aten.cosine_embedding_loss", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1, 2),
         site_kind="contraction", kinked=True)  # fmt: skip
register("aten.margin_ranking_loss", "nonlinearity", Rule.SMOOTH, multiplied=(0, 1, 2),
         kinked=True)  # fmt: skip
# x where the label is 1, max(0, margin − x) where it is −1: a selection by the label
register("aten.hinge_embedding_loss", "relu", Rule.RELU)
register("aten.triplet_margin_loss", "nonlinearity", Rule.SMOOTH, kinked=True)
# rows of a table longer than max_norm divided by their norm (row · min(1, m / ‖row‖)):
# a normalisation of each row, switched on by the row's length
register("aten.embedding_renorm aten.embedding_renorm_", "normalization", Rule.NORMALIZATION,
         kinked=True)  # fmt: skip
register("aten.nonzero_numpy", "sparsity", Rule.COMPARE)
# x.view(int32): the float's bits read as an integer (and back): no polynomial, no pieces
# one could count; a view between a float and the complex type of its width pairs entries
register("aten.view.dtype aten.view_copy.dtype", "nonlinearity", Rule.BITCAST)
