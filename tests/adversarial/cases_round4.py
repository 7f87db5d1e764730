"""Class 13: a fourth red-team round, held out from the engineers who fix issue 19.

Hostile models aimed at the frontier issue 19 moved: values that leave torch by routes the
escapes class does not take (bytes, ``torch.save``, a formatted string, DLPack, a Python
``max`` over ``tolist()``, a custom autograd.Function or ``torch.library`` op whose body runs
numpy), escaped numbers that scale fused ops (``lerp``'s weight, ``addcdiv``'s value, ``baddbmm``'s
``alpha`` and ``beta``, SDPA's ``scale``), fused normalizations whose affine arguments come from
an input (``group_norm``, ``rms_norm``, ``instance_norm``, training ``batch_norm``), linear
algebra and scans (``cumprod``, ``trace``, ``tensordot``, ``vecdot``, ``svdvals``), complex
numbers, casts to integers and back, data-dependent shapes, random draws with
input-dependent parameters, hooks, and ``einsum`` strings that contract an operand with
itself. Each truth is written from the maths and confirmed by the oracle.

Cases on which ``analyze`` makes a false claim, crashes, or ``validate`` fails (a crash, a
refusal, agreement with a false claim, a wrong measured degree) are kept in
:data:`FOUND_FALSE_CLAIMS`, not registered, so that the default suite stays green;
``test_redteam.py`` pins each as a strict ``xfail`` with what the tool says.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import (
    ANY_SITE,
    CONTRACTION,
    GATING,
    NORMALIZATION,
    Case,
    Fn,
    Truth,
    attention_parts,
    case_or_finding,
    truth,
)

GROUP = "round4"
FOUND_FALSE_CLAIMS: dict[str, tuple[Case, str]] = {}
"""Cases the tool gets wrong today, with what it says: name → (case, finding)."""


def probe(
    expected: Truth, **options: Any
) -> Callable[[Callable[[], tuple[Any, ...]]], Callable[[], tuple[Any, ...]]]:
    """Register a case of this round, or keep it in :data:`FOUND_FALSE_CLAIMS`
    (:func:`~tests.adversarial.catalogue.case_or_finding`)."""
    return case_or_finding(GROUP, FOUND_FALSE_CLAIMS, expected, **options)


def says_piecewise(doc: dict[str, Any]) -> list[str]:
    """The model is piecewise (a max, a sort, a selection, an abs): the analysis must not
    publish ``piecewise: false``."""
    return [] if doc["piecewise"] else ["piecewise false, the function is piecewise"]


PIECEWISE = (says_piecewise,)


def _x(*shape: int) -> tuple[torch.Tensor]:
    return (torch.randn(*(shape or (2, 4))),)


def _xy(*shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    shape = shape or (2, 4)
    return torch.randn(*shape), torch.randn(*shape)


# --- values that leave torch by other routes ----------------------------------------------
@probe(truth(2, cross=False))
def bytes_round_trip_square():
    """x · frombuffer(x.numpy().tobytes()): the copy travels as raw bytes; x² entrywise."""

    def forward(m, x):
        raw = bytearray(x.detach().numpy().tobytes())
        return x * torch.frombuffer(raw, dtype=x.dtype).view_as(x)

    return Fn(forward), _x()


@probe(truth(2, cross=False))
def torch_save_load_square():
    """x · torch.load(torch.save(x)): the copy travels through serialisation; x²."""

    def forward(m, x):
        buffer = io.BytesIO()
        torch.save(x.detach(), buffer)
        buffer.seek(0)
        return x * torch.load(buffer)

    return Fn(forward), _x()


@probe(truth(2, ANY_SITE))
def formatted_string_scale():
    """x · float(f"{Σy:.17g}"): an input's sum read back from a string multiplies x."""
    return Fn(lambda m, x, y: x * float(f"{y.sum().item():.17g}")), _xy()


@probe(truth(2, cross=False))
def dlpack_alias_square():
    """x · from_dlpack(x): an alias made through DLPack, the same values; x²."""
    return Fn(lambda m, x: x * torch.utils.dlpack.from_dlpack(x.detach())), _x()


@probe(truth(2, ANY_SITE), checks=PIECEWISE)
def python_max_of_tolist():
    """x · max(y.tolist()): Python's max over a list picks an entry of y; y_k·x."""
    return Fn(lambda m, x, y: x * max(y.flatten().tolist())), _xy()


