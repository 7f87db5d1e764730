"""Class 14: a fifth red-team round, held out from the engineers who fix issue 19.

Hostile models aimed at where a claim that is too low is likely and earlier rounds did not
look: keyword arguments that change an op's algebra (``use_input_stats``, ``p=2`` of a margin
loss, ``beta`` of ``addmv``, ``dtype`` of ``prod``), piecewise functions that are not piecewise
affine (``hardswish``, a squared hinge, ``max · min``), ``torch.func`` transforms and forward
AD inside ``forward`` (``jvp``, ``jacrev``, ``hessian``, dual numbers, ``autograd.grad``), a
custom Function whose forward-mode rule lies, a tensor hook and ``inference_mode``, in-place
ops through aliases (``set_``, ``t_``, a storage view, ``map2_``), global module hooks,
modules that register buffers or rebind attributes during ``forward``, ``torch.jit``,
``torch.compiler.disable``, ``_foreach`` lists, ``segment_reduce``, ``combinations`` and
``cartesian_prod``, ``frexp``, ``vander``, orthogonal polynomials of ``torch.special``,
``polar``, an FFT autocorrelation, aten backward ops called directly, ``cumulative_trapezoid``
and ``gradient`` with input spacing, GRU over a packed sequence, and the weights of
``nn.MultiheadAttention`` alone. Each truth is written from the maths and confirmed by the
oracle.

Cases on which ``analyze`` makes a false claim or crashes, or ``validate`` fails, are kept in
:data:`FOUND_FALSE_CLAIMS`, not registered, so that the default suite stays green;
``test_redteam.py`` pins each as a strict ``xfail`` with what the tool says.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.autograd.forward_ad as fwAD
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
    case_or_finding,
    truth,
)

GROUP = "round5"
FOUND_FALSE_CLAIMS: dict[str, tuple[Case, str]] = {}
"""Cases the tool gets wrong today, with what it says: name → (case, finding)."""


def probe(
    expected: Truth, **options: Any
) -> Callable[[Callable[[], tuple[Any, ...]]], Callable[[], tuple[Any, ...]]]:
    """Register a case of this round, or keep it in :data:`FOUND_FALSE_CLAIMS`
    (:func:`~tests.adversarial.catalogue.case_or_finding`)."""
    return case_or_finding(GROUP, FOUND_FALSE_CLAIMS, expected, **options)


def _x(*shape: int) -> tuple[torch.Tensor]:
    return (torch.randn(*(shape or (2, 4))),)


def _xy(*shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    shape = shape or (2, 4)
    return torch.randn(*shape), torch.randn(*shape)


# --- keyword arguments that change the algebra ------------------------------------------
@probe(truth(math.inf, ANY_SITE))
def instance_norm_running_stats_from_input():
    """instance_norm(x, running_mean=m, running_var=v, use_input_stats=False): (x − m)/√v
    with m and v from a second input; the keyword turns the statistics into arguments."""

    def forward(m, x, s):
        mean, var = s[0], 1.0 + s[1] * s[1]
        return F.instance_norm(x, running_mean=mean, running_var=var, use_input_stats=False)

    return Fn(forward), (torch.randn(2, 3, 4), torch.randn(2, 3))


@probe(truth(2, cross=True))
def multi_margin_loss_squared_hinge():
    """multi_margin_loss(x, t, p=2, margin=3): Σ max(0, 3 − x_t + x_i)² — a squared hinge,
    piecewise quadratic (not piecewise affine) with cross terms x_t·x_i; a pointwise square
    of one value, so no site (docs/concepts.md)."""
    target = torch.tensor([1, 3])
    return Fn(lambda m, x: F.multi_margin_loss(x, m.t, p=2, margin=3.0), t=target), _x()


@probe(truth(2, CONTRACTION))
def addmv_beta_alpha_of_inputs():
    """addmv(v, A, v, beta=0.5, alpha=2): 0.5·v + 2·A v with A and v inputs."""
    return Fn(lambda m, a, v: torch.addmv(v, a, v, beta=0.5, alpha=2.0)), (
        torch.randn(3, 3),
        torch.randn(3),
    )


@probe(truth(2, ANY_SITE))
def addr_outer_of_inputs():
    """addr(z, u, v, alpha=3): z + 3·u vᵀ, an outer product of two inputs."""
    return Fn(lambda m, u, v: torch.addr(torch.zeros(3, 3), u, v, alpha=3.0)), (
        torch.randn(3),
        torch.randn(3),
    )


@probe(truth(4, ANY_SITE))
def prod_with_dtype_keyword():
    """prod(x, dim=0, dtype=float64): the product of 4 rows, the dtype keyword another
    overload."""
    return Fn(lambda m, x: torch.prod(x, 0, dtype=torch.float64).to(x.dtype)), _x(4, 3)


@probe(truth(2, CONTRACTION))
def bilinear_of_two_inputs():
    """F.bilinear(x, y, W): x_i W_kij y_j — a product of two inputs through a fused op."""
    return Fn(lambda m, x, y: F.bilinear(x, y, m.w), w=torch.randn(2, 4, 4)), _xy()


@probe(truth(2, cross=True))
def var_mean_tuple():
    """var_mean(x, dim=1, correction=0): the variance (degree 2, a square of the centred
    values: no site) returned beside the mean."""
    return Fn(lambda m, x: torch.var_mean(x, dim=1, correction=0)), _x()


# --- piecewise, but not piecewise affine -------------------------------------------------
@probe(truth(2, cross=False))
def hardswish_piecewise_quadratic():
    """hardswish(x) = x·relu6(x + 3)/6: between −3 and 3 it is x(x + 3)/6, quadratic (a
    pointwise self-product, no site), so not piecewise affine."""
    return Fn(lambda m, x: F.hardswish(4 * x)), _x()


@probe(truth(2, ANY_SITE))
def max_times_min_is_product():
    """maximum(x, y) · minimum(x, y) = x·y everywhere: two piecewise-affine halves of a product."""
    return Fn(lambda m, x, y: torch.maximum(x, y) * torch.minimum(x, y)), _xy()


@probe(truth(2, ANY_SITE))
def topk_values_product():
    """topk(x, 2).values.prod(-1): the product of the two largest entries of each row."""
    return Fn(lambda m, x: torch.topk(x, 2).values.prod(-1)), _x()


# --- torch.func and forward AD inside forward ------------------------------------------
@probe(truth(2, ANY_SITE))
def func_jvp_inside_forward():
    """jvp(v ↦ v², (x,), (y,)): the tangent 2x·y, a product the primal does not show."""
    return Fn(lambda m, x, y: torch.func.jvp(lambda v: v * v, (x,), (y,))[1]), _xy()


@probe(truth(2, cross=False))
def func_jacrev_inside_forward():
    """jacrev(v ↦ Σ v³)(x) = 3x²: a gradient computed by reverse mode inside forward."""
    return Fn(lambda m, x: torch.func.jacrev(lambda v: (v**3).sum())(x)), _x(4)


# refused by analyze (export cannot read a storage-less tensor inside hessian, fx cannot
# iterate a proxy, real raises KeyError _tensor_constant3); validate measures it alone
@probe(truth(2, cross=False))
def func_hessian_inside_forward():
    """hessian(v ↦ Σ v⁴/12)(x) = diag(x²): second derivatives taken inside forward."""
    return Fn(lambda m, x: torch.func.hessian(lambda v: (v**4).sum() / 12)(x)), _x(4)


@probe(
    truth(2, ANY_SITE),
    found="validate refuses (ExecutionError: _enter_dual_level, a functorch transform inside "
    "the model); analyze over-approximates (unknown dual-number ops, degree inf)",
)
def dual_numbers_inside_forward():
    """Forward AD by hand: tangent of make_dual(x, y)² is 2x·y."""

    def forward(m, x, y):
        with fwAD.dual_level():
            dual = fwAD.make_dual(x, y)
            return fwAD.unpack_dual(dual * dual).tangent

    return Fn(forward), _xy()


@probe(truth(2, cross=False))
def autograd_grad_of_detached_copy():
    """autograd.grad(Σ v³, v) with v = x.detach().requires_grad_(): 3x², reached through a
    detached leaf."""

    def forward(m, x):
        with torch.enable_grad():
            leaf = x.detach().requires_grad_()
            (grad,) = torch.autograd.grad((leaf**3).sum(), leaf)
        return grad

    return Fn(forward), _x(4)


class LyingJvp(torch.autograd.Function):
    """x·x with a forward-mode rule that says the derivative is zero."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x * x

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(tangent)

    @staticmethod
    def vmap(info: Any, in_dims: Any, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return x * x, in_dims[0]


@probe(truth(2, cross=False))
def custom_function_lying_jvp_and_vmap():
    """LyingJvp.apply(x) = x² whose backward and jvp both say zero, with its own vmap rule."""
    return Fn(lambda m, x: LyingJvp.apply(x)), _x()


@probe(truth(2, ANY_SITE))
def tensor_hook_zeroes_gradient():
    """h = x·y with a tensor hook that zeroes its gradient; the values are still x·y."""

    def forward(m, x, y):
        h = x * y
        if h.requires_grad:
            h.register_hook(torch.zeros_like)
        return h + 0

    return Fn(forward), _xy()


@probe(truth(2, ANY_SITE))
def inference_mode_sum_scales():
    """s = Σy computed under inference_mode, cloned out of it, scales x."""

    def forward(m, x, y):
        with torch.inference_mode():
            s = y.sum()
        return x * s.clone()

    return Fn(forward), _xy()


# --- in-place ops through aliases --------------------------------------------------------
@probe(truth(2, ANY_SITE))
def set_alias_product():
    """c = empty(0).set_(x.clone()); c.mul_(y); return x · 0 + c: set_ makes c an alias."""

    def forward(m, x, y):
        base = x.clone()
        c = torch.empty(0, dtype=x.dtype).set_(base)
        c.mul_(y)
        return base

    return Fn(forward), _xy()


@probe(truth(2, CONTRACTION))
def inplace_transpose_then_matmul():
    """c = x.clone(); c.t_(); return x @ c: an in-place transpose makes a Gram matrix."""

    def forward(m, x):
        c = x.clone()
        c.t_()
        return x @ c

    return Fn(forward), _x(2, 3)


# refused by analyze (the real frontend names the write by Tensor.map2_ from Python; export
# and fx cannot trace it); validate measures it alone
@probe(truth(2, cross=False))
def map2_square():
    """c = zeros; c.map2_(x, x, (a, b, d) ↦ b·d): x² computed by Python per entry."""

    def forward(m, x):
        c = torch.zeros_like(x)
        c.map2_(x, x, lambda a, b, d: b * d)
        return c

    return Fn(forward), _x()


@probe(truth(2, ANY_SITE))
def put_accumulate_then_product():
    """c = x.clone(); c.put_(idx, y, accumulate=True) with idx = argsort(y); c · y."""

    def forward(m, x, y):
        c = x.clone()
        c.put_(torch.argsort(y.flatten()), y.flatten(), accumulate=True)
        return c * y

    return Fn(forward), _xy()


@probe(truth(2, ANY_SITE))
def flat_view_inplace_flip_product():
    """c = x.clone(); d = c.view(-1); d.mul_(d.flip(0)): entry i times entry n−1−i."""

    def forward(m, x):
        c = x.clone()
        d = c.view(-1)
        d.mul_(d.flip(0))
        return c

    return Fn(forward), _x()


# --- module state and hooks --------------------------------------------------------------
def _scale_by_input_mean(module: nn.Module, args: Any, output: Any) -> Any:
    return output * args[0].mean() if isinstance(module, nn.Linear) else None


@probe(truth(2, ANY_SITE))
def global_module_forward_hook():
    """A global forward hook (register_module_forward_hook), registered by the parent's
    forward for the call of its child and removed after, scales the child Linear's
    output by the mean of its input."""

    class Parent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            handle = torch.nn.modules.module.register_module_forward_hook(_scale_by_input_mean)
            try:
                return self.lin(x)
            finally:
                handle.remove()

    return Parent(), _x()


@probe(truth(2, ANY_SITE))
def pre_hook_with_kwargs_scales():
    """A forward pre-hook with_kwargs=True rewrites the keyword input: y → y · Σx."""

    class Gate(nn.Module):
        def forward(self, x: torch.Tensor, *, y: torch.Tensor) -> torch.Tensor:
            return x + y

    module = Gate()
    module.register_forward_pre_hook(
        lambda mod, args, kwargs: (args, {"y": kwargs["y"] * args[0].sum()}), with_kwargs=True
    )
    x, y = _xy()
    return module, (x,), {"y": y}


@probe(truth(2, cross=False), stateful=True)
def buffer_registered_in_forward():
    """forward registers a non-persistent buffer 2x (detached), then multiplies x by it:
    2x², with no dependence autograd sees in the buffer."""

    def forward(m, x):
        m.register_buffer("cache", x.detach() * 2, persistent=False)
        return x * m.cache

    return Fn(forward), _x()


@probe(truth(2, ANY_SITE))
def attribute_rebound_to_input():
    """forward rebinds a plain attribute to y's mean, then a child reads it: x · mean(y)."""

    class Child(nn.Module):
        scale: Any = 1.0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale

    class Parent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.child = Child()

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            self.child.scale = y.mean()
            return self.child(x)

    return Parent(), _xy()


@probe(truth(2, cross=True))
def shared_linear_called_twice():
    """lin(x) · lin(x) with one shared Linear called twice: the square of an affine map
    (two nodes of equal value; as d·d, no site), cross terms between entries of x."""
    return Fn(lambda m, x: m.lin(x) * m.lin(x), lin=nn.Linear(4, 3)), _x()


# --- other execution routes ------------------------------------------------------------
@torch.jit.script
def _scripted_square(x: torch.Tensor) -> torch.Tensor:
    return x * x


@probe(truth(2, cross=False))
def jit_script_function_square():
    """A TorchScript function computing x·x, called from forward."""
    return Fn(lambda m, x: _scripted_square(x)), _x()


@torch.compiler.disable
def _disabled_product(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * y


@probe(truth(2, ANY_SITE))
def compiler_disabled_product():
    """x·y inside a function marked torch.compiler.disable."""
    return Fn(lambda m, x, y: _disabled_product(x, y)), _xy()


@probe(truth(2, ANY_SITE))
def foreach_mul_lists():
    """_foreach_mul([x, y], [y, y]): a list op; the first entry is x·y."""
    return Fn(lambda m, x, y: torch._foreach_mul([x, y], [y, x])[0]), _xy()


@probe(truth(2, ANY_SITE))
def foreach_addcmul_lists():
    """_foreach_addcmul([z], [x], [y], value=2): z + 2·x·y over a list."""
    return Fn(lambda m, x, y: torch._foreach_addcmul([x * 0], [x], [y], value=2.0)[0]), _xy()


@probe(truth(3, ANY_SITE))
def segment_reduce_prod():
    """segment_reduce(x, 'prod', lengths=[3, 1]): the product of the first three entries."""
    return Fn(lambda m, x: torch.segment_reduce(x, "prod", lengths=m.lengths),
              lengths=torch.tensor([3, 1])), _x(4)  # fmt: skip


@probe(truth(2, ANY_SITE))
def combinations_pairwise_products():
    """combinations(x, 2).prod(-1): every pairwise product x_i·x_j, i < j."""
    return Fn(lambda m, x: torch.combinations(x, 2).prod(-1)), _x(4)


@probe(truth(2, ANY_SITE))
def cartesian_prod_products():
    """cartesian_prod(x, y).prod(-1): every product x_i·y_j."""
    return Fn(lambda m, x, y: torch.cartesian_prod(x, y).prod(-1)), _xy(3)


@probe(truth(2, cross=False))
def frexp_mantissa_square():
    """frexp(x) = (m, e); m² · 2^(2e) = x²: the mantissa is x scaled by a power of two."""

    def forward(m, x):
        mantissa, exponent = torch.frexp(x)
        return mantissa * mantissa * torch.exp2(2 * exponent.to(x.dtype))

    return Fn(forward), _x()


@probe(truth(3, cross=False))
def vander_columns():
    """linalg.vander(x, N=4): the columns 1, x, x², x³ — degree 3."""
    return Fn(lambda m, x: torch.linalg.vander(x, N=4)), _x(3)


@probe(truth(3, cross=False))
def chebyshev_polynomial_three():
    """special.chebyshev_polynomial_t(x, 3) = 4x³ − 3x."""
    return Fn(lambda m, x: torch.special.chebyshev_polynomial_t(x, 3)), _x()


@probe(truth(2, cross=False))
def hermite_polynomial_two():
    """special.hermite_polynomial_h(x, 2) = 4x² − 2."""
    return Fn(lambda m, x: torch.special.hermite_polynomial_h(x, 2)), _x()


@probe(truth(math.inf, ANY_SITE))
def polar_of_two_inputs():
    """view_as_real(polar(r, θ)) = (r cos θ, r sin θ): r times a function of θ."""
    return Fn(lambda m, r, t: torch.view_as_real(torch.polar(r, t))), _xy()


@probe(truth(2, ANY_SITE))
def fft_autocorrelation():
    """irfft(rfft(x) · conj(rfft(x))): circular autocorrelation, Σ x_j·x_{j+k}."""

    def forward(m, x):
        spectrum = torch.fft.rfft(x)
        return torch.fft.irfft(spectrum * spectrum.conj(), n=x.shape[-1])

    return Fn(forward), _x(2, 6)


@probe(truth(3, ANY_SITE))
def tanh_backward_of_inputs():
    """aten.tanh_backward(g, y) = g·(1 − y²): an aten backward op called directly."""
    return Fn(lambda m, g, y: torch.ops.aten.tanh_backward(g, y)), _xy()


@probe(truth(2, ANY_SITE))
def cumulative_trapezoid_input_spacing():
    """cumulative_trapezoid(y, x=x): Σ (x_{i+1} − x_i)(y_i + y_{i+1})/2, products x·y."""
    return Fn(lambda m, y, x: torch.cumulative_trapezoid(y, x=x)), _xy()


@probe(truth(math.inf, ANY_SITE))
def gradient_input_coordinates():
    """gradient(y, spacing=(x,)): differences of y divided by differences of x."""

    def forward(m, y, x):
        coordinates = torch.cumsum(1.0 + x * x, 0)  # increasing, so no division by zero
        return torch.gradient(y, spacing=(coordinates,))[0]

    return Fn(forward), _xy(5)


@probe(truth(math.inf, GATING))
def gru_packed_sequence():
    """A GRU over a packed, padded batch: its gates multiply (sigmoid · tanh)."""

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(3, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            packed = nn.utils.rnn.pack_padded_sequence(x, [3, 2], batch_first=True)
            out, _ = self.gru(packed)
            return nn.utils.rnn.pad_packed_sequence(out, batch_first=True)[0]

    return Packed(), (torch.randn(2, 3, 3),)


@probe(truth(math.inf, CONTRACTION))
def multihead_attention_weights_only():
    """nn.MultiheadAttention(need_weights=True, average_attn_weights=False): only the
    weights softmax(QKᵀ/√d) are returned; one contraction, the scores."""

    class Weights(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x, x, x, need_weights=True, average_attn_weights=False)[1]

    return Weights().eval(), (torch.randn(1, 3, 4),)


@probe(truth(math.inf, CONTRACTION, min_sites=2))
def sdpa_float_mask_from_input():
    """sdpa(q, k, v, attn_mask=y): an additive mask from an input inside the softmax."""

    def forward(m, q, k, v, y):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=y)

    shape = (1, 2, 3, 4)
    return Fn(forward), (*(torch.randn(shape) for _ in range(3)), torch.randn(1, 2, 3, 3))


@probe(truth(math.inf, (NORMALIZATION, GATING)))
def normalize_l1_rows():
    """F.normalize(x, p=1): x / max(‖x‖₁, eps), a quotient by a piecewise-affine norm."""
    return Fn(lambda m, x: F.normalize(x, p=1.0, dim=-1)), _x()


# --- losses whose keywords bring a second input in ---------------------------------------
@probe(truth(3, ANY_SITE))
def mse_loss_weight_from_input():
    """mse_loss(x, t, weight=w, reduction='sum'): Σ w·(x − t)², w an input: degree 3."""
    return Fn(lambda m, x, w: F.mse_loss(x, m.t, weight=w, reduction="sum"), t=torch.randn(2, 4)), (
        torch.randn(2, 4),
        torch.randn(2, 4),
    )


@probe(
    truth(2, ANY_SITE),
    found="was a false claim (degree 1, piecewise affine, no site: PyTorch's F.l1_loss drops "
    "weight= under __torch_function__, so every frontend traced |x − t|); now refused by "
    "analyze and validate (sound): the graph never reads w, and the model's output moves with it",
)
def l1_loss_weight_from_input():
    """l1_loss(x, t, weight=w, reduction='none'): w·|x − t|, w an input: degree 2."""
    return Fn(lambda m, x, w: F.l1_loss(x, m.t, weight=w, reduction="none"), t=torch.randn(2, 4)), (
        torch.randn(2, 4),
        torch.randn(2, 4),
    )


@probe(
    truth(3, cross=False),
    found="degree 1, piecewise affine, no site: PyTorch's F.l1_loss drops weight= under "
    "__torch_function__, so every frontend traces |x − t|; the weight x² is dead code there, "
    "so no input goes unread and the check for unread inputs does not fire",
)
def l1_loss_weight_derived_from_input():
    """l1_loss(x, t, weight=x², reduction='none') = x²·|x − t|: degree 3 (piecewise), a
    pointwise product of functions of one value (no site, no cross terms)."""
    return Fn(lambda m, x: F.l1_loss(x, m.t, weight=x * x, reduction="none"),
              t=torch.randn(2, 4)), _x()  # fmt: skip


@probe(truth(3, ANY_SITE))
def huber_loss_weight_from_input():
    """huber_loss(x, t, weight=w, delta=5, reduction='none'): w·(x − t)²/2 inside the
    quadratic zone, w an input: degree 3."""

    def forward(m, x, w):
        return F.huber_loss(x, m.t, weight=w, delta=5.0, reduction="none")

    return Fn(forward, t=torch.randn(2, 4)), _xy()


@probe(truth(math.inf, ANY_SITE))
def kl_div_log_target():
    """kl_div(x, y, log_target=True, reduction='sum') = Σ exp(y)·(y − x): exp(y) times x."""
    return Fn(lambda m, x, y: F.kl_div(x, y, log_target=True, reduction="sum")), _xy()


@probe(truth(math.inf, ANY_SITE))
def poisson_nll_log_input():
    """poisson_nll_loss(x, y, log_input=True, reduction='sum') = Σ exp(x) − y·x."""
    return Fn(lambda m, x, y: F.poisson_nll_loss(x, y, log_input=True, reduction="sum")), _xy()


@probe(truth(math.inf, ANY_SITE))
def gaussian_nll_input_variance():
    """gaussian_nll_loss(x, t, var=1 + v²): (x − t)² / var: a quotient by an input."""

    def forward(m, x, v):
        return F.gaussian_nll_loss(x, m.t, 1.0 + v * v, reduction="sum")

    return Fn(forward, t=torch.randn(2, 4)), _xy()


@probe(truth(math.inf, ANY_SITE))
def cross_entropy_soft_targets():
    """cross_entropy(x, p) with probabilities p from y: −Σ p·log_softmax(x)."""
    return Fn(lambda m, x, y: F.cross_entropy(x, y.softmax(-1), reduction="sum")), _xy()


@probe(truth(math.inf, ANY_SITE))
def soft_margin_loss_input_targets():
    """soft_margin_loss(x, y) = mean log(1 + exp(−y·x)): y·x inside."""
    return Fn(lambda m, x, y: F.soft_margin_loss(x, y)), _xy()


@probe(truth(math.inf, ANY_SITE))
def bce_with_logits_input_targets():
    """binary_cross_entropy_with_logits(x, y): (1 − y)·x + log(1 + e^(−x)), y an input."""
    return Fn(lambda m, x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum")), _xy()


@probe(truth(math.inf, ANY_SITE))
def multilabel_soft_margin_input_targets():
    """multilabel_soft_margin_loss(x, y): −mean(y·logσ(x) + (1 − y)·logσ(−x))."""
    return Fn(lambda m, x, y: F.multilabel_soft_margin_loss(x, y)), _xy()


@probe(truth(2, ANY_SITE))
def nll_loss_sum_input_weight():
    """nll_loss(x, t, weight=w, reduction='sum') = −Σ w[t_i]·x[i, t_i]: w an input."""
    return Fn(lambda m, x, w: F.nll_loss(x, m.t, weight=w, reduction="sum"),
              t=torch.tensor([1, 3])), (torch.randn(2, 4), torch.randn(4))  # fmt: skip


# --- powers and products by other spellings ------------------------------------------------
@probe(truth(math.inf, ANY_SITE))
def matrix_power_negative():
    """linalg.matrix_power(A, −2) = (A⁻¹)²: rational, not degree 4."""

    def forward(m, x):
        return torch.linalg.matrix_power(x + 3 * torch.eye(3), -2)

    return Fn(forward), _x(3, 3)


@probe(truth(math.inf))
def pow_negative_exponent():
    """(2 + x²)^(−1): a negative power of a positive polynomial, rational."""
    return Fn(lambda m, x: (2 + x * x).pow(-1)), _x()


@probe(truth(math.inf, ANY_SITE))
def xlog1py_of_two_inputs():
    """special.xlog1py(x, y²) = x·log1p(y²): x times a function of y."""
    return Fn(lambda m, x, y: torch.special.xlog1py(x, y * y)), _xy()


@probe(truth(2, CONTRACTION))
def mm_out_into_buffer_view():
    """mm(x, y, out=z) with z a fresh tensor, then z returned: a contraction through out=."""

    def forward(m, x, y):
        z = torch.empty(2, 2)
        torch.mm(x, y, out=z)
        return z

    return Fn(forward), (torch.randn(2, 3), torch.randn(3, 2))


@probe(truth(2, cross=False))
def diff_append_square():
    """diff(x, append=x²): the appended column x² enters the last difference."""
    return Fn(lambda m, x: torch.diff(x, append=x[:, -1:] * x[:, -1:])), _x()


# --- out= that PyTorch drops under __torch_function__ -------------------------------------
@probe(
    truth(2, CONTRACTION),
    found="was a false claim (output static, degree 0: PyTorch's chain_matmul drops out= under "
    "__torch_function__, and the graph returns z's zeros); now refused by analyze and validate "
    "(sound): the outputs are not computed from x, and the model's output moves with it",
)
def chain_matmul_out_returned():
    """chain_matmul(x, y, out=z), then z returned: the product through out=."""

    def forward(m, x, y):
        z = torch.zeros(2, 2)
        torch.chain_matmul(x, y, out=z)
        return z

    return Fn(forward), (torch.randn(2, 3), torch.randn(3, 2))


@probe(
    truth(2, CONTRACTION),
    found="degree 1, piecewise affine, no site: chain_matmul's out= is dropped under "
    "__torch_function__ and its product left as dead code; both inputs reach the output "
    "through the sums, so the check for unread inputs does not fire",
)
def chain_matmul_out_plus_inputs():
    """chain_matmul(x, y, out=z); z + Σx + Σy: the product through out=, both inputs read
    elsewhere too."""

    def forward(m, x, y):
        z = torch.zeros(2, 2)
        torch.chain_matmul(x, y, out=z)
        return z + x.sum() + y.sum()

    return Fn(forward), (torch.randn(2, 3), torch.randn(3, 2))
