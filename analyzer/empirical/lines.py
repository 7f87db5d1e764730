"""Degrees along random lines by interpolating first derivatives, kinks frozen.

A value of degree ``≤ k`` along a line ``x₀ + t·d`` has a first derivative of degree
``≤ k − 1`` in ``t``: its ``k``-th finite difference at ``cap + 1`` equally spaced points
vanishes. The slopes come from one forward-mode ``jvp`` per point (batched with
``vmap`` over the points), so ``cap + 1`` first-order passes replace the ``2^(cap+1)``-cost
nested ``jvp`` — and first-order forward AD is exact even for the ops whose nested
derivatives PyTorch gets wrong. Tangents carry no constant offset, so the tolerance is
relative to the slope's own scale, and a static value has exactly zero slope.

Within one activation region a piecewise-linear op is affine, so every such node is
evaluated as its linearisation at the line's centre, ``f(z₀) + J_f(z₀)(z − z₀)``, and
every node with an integer or boolean value (a comparison, an argmax) keeps its value
at the centre: along the whole line the model then computes exactly the polynomial
piece it computes around ``x₀``, as nested ``jvp`` at ``x₀`` does. This holds only for
ops known to be analytic or piecewise linear (:data:`ANALYTIC`,
:data:`PIECEWISE_LINEAR`); a graph with any other varying op is measured by nested
``jvp`` instead (:func:`analyzer.empirical.checks.measure_degrees`).

>>> slopes = torch.tensor([[[1.0], [2.0], [3.0], [4.0], [5.0]]])  # f = t²/2 + t
>>> line_degree(slopes[0, :, 0], cap=4)
2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
from torch.func import jvp, vmap

from analyzer.empirical.execute import Program, is_real_valued
from analyzer.frontend.dialect import op_name

RELATIVE_TOLERANCE = 1e-8

_names = str.split
# Analytic in their floating-point arguments for fixed integer/boolean arguments:
# arithmetic, contractions, smooth functions, normalisations, data movement, lookups.
# (softplus turns linear above its threshold, βx > 20, where it differs from the analytic
# function by e^-20 ≈ 2e-9 of its slope: below the tolerance, so the switch is invisible.)
ANALYTIC = frozenset(
    f"aten.{n}"
    for n in _names(
        """add add_ sub sub_ rsub neg mul mul_ multiply div div_ divide true_divide
        reciprocal pow pow_ square sqrt rsqrt exp exp2 expm1 log log2 log10 log1p tanh
        sigmoid sin cos tan sinh cosh asin acos atan atan2 asinh acosh atanh erf erfc erfinv
        gelu silu silu_ mish logit lerp addcmul addcdiv xlogy softplus log_sigmoid_forward
        softmax _softmax log_softmax _log_softmax _safe_softmax logsumexp logcumsumexp
        layer_norm native_layer_norm group_norm native_group_norm batch_norm
        native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training
        _native_batch_norm_legit_functional instance_norm rms_norm _fused_rms_norm
        var var_mean std std_mean mean sum nansum prod cumsum cumprod trace diff dot vdot
        mm bmm matmul linear addmm baddbmm addbmm addmv addr mv inner outer einsum bilinear
        _trilinear kron tensordot conv1d conv2d conv3d convolution _convolution
        conv_transpose1d conv_transpose2d conv_transpose3d
        scaled_dot_product_attention _scaled_dot_product_attention_math
        _scaled_dot_product_flash_attention_for_cpu
        linalg_det det _linalg_det linalg_slogdet slogdet logdet linalg_solve
        _linalg_solve_ex linalg_solve_ex linalg_inv linalg_inv_ex inverse cdist _cdist_forward
        linalg_vector_norm linalg_norm norm frobenius_norm cosine_similarity normalize
        avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d
        adaptive_avg_pool3d _adaptive_avg_pool2d upsample_bilinear2d upsample_linear1d
        upsample_trilinear3d upsample_bicubic2d upsample_nearest1d upsample_nearest2d
        upsample_nearest3d _upsample_nearest_exact2d
        fft_fft fft_ifft fft_rfft fft_irfft fft_fftn fft_ifftn fft_rfftn fft_irfftn
        _fft_r2c _fft_c2r _fft_c2c view_as_real view_as_complex real imag conj
        _conj resolve_conj complex polar
        lstm gru rnn_tanh lstm_cell gru_cell rnn_tanh_cell
        glu dropout native_dropout feature_dropout alpha_dropout embedding embedding_bag
        _embedding_bag
        view reshape _reshape_alias _unsafe_view expand expand_as permute transpose t
        swapaxes swapdims movedim squeeze unsqueeze flatten unflatten clone contiguous
        alias detach lift_fresh_copy copy copy_ _to_copy to type_as slice select narrow
        split split_with_sizes chunk unbind cat concat concatenate stack hstack vstack
        repeat repeat_interleave tile flip roll rot90 pad constant_pad_nd reflection_pad1d
        reflection_pad2d replication_pad1d replication_pad2d diagonal diag diag_embed
        tril triu index index_select gather take take_along_dim _unsafe_index index_put
        index_put_ _unsafe_index_put index_add index_add_ index_copy index_fill scatter
        scatter_ scatter_add scatter_reduce index_reduce masked_fill masked_fill_
        masked_scatter where zeros zeros_like ones ones_like full full_like empty
        empty_like new_zeros new_ones new_full new_empty arange linspace scalar_tensor
        fill fill_ zero_ item _local_scalar_dense sym_size sym_numel sym_stride set_
        lift_fresh normal bernoulli rand_like randn_like _assert_tensor_metadata
        normal_functional uniform exponential cauchy log_normal geometric random
        pixel_shuffle pixel_unshuffle unfold im2col col2im
        slice_scatter select_scatter diagonal_scatter as_strided_scatter as_strided
        empty_strided new_empty_strided view_copy permute_copy expand_copy slice_copy
        select_copy transpose_copy unsqueeze_copy squeeze_copy t_copy as_strided_copy
        diagonal_copy split_copy split_with_sizes_copy unbind_copy alias_copy detach_copy
        _unsafe_view_copy view_as_real_copy view_as_complex_copy unfold_copy
        mse_loss mse_loss_backward sigmoid_backward tanh_backward silu_backward
        gelu_backward softplus_backward _softmax_backward_data _log_softmax_backward_data
        native_layer_norm_backward native_group_norm_backward convolution_backward
        embedding_dense_backward nll_loss_forward nll_loss_backward
        _scaled_dot_product_flash_attention_for_cpu_backward avg_pool2d_backward
        _adaptive_avg_pool2d_backward select_backward slice_backward""",
    )
)
# ops outside aten run by an explicit implementation (analyzer.empirical.ops) that is analytic
ANALYTIC |= {"transformers.grouped_mm_fallback"}
# Affine on each piece of a partition of input space: linearised at the line's centre.
PIECEWISE_LINEAR = frozenset(
    f"aten.{n}"
    for n in _names(
        """relu relu_ relu6 leaky_relu leaky_relu_ hardtanh hardtanh_ hardsigmoid clamp
        clamp_ clamp_min clamp_max clip maximum minimum fmax fmin max min amax amin
        max_pool1d max_pool2d max_pool3d max_pool2d_with_indices max_pool3d_with_indices
        adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d sort topk kthvalue
        median nanmedian cummax cummin threshold hardshrink softshrink floor ceil round
        trunc frac sign sgn heaviside remainder fmod abs rrelu prelu _prelu_kernel rnn_relu
        rnn_relu_cell histc threshold_backward hardtanh_backward leaky_relu_backward
        max_pool2d_with_indices_backward max_pool3d_with_indices_backward""",
    )
)


def interpolation_blockers(program: Program) -> list[str]:
    """The varying ops (by name) that are neither analytic nor piecewise linear, nor
    integer-valued; an empty list means the line interpolation is exact."""
    blocked = set()
    for node in program.graph.nodes:
        if node.op != "call_function" or node not in program.varying:
            continue
        name = op_name(node)
        if name in ANALYTIC or name.startswith(("operator.", "_operator.", "builtins.")):
            continue
        if _piecewise_linear(program, node):
            continue
        if _integer_valued(node):
            continue
        if name.startswith(("aten._assert", "aten.sym_", "aten._check", "aten._functional")):
            continue
        blocked.add(name)
    return sorted(blocked)


def frozen_nodes(program: Program) -> frozenset[str]:
    """The varying nodes fixed to their state at the line's centre: piecewise-linear
    ops (linearised) and integer or boolean values (kept)."""
    found = set()
    for node in program.graph.nodes:
        if node.op != "call_function" or node not in program.varying:
            continue
        if _piecewise_linear(program, node) or _integer_valued(node):
            found.add(node.name)
    return frozenset(found)


def _piecewise_linear(program: Program, node: fx.Node) -> bool:
    """Piecewise linear in all its varying arguments together: not ``abs`` of a complex
    value, not PReLU with a varying slope (``s·x`` is bilinear)."""
    name = op_name(node)
    if name not in PIECEWISE_LINEAR or _complex_abs(node):
        return False
    if name in ("aten.prelu", "aten._prelu_kernel", "aten.rrelu"):
        slope = node.args[1] if len(node.args) > 1 else None
        return not (isinstance(slope, fx.Node) and slope in program.varying)
    return True


def _complex_abs(node: fx.Node) -> bool:
    source = node.args[0] if node.args else None
    value = source.meta.get("val") if isinstance(source, fx.Node) else None
    return (
        op_name(node) in ("aten.abs", "aten.sgn")
        and isinstance(value, torch.Tensor)
        and (value.is_complex())
    )


def _integer_valued(node: fx.Node) -> bool:
    value = node.meta.get("val")
    leaves = value if isinstance(value, (tuple, list)) else (value,)
    tensors = [v for v in leaves if isinstance(v, torch.Tensor)]
    if tensors:
        return not any(is_real_valued(t) for t in tensors)
    return isinstance(value, (int, bool)) and not isinstance(value, float)


def measure_slopes(
    program: Program,
    keys: list[str],
    projection: Callable[[str, Any], torch.Tensor],
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    cap: int,
    batcher: Any,
    task: Any = None,
) -> torch.Tensor:
    """``(samples, cap + 1, keys)``: projected slopes along each line at ``cap + 1``
    points spanning half a root-mean-square either side of the sample point."""
    count = len(program.sources)
    watched = frozenset(keys)
    frozen = frozen_nodes(program)
    offsets = (torch.arange(cap + 1, dtype=torch.float64) - cap / 2) / max(cap, 1)
    offsets = offsets.to(program.device)

    def per_sample(*stacked: torch.Tensor) -> torch.Tensor:
        point, direction = stacked[:count], stacked[count:]
        centre: dict[str, Any] = {}
        if frozen:
            program.run(point, record=centre, recorded=frozen)

        def along(t: torch.Tensor) -> torch.Tensor:
            x = tuple(p + t * d for p, d in zip(point, direction, strict=True))
            found: dict[str, Any] = {}
            found["output"] = program.run(x, found.__setitem__, watched, frozen=centre)
            return torch.stack([projection(k, found.get(k)) for k in keys])

        def slope(t: torch.Tensor) -> torch.Tensor:
            return jvp(along, (t,), (torch.ones_like(t),))[1]

        if batcher.mode == "vmap":
            return vmap(slope, randomness="same")(offsets)
        return torch.stack([slope(t) for t in offsets])

    return batcher(per_sample, *points, *lines, task=task)


def line_degree(slopes: torch.Tensor, cap: int) -> int | float:
    """The degree along one line from its slopes at ``cap + 1`` equally spaced points:
    0 when every slope is exactly zero, else the smallest ``k ≤ cap`` whose ``k``-th
    difference of the slopes vanishes relative to the slopes' scale, else ``inf``;
    ``nan`` where a slope is undefined (outside the model's domain)."""
    if not bool(torch.isfinite(slopes).all()):
        return math.nan
    scale = float(slopes.abs().amax())
    if scale == 0:
        return 0
    difference = slopes
    for k in range(1, cap + 1):
        difference = difference[1:] - difference[:-1]
        if float(difference.abs().amax()) <= RELATIVE_TOLERANCE * 2**k * scale:
            return k
    return math.inf


def difference_norms(slopes: torch.Tensor, cap: int) -> list[float]:
    """Per order ``1 … cap + 1``, the largest estimated derivative over the samples (the
    ``k``-th difference of the slopes over ``spacingᵏ``), for the report."""
    spacing = 1.0 / max(cap, 1)
    norms = []
    difference = slopes
    for k in range(cap + 1):
        finite = difference[torch.isfinite(difference)]
        norms.append(float(finite.abs().amax()) / spacing**k if finite.numel() else math.nan)
        difference = difference[:, 1:] - difference[:, :-1]
    return norms


def line_degrees(slopes: torch.Tensor, cap: int) -> list[float]:
    """:func:`line_degree` for every value at once: ``slopes`` is ``(samples, cap + 1,
    values)``; the result is each value's largest degree over the samples where it is
    defined (``nan`` where it is defined at none)."""
    finite = torch.isfinite(slopes).all(dim=1)  # (samples, values)
    slopes = torch.where(torch.isfinite(slopes), slopes, torch.zeros_like(slopes))
    scale = slopes.abs().amax(dim=1)
    degree = torch.full(scale.shape, math.inf, dtype=torch.float64, device=slopes.device)
    degree = torch.where(scale == 0, torch.zeros_like(degree), degree)
    difference = slopes
    for k in range(1, cap + 1):
        difference = difference[:, 1:] - difference[:, :-1]
        vanished = difference.abs().amax(dim=1) <= RELATIVE_TOLERANCE * 2**k * scale
        degree = torch.where(vanished & (degree > k), torch.full_like(degree, k), degree)
    degree = torch.where(finite, degree, torch.full_like(degree, -1.0))
    best = degree.amax(dim=0)
    return [math.nan if d < 0 else float(d) for d in best.tolist()]


def measure_values(
    program: Program,
    keys: list[str],
    projection: Callable[[str, Any], torch.Tensor],
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    cap: int,
    batcher: Any,
    task: Any = None,
    span: float = 1.0,
) -> torch.Tensor:
    """``(samples, cap + 2, keys)``: projected values along each line at ``cap + 2``
    equally spaced points spanning ``span / 2`` root-mean-squares either side of the
    sample point, piecewise-linear and integer nodes frozen at the centre as in
    :func:`measure_slopes`. For graphs with an op whose derivatives are finite
    differences (first order only): values need no derivative at all."""
    count = len(program.sources)
    watched = frozenset(keys)
    frozen = frozen_nodes(program)
    offsets = (torch.arange(cap + 2, dtype=torch.float64) - (cap + 1) / 2) / (cap + 1) * span

    def per_sample(*stacked: torch.Tensor) -> torch.Tensor:
        point, direction = stacked[:count], stacked[count:]
        centre: dict[str, Any] = {}
        if frozen:
            program.run(point, record=centre, recorded=frozen)
        rows = []
        for t in offsets.tolist():
            x = tuple(p + t * d for p, d in zip(point, direction, strict=True))
            found: dict[str, Any] = {}
            found["output"] = program.run(x, found.__setitem__, watched, frozen=centre)
            rows.append(torch.stack([projection(k, found.get(k)) for k in keys]))
        return torch.stack(rows)

    with torch.no_grad():
        return batcher(per_sample, *points, *lines, task=task)


VALUE_SPANS = (1.0, 0.125)  # a kink inside an op run by finite differences cannot be
# frozen: a line that crosses one reads every order; the shorter span rarely crosses it, and
# a polynomial reads the same degree at both (its top difference is still ~4e-7 of the first
# at order 4, far above the tolerance), so the smaller reading of the two is kept


def value_degrees(
    values: torch.Tensor, cap: int, epsilon: float = torch.finfo(torch.float64).eps
) -> tuple[list[float], list[float]]:
    """Per value of ``(samples, cap + 2, values)``: the largest degree over the samples
    whose values are finite (``nan`` where none is) — the smallest ``k ≤ cap`` whose
    ``(k+1)``-th difference vanishes relative to the differences of orders ``1 … k`` and
    to the rounding of the values themselves, else ``inf`` — and, for the last column
    (the output) in the report, the largest difference of each order ``1 … cap + 1``
    over the spacing to that power (an estimate of the derivative). ``epsilon``: the
    machine epsilon the values were computed at.

    >>> t = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64)
    >>> value_degrees(torch.stack([t**2, t**3 + 1, t.exp()], dim=1)[None], cap=4)[0]
    [2.0, 3.0, inf]
    """
    finite = torch.isfinite(values).all(dim=1)  # (samples, values)
    values = torch.where(torch.isfinite(values), values, torch.zeros_like(values))
    magnitude = values.abs().amax(dim=1)
    differences = [values]
    for _ in range(cap + 1):
        differences.append(differences[-1][:, 1:] - differences[-1][:, :-1])
    sizes = [d.abs().amax(dim=1) for d in differences]  # per order: (samples, values)
    degree = torch.full(magnitude.shape, math.inf, dtype=torch.float64, device=values.device)
    degree = torch.where(sizes[1] == 0, torch.zeros_like(degree), degree)
    for k in range(1, cap + 1):
        scale = torch.stack(sizes[1 : k + 1]).amax(dim=0)
        rounding = 64 * 2 ** (k + 1) * epsilon * magnitude
        vanished = sizes[k + 1] <= torch.maximum(RELATIVE_TOLERANCE * scale, rounding)
        degree = torch.where(vanished & (degree > k), torch.full_like(degree, k), degree)
    degree = torch.where(finite, degree, torch.full_like(degree, -1.0))
    spacing = 1.0 / (cap + 1)
    norms = [float(sizes[k][:, -1].amax()) / spacing**k for k in range(1, cap + 2)]
    return [math.nan if d < 0 else float(d) for d in degree.amax(dim=0).tolist()], norms