@probe(truth(2, CONTRACTION))
def numpy_gram_matrix():
    """x @ from_numpy(x.numpy().T): a Gram matrix whose transpose is made by numpy."""
    return Fn(lambda m, x: x @ torch.from_numpy(x.detach().numpy().T.copy())), _x()


@probe(truth(2, ANY_SITE))
def numpy_row_sum_gate():
    """x · as_tensor(x.numpy().sum(1, keepdims=True)): each entry times its row's sum."""
    return Fn(lambda m, x: x * torch.as_tensor(x.detach().numpy().sum(1, keepdims=True))), _x()


@probe(truth(2, ANY_SITE), checks=PIECEWISE)
def numpy_sort_gate():
    """x · from_numpy(np.sort(x.numpy())): each entry times an order statistic of its row."""
    return Fn(lambda m, x: x * torch.from_numpy(np.sort(x.detach().numpy(), axis=-1))), _x()


@probe(truth(2, cross=False))
def legacy_constructor_square():
    """x · torch.Tensor(x.tolist()): the legacy constructor rebuilds x from Python floats."""
    return Fn(lambda m, x: x * torch.Tensor(x.tolist())), _x()


@probe(truth(2, cross=False))
def python_loop_sum_of_squares():
    """Σ v·v over x.tolist() in Python, broadcast as a tensor: Σx², no cross terms."""

    def forward(m, x):
        total = 0.0
        for v in x.flatten().tolist():
            total += v * v
        return torch.zeros(2) + torch.tensor(total)

    return Fn(forward), _x()


class NumpyMatmul(torch.autograd.Function):
    """a @ b computed by numpy inside a custom autograd.Function (backward: none needed)."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(a.detach().numpy() @ b.detach().numpy())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return grad, grad


@probe(
    truth(2, ANY_SITE),
)
def numpy_matmul_function():
    """NumpyMatmul.apply(x, y): a product of two inputs computed by numpy."""
    return Fn(lambda m, x, y: NumpyMatmul.apply(x, y)), (torch.randn(2, 3), torch.randn(3, 2))


class ItemNormalise(torch.autograd.Function):
    """x / max|x| with the maximum read by .item() inside forward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x / x.abs().max().item()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


@probe(truth(math.inf, ANY_SITE), checks=PIECEWISE)
def item_inside_function():
    """ItemNormalise.apply(x) = x / max|x|: a quotient hidden in a Function's .item()."""
    return Fn(lambda m, x: ItemNormalise.apply(x)), _x()


@torch.library.custom_op("adversarial_round4::numpy_mul", mutates_args=())
def numpy_mul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x·y computed by numpy: a torch.library op with a fake kernel, so export keeps it."""
    return torch.from_numpy(x.detach().numpy() * y.detach().numpy())


@numpy_mul.register_fake
def _(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@probe(truth(2, ANY_SITE))
def library_op_with_fake_kernel():
    """numpy_mul(x, y): export traces the op through its fake kernel; its body multiplies."""
    return Fn(lambda m, x, y: numpy_mul(x, y)), _xy()


@probe(truth(2, ANY_SITE), checks=PIECEWISE)
def sorted_rows_by_python_key():
    """max(rows, key=float ∘ sum) · x: Python picks y's row of largest sum; it scales x."""

    def forward(m, x, y):
        best = max(y.unbind(0), key=lambda row: float(row.sum()))
        return x * best

    return Fn(forward), _xy()


# --- escaped numbers that scale fused ops ------------------------------------------------
@probe(truth(2, ANY_SITE))
def lerp_weight_from_input():
    """lerp(x, y, float(x.mean())) = x + mean(x)·(y − x): the weight read from x."""
    return Fn(lambda m, x, y: torch.lerp(x, y, float(x.mean()))), _xy()


@probe(truth(math.inf, ANY_SITE))
def addcdiv_value_from_input():
    """addcdiv(x, x, 2 + y², value=float(y.sum())): Σy · x / (2 + y²), rational."""
    return Fn(lambda m, x, y: torch.addcdiv(x, x, 2 + y * y, value=float(y.sum()))), _xy()


@probe(truth(3, CONTRACTION))
def baddbmm_alpha_and_beta_from_input():
    """baddbmm(x, x, xᵀ, beta=float(x.sum()), alpha=float(x.mean())): mean(x)·x·xᵀ, degree 3."""

    def forward(m, x):
        return torch.baddbmm(
            x[:, :, :2], x, x.transpose(1, 2)[:, :, :2], beta=float(x.sum()), alpha=float(x.mean())
        )

    return Fn(forward), (torch.randn(1, 2, 3),)


@probe(truth(math.inf, CONTRACTION, min_sites=2), checks=(attention_parts,))
def sdpa_scale_from_input_std():
    """sdpa(q, k, v, scale=float(q.std())): both contractions stay; the scale adds one."""

    def forward(m, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, scale=float(q.std()))

    return Fn(forward), tuple(torch.randn(1, 2, 3, 4) for _ in range(3))


@probe(truth(2, ANY_SITE))
def linear_weight_scaled_by_input():
    """linear(x, W · float(Σx)): the weight scaled by a number read from the input."""
    return Fn(lambda m, x: F.linear(x, m.w * float(x.sum())), w=torch.randn(3, 4)), _x()


@probe(truth(2, ANY_SITE))
def inplace_mul_by_item():
    """c = x.clone(); c.mul_(y.sum().item()): an in-place scale by a number from y."""

    def forward(m, x, y):
        c = x.clone()
        c.mul_(y.sum().item())
        return c

    return Fn(forward), _xy()


# --- fused normalizations whose affine arguments come from an input -------------------
_NORM_SITES = truth(math.inf, (NORMALIZATION, GATING), min_sites=2)


@probe(_NORM_SITES)
def group_norm_weight_from_input():
    """group_norm(x, 2, weight=g, bias=b) with g, b from a second input: normalization and
    the weight's gating (as the unfused form has)."""
    return Fn(lambda m, x, g: F.group_norm(x, 2, weight=g, bias=g * 0.5)), (
        torch.randn(2, 4, 3),
        torch.randn(4),
    )


@probe(_NORM_SITES)
def rms_norm_weight_from_input():
    """rms_norm(x, (4,), weight=g): x / rms(x) · g with g an input."""
    return Fn(lambda m, x, g: F.rms_norm(x, (4,), weight=g)), (torch.randn(2, 4), torch.randn(4))


@probe(_NORM_SITES)
def instance_norm_weight_from_input():
    """instance_norm(x, weight=g, bias=b) with g an input: normalization and gating."""
    return Fn(lambda m, x, g: F.instance_norm(x, weight=g, bias=-g)), (
        torch.randn(2, 3, 4),
        torch.randn(3),
    )


@probe(_NORM_SITES)
def batch_norm_training_weight_from_input():
    """batch_norm(x, None, None, weight=g, training=True): batch statistics and g · x̂."""
    return Fn(lambda m, x, g: F.batch_norm(x, None, None, weight=g, training=True)), (
        torch.randn(4, 3),
        torch.randn(3),
    )


@probe(_NORM_SITES)
def layer_norm_eps_and_weight_from_input():
    """layer_norm(x, (4,), weight=g, eps=float(g²)+1e-5): the weight and eps from g."""

    def forward(m, x, g):
        return F.layer_norm(x, (4,), weight=g, eps=float((g * g).mean()) + 1e-5)

    return Fn(forward), (torch.randn(2, 4), torch.randn(4))


# --- linear algebra, scans, einsum that contracts an operand with itself ----------------
@probe(truth(4, ANY_SITE))
def cumprod_four():
    """cumprod(x, -1) of 4 entries: the last is x₀x₁x₂x₃, degree 4."""
    return Fn(lambda m, x: torch.cumprod(x, -1)), _x()


@probe(truth(2, CONTRACTION))
def trace_of_square():
    """trace(x @ x): Σ x_ij x_ji, a contraction."""
    return Fn(lambda m, x: torch.trace(x @ x)), _x(3, 3)


@probe(truth(math.inf, cross=True))
def svdvals_of_input():
    """linalg.svdvals(x): square roots of the eigenvalues of xᵀx, not polynomial."""
    return Fn(lambda m, x: torch.linalg.svdvals(x)), _x(3, 3)


@probe(truth(3, CONTRACTION))
def einsum_trace_of_cube():
    """einsum('ij,jk,ki->', x, x, x) = trace(x³): one operand contracted with itself twice."""
    return Fn(lambda m, x: torch.einsum("ij,jk,ki->", x, x, x)), _x(3, 3)


@probe(truth(2, ANY_SITE))
def einsum_product_of_traces():
    """einsum('ii,jj->', x, x) = trace(x)²: the diagonal's entries multiplied pairwise."""
    return Fn(lambda m, x: torch.einsum("ii,jj->", x, x)), _x(3, 3)


@probe(truth(3, cross=False))
def einsum_sum_of_cubes():
    """einsum('i,i,i->', v, v, v) = Σ vᵢ³: degree 3, no cross-entry terms."""
    return Fn(lambda m, v: torch.einsum("i,i,i->", v, v, v)), _x(5)


@probe(truth(2, CONTRACTION))
def einsum_ellipsis_self_dot():
    """einsum('...i,...i->...', x, flip(x)) = Σ xᵢ·x_{n−1−i} per row, through an ellipsis."""
    return Fn(lambda m, x: torch.einsum("...i,...i->...", x, x.flip(-1))), _x()


# --- complex numbers ---------------------------------------------------------------------
def _complex(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))


@probe(truth(2, ANY_SITE))
def complex_product_real_part():
    """real(z · w) = Re z Re w − Im z Im w, z and w from two inputs."""
    return Fn(lambda m, x, y: torch.view_as_real(_complex(x) * _complex(y))), _xy()


@probe(truth(2, cross=False))
def complex_modulus_squared():
    """z · conj(z) = |z|² = a² + b²: degree 2, no cross-entry terms."""
    return Fn(lambda m, x: torch.view_as_real(_complex(x) * _complex(x).conj())), _x()


@probe(truth(math.inf, cross=True))
def complex_angle():
    """angle(z) = atan2(b, a): not polynomial, and a and b interact."""
    return Fn(lambda m, x: torch.angle(_complex(x))), _x()


# --- casts to integers and back ----------------------------------------------------------
@probe(truth(0, dependence="discrete"))
def int_cast_round_trip():
    """(3x).to(int64).to(float): trunc(3x), piecewise constant: discrete."""
    return Fn(lambda m, x: (3 * x).to(torch.int64).to(x.dtype)), _x()


@probe(truth(2, cross=False))
def complex_cast_round_trip_square():
    """x.to(complex128).real · x = x²: a cast to complex and back is the identity."""
    return Fn(lambda m, x: x.to(torch.complex128).real.to(x.dtype) * x), _x()


@probe(truth(1), checks=PIECEWISE)
def bool_cast_gate():
    """(x > 0).to(x.dtype) · x = relu(x): a comparison cast back to floats gates x."""
    return Fn(lambda m, x: (x > 0).to(x.dtype) * x), _x()


# --- data-dependent shapes ---------------------------------------------------------------
@probe(truth(2, ANY_SITE), checks=PIECEWISE)
def masked_select_sum_times_input():
    """y · Σ x[x > 0]: a data-dependent selection summed, then multiplied by y."""
    return Fn(lambda m, x, y: y * x[x > 0].sum()), _xy()


@probe(truth(0, dependence="discrete"))
def nonzero_count():
    """nonzero(x > 0.5).shape[0] as a tensor: how many entries exceed 0.5; discrete."""
    return Fn(lambda m, x: torch.tensor(float(torch.nonzero(x > 0.5).shape[0]))), _x()


@probe(truth(2, ANY_SITE), checks=PIECEWISE)
def unique_count_scales():
    """y · #unique(round(x)) + x · y: a data-dependent count (piecewise constant in x)
    scales y, beside the product x · y."""
    return Fn(lambda m, x, y: y * torch.unique(torch.round(x)).numel() + x * y), _xy()


# --- random draws with input-dependent parameters -----------------------------------------
@probe(truth(math.inf))
def exponential_rate_from_input():
    """empty(4).exponential_(1 + mean|x|) = −log(U)/(1 + mean|x|): rational in x."""
    return Fn(lambda m, x: torch.empty(4).exponential_(1.0 + float(x.abs().mean()))), _x()


@probe(truth(2, ANY_SITE))
def dropout_train_product():
    """dropout(x, 0.5, training=True) · y: a random mask and a product of x and y."""
    return Fn(lambda m, x, y: F.dropout(x, 0.5, training=True) * y), _xy()


# --- hooks and modes -------------------------------------------------------------------
@probe(truth(2, ANY_SITE))
def forward_hook_scales_by_input():
    """A forward hook on a Linear returns out · Σ input: degree 2."""

    class Hooked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 3)
            self.lin.register_forward_hook(lambda mod, inp, out: out * inp[0].sum())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    return Hooked(), _x()


@probe(truth(2, ANY_SITE))
def pre_hook_squares_input():
    """A forward pre-hook on the root replaces x by x · mean(x) before a Linear."""
    module = nn.Linear(4, 3)
    module.register_forward_pre_hook(lambda mod, args: (args[0] * args[0].mean(),))
    return module, _x()


@probe(truth(2, ANY_SITE))
def eval_dropout_forced_training_child():
    """A module in eval mode whose child Dropout is put back in training: x · y with a mask."""

    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout(0.3)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.drop(x) * y

    module = Mixed().eval()
    module.drop.train()
    return module, _xy()


# --- in-place writes into views ------------------------------------------------------------
@probe(truth(2, ANY_SITE))
def diagonal_view_mul_by_column():
    """c = x.clone(); c.diagonal().mul_(x[:, 0]): c_ii = x_ii · x_i0."""

    def forward(m, x):
        c = x.clone()
        c.diagonal().mul_(x[:, 0])
        return c

    return Fn(forward), _x(3, 3)


@probe(truth(2, GATING))
def strided_view_mul_by_odd():
    """c = x.clone(); c.view(-1)[::2] *= x.view(-1)[1::2]: even entries times odd ones."""

    def forward(m, x):
        c = x.clone()
        c.view(-1)[::2] *= x.reshape(-1)[1::2]
        return c

    return Fn(forward), _x()


@probe(truth(2, GATING))
def tuple_swap_of_rows():
    """c[0], c[1] = c[1] · c[0], c[0]: row 1 is written from the view of row 0 after it
    became the product; both rows are x₀·x₁."""

    def forward(m, x):
        c = x.clone()
        c[0], c[1] = c[1] * c[0], c[0]
        return c

    return Fn(forward), _x()


# --- a second wave: data-dependent sizes, bit casts, complex squares, scatter products --------
@probe(truth(0, dependence="discrete"))
def unique_size_read_by_python():
    """full((2,), len(unique(round(x)))): how many distinct rounded values x has, read as
    a Python size and turned into a tensor: discrete."""
    return Fn(lambda m, x: torch.full((2,), float(len(torch.unique(torch.round(x)))))), _x()


@probe(truth(0, dependence="discrete"))
def masked_select_shape_read():
    """tensor(float(x[x > 0].shape[0])): the size of a boolean selection: discrete."""
    return Fn(lambda m, x: torch.tensor([float(x[x > 0].shape[0])])), _x()


@probe(truth(0, dependence="discrete"))
def torch_equal_returns_python_bool():
    """full((2,), float(torch.equal(x > 0, x > 0.3))): a Python bool from two comparisons."""
    return Fn(lambda m, x: torch.full((2,), float(torch.equal(x > 0, x > 0.3)))), _x()


def _bit_abs(x: torch.Tensor) -> torch.Tensor:
    bits = torch.int32 if x.dtype == torch.float32 else torch.int64
    return (x.view(bits) & torch.iinfo(bits).max).view(x.dtype)


@probe(
    truth(1),
    checks=PIECEWISE,
)
def bitcast_abs():
    """(x.view(int) & 0x7F…F).view(float) = |x|: the sign bit cleared through an integer view."""
    return Fn(lambda m, x: _bit_abs(x)), _x()


@probe(
    truth(2, ANY_SITE),
    checks=PIECEWISE,
)
def bitcast_abs_times_input():
    """y · |x| with |x| made by clearing the sign bit through an integer view."""
    return Fn(lambda m, x, y: y * _bit_abs(x)), _xy()


@probe(truth(2, ANY_SITE))
def complex_square_cross_term():
    """z ** 2 = (a² − b²) + 2ab·i: the imaginary part multiplies two entries of x."""
    return Fn(lambda m, x: torch.view_as_real(_complex(x) ** 2)), _x()


@probe(truth(2, ANY_SITE))
def complex_self_product_cross_term():
    """z · z: the same complex operand twice, 2ab in the imaginary part."""
    return Fn(lambda m, x: torch.view_as_real(_complex(x) * _complex(x))), _x()


@probe(truth(2, ANY_SITE))
def complex_view_inplace_product():
    """c = x.clone(); view_as_complex(c).mul_(complex(y)): a complex product written back into
    a real tensor through a complex view."""

    def forward(m, x, y):
        c = x.clone()
        torch.view_as_complex(c.view(2, 2, 2)).mul_(_complex(y))
        return c

    return Fn(forward), _xy()


@probe(truth(2, ANY_SITE))
def fft_circular_convolution():
    """ifft(fft(x) · fft(y)).real: the circular convolution of two inputs."""
    return Fn(lambda m, x, y: torch.fft.ifft(torch.fft.fft(x) * torch.fft.fft(y)).real), _xy()


@probe(truth(math.inf, ANY_SITE), checks=PIECEWISE)
def embedding_max_norm_renorm():
    """embedding(ids, 3x, max_norm=1): rows longer than 1 are divided by their norm."""
    return Fn(lambda m, x: F.embedding(m.ids, 3 * x, max_norm=1.0), ids=torch.tensor([0, 2])), (
        torch.randn(3, 4),
    )


@probe(truth(math.inf, ANY_SITE))
def local_response_norm_of_input():
    """local_response_norm(x, 2, alpha=1): x / (1 + mean of neighbours' squares)^0.75."""
    return Fn(lambda m, x: F.local_response_norm(x, 2, alpha=1.0)), (torch.randn(1, 4, 3),)


@probe(truth(math.inf, ANY_SITE))
def ldexp_of_two_inputs():
    """ldexp(x, y) = x · 2^y: an input scaled by an exponential of another."""
    return Fn(lambda m, x, y: torch.ldexp(x, y)), _xy()


@probe(
    truth(2, ANY_SITE),
    checks=PIECEWISE,
)
def margin_ranking_input_target():
    """margin_ranking_loss(a, b, t, reduction='none') = max(0, −t(a − b)): t from an input."""
    return Fn(lambda m, a, b, t: F.margin_ranking_loss(a, b, t, reduction="none")), (
        torch.randn(4),
        torch.randn(4),
        torch.randn(4),
    )


@probe(truth(math.inf, ANY_SITE))
def dropout_probability_from_input():
    """dropout(x, p=sigmoid(mean y), training=True): the mask and the 1/(1 − p) scale depend
    on y."""

    def forward(m, x, y):
        return F.dropout(x, p=float(torch.sigmoid(y.mean())), training=True)

    return Fn(forward), _xy()


@probe(truth(0, dependence="discrete"))
def poisson_rate_from_input():
    """poisson(5·|x|): counts drawn with input-dependent rates: discrete."""
    return Fn(lambda m, x: torch.poisson(5 * x.abs())), _x()


@probe(truth(0, dependence="discrete"))
def histc_counts():
    """histc(x, bins=4): counts over [min x, max x]: discrete."""
    return Fn(lambda m, x: torch.histc(x, bins=4)), _x()


@probe(truth(2, CONTRACTION))
def einsum_implicit_output_dot():
    """einsum('i,i', v, w) without '->': the implicit output sums i, a dot product."""
    return Fn(lambda m, v, w: torch.einsum("i,i", v, w)), (torch.randn(4), torch.randn(4))


@probe(truth(3, ANY_SITE))
def einsum_norm_times_other():
    """einsum('bi,bi,bj->bj', x, x, y) = ‖x_b‖² · y_b: degree 3."""
    return Fn(lambda m, x, y: torch.einsum("bi,bi,bj->bj", x, x, y)), _xy()


@probe(truth(2, GATING))
def unfold_window_inplace_product():
    """w = c.unfold(1, 2, 2); w[..., 0].mul_(w[..., 1]): even columns times odd ones."""

    def forward(m, x):
        c = x.clone()
        w = c.unfold(1, 2, 2)
        w[..., 0].mul_(w[..., 1])
        return c

    return Fn(forward), _x()


@probe(truth(2, CONTRACTION))
def functional_call_weight_from_input():
    """functional_call(linear, {'weight': w}, y) with w an input: y · wᵀ."""

    def forward(m, w, y):
        return torch.func.functional_call(m.lin, {"weight": w, "bias": m.lin.bias}, (y,))

    return Fn(forward, lin=nn.Linear(4, 3)), (torch.randn(3, 4), torch.randn(2, 4))


@probe(
    truth(2, ANY_SITE),
    stateful=True,
)
def buffer_data_assigned_from_input():
    """self.state.data = x · 2 (a .data assignment), then y · state: a product through
    the buffer's storage swap."""

    def forward(m, x, y):
        m.state.data = x.detach() * 2
        return y * m.state

    return Fn(forward, state=torch.zeros(2, 4)), _xy()


class NumpyOuter(torch.autograd.Function):
    """outer(a, b) by numpy inside a custom Function whose backward is wrong on purpose."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.outer(a.detach().numpy(), b.detach().numpy()))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return grad.sum(1), grad.sum(0)


@probe(
    truth(2, ANY_SITE),
)
def numpy_outer_of_two_reads():
    """from_numpy(outer(x.numpy(), y.numpy())): a constant made of two inputs' reads."""

    def forward(m, x, y):
        return torch.from_numpy(np.outer(x.detach().numpy(), y.detach().numpy()))

    return Fn(forward), (torch.randn(3), torch.randn(4))


@probe(
    truth(2, ANY_SITE),
)
def numpy_gram_only():
    """from_numpy(a @ a.T) with a = x.numpy(): a Gram matrix made entirely in numpy."""

    def forward(m, x):
        a = x.detach().numpy()
        return torch.from_numpy(a @ a.T)

    return Fn(forward), _x()


@probe(truth(2, ANY_SITE))
def tolist_products_in_python():
    """tensor([a·b for a, b in zip(x.tolist(), y.tolist())]): products made by Python."""

    def forward(m, x, y):
        return torch.tensor([a * b for a, b in zip(x.tolist(), y.tolist(), strict=True)])

    return Fn(forward), (torch.randn(4), torch.randn(4))


@torch.fx.wrap
def _wrapped_numpy_square(x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.square(x.detach().numpy()))


class _WrappedSquare(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + _wrapped_numpy_square(x)


@probe(truth(2, cross=False), frontend="fx")
def fx_wrapped_numpy_square():
    """x + f(x) with f an fx.wrap'd leaf that squares in numpy, traced by the fx frontend."""
    return _WrappedSquare(), _x()


@torch.library.custom_op(
    "adversarial_round4::tagged_cube", mutates_args=(), tags=(torch.Tag.pointwise,)
)
def tagged_cube(x: torch.Tensor) -> torch.Tensor:
    """x³, an op tagged pointwise whose body runs numpy."""
    return torch.from_numpy(np.power(x.detach().numpy(), 3))


@tagged_cube.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@probe(truth(3, cross=False))
def pointwise_tagged_library_cube():
    """tagged_cube(x): a custom op tagged pointwise; its degree is 3."""
    return Fn(lambda m, x: tagged_cube(x)), _x()


# --- a third wave: integer views, threads, raw memory, Python bools, dtype views ------------
def _int_view(x: torch.Tensor) -> torch.dtype:
    return torch.int32 if x.dtype == torch.float32 else torch.int64


@probe(
    truth(2, ANY_SITE),
)
def int_view_round_trip_product():
    """y · x.view(int).view(float): a reinterpretation there and back is x itself."""
    return Fn(lambda m, x, y: y * x.view(_int_view(x)).view(x.dtype)), _xy()


@probe(
    truth(2, ANY_SITE),
)
def byte_view_round_trip_product():
    """y · x.view(uint8).view(float): x's bytes reinterpreted back; x · y."""
    return Fn(lambda m, x, y: y * x.view(torch.uint8).view(x.dtype)), _xy()


@probe(truth(2, ANY_SITE))
def complex_dtype_view_square():
    """z = x.view(complex); view_as_real(z · z): a dtype view to complex, 2ab in the result."""

    def forward(m, x):
        z = x.view(torch.complex64 if x.dtype == torch.float32 else torch.complex128)
        return torch.view_as_real(z * z)

    return Fn(forward), _x()


@probe(
    truth(2, cross=False),
)
def thread_computed_square():
    """x + (x · x computed in another thread): torch's modes are thread-local."""

    def forward(m, x):
        import threading

        out: list[torch.Tensor] = []
        worker = threading.Thread(target=lambda: out.append(x.detach() * x.detach()))
        worker.start()
        worker.join()
        return x + out[0]

    return Fn(forward), _x()


@probe(truth(2, cross=False))
def data_ptr_raw_memory_read():
    """x · frombuffer(string_at(x.data_ptr(), nbytes)): x's memory read through ctypes."""

    def forward(m, x):
        import ctypes

        raw = ctypes.string_at(x.data_ptr(), x.numel() * x.element_size())
        return x * torch.frombuffer(bytearray(raw), dtype=x.dtype).view_as(x)

    return Fn(forward), _x()


@probe(truth(2, cross=False))
def torch_function_disabled_tolist():
    """x · tensor(x.tolist()) with the tolist read under DisableTorchFunction."""

    def forward(m, x):
        with torch._C.DisableTorchFunction():
            values = x.tolist()
        return x * torch.tensor(values)

    return Fn(forward), _x()


@probe(
    truth(0, dependence="discrete"),
)
def allclose_python_bool():
    """full((2,), float(allclose(x₀₀, x₀₁, atol=1))): whether two entries are within 1 of
    each other, a Python bool."""

    def forward(m, x):
        return torch.full((2,), float(torch.allclose(x[0, 0], x[0, 1], atol=1.0, rtol=0.0)))

    return Fn(forward), _x()


@probe(truth(2, CONTRACTION), stateful=True)
def parameter_set_from_input():
    """w.set_(x) on a buffer under no_grad, then y @ wᵀ: the weight is an input."""

    def forward(m, x, y):
        with torch.no_grad():
            m.w.set_(x.detach().clone())
        return y @ m.w.T

    return Fn(forward, w=torch.zeros(2, 4)), _xy()


@probe(truth(2, cross=False))
def deepcopy_square():
    """x · copy.deepcopy(x): a deep copy inside forward."""

    def forward(m, x):
        import copy

        return x * copy.deepcopy(x.detach())

    return Fn(forward), _x()


@probe(truth(2, GATING))
def unfold_prod_neighbours():
    """x.unfold(-1, 2, 1).prod(-1) = x_i·x_{i+1}."""
    return Fn(lambda m, x: x.unfold(-1, 2, 1).prod(-1)), _x()


@probe(truth(math.inf, ANY_SITE), stateful=True)
def eval_batchnorm_running_var_from_input():
    """bn.running_var.copy_(|y| + 1), then an eval batch norm of x: x / sqrt(|y| + 1 + eps)."""

    class Norm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm1d(4).eval()

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            self.bn.running_var.copy_(y.abs() + 1.0)
            return self.bn(x)

    return Norm().eval(), (torch.randn(2, 4), torch.randn(4))


# --- a fourth wave: ops that mutate behind the schema, asynchronous work, aliases -------------
@torch.library.custom_op("adversarial_round4::square_into", mutates_args=("out",))
def square_into(x: torch.Tensor, out: torch.Tensor) -> None:
    """Writes x² into ``out``: a custom op that mutates its second argument."""
    out.copy_(x * x)


@probe(truth(3, ANY_SITE))
def library_op_mutates_out():
    """out = zeros; square_into(x, out); y · out = y·x²: the op writes its argument."""

    def forward(m, x, y):
        out = torch.zeros_like(x)
        square_into(x, out)
        return y * out

    return Fn(forward), _xy()


@probe(truth(2, GATING))
def data_alias_inplace_product():
    """c = x.clone(); c.data.mul_(y); c: an in-place product through the .data alias."""

    def forward(m, x, y):
        c = x.clone()
        c.data.mul_(y)
        return c

    return Fn(forward), _xy()


@probe(truth(2, cross=False))
def jit_fork_square():
    """x + wait(fork(square, x)): the square computed by torch.jit.fork."""

    def forward(m, x):
        future = torch.jit.fork(torch.mul, x, x)
        return x + torch.jit.wait(future)

    return Fn(forward), _x()


@probe(truth(2, GATING))
def checkpoint_product():
    """checkpoint(a ↦ a[0] · a[1], x): a product inside activation checkpointing."""

    def forward(m, x):
        return torch.utils.checkpoint.checkpoint(lambda a: a[0] * a[1], x, use_reentrant=False)

    return Fn(forward), _x()


@probe(truth(0, dependence="discrete"))
def is_nonzero_python_bool():
    """full((2,), float(is_nonzero(x₀₀ > x₀₁))): a Python bool from is_nonzero."""
    return Fn(lambda m, x: torch.full((2,), float(torch.is_nonzero(x[0, 0] > x[0, 1])))), _x()
