"""Class 11: a red team's attacks on a registry-based analysis.

Each case is one small model written to hit an edge of the registry or of the tracing: an
op whose entry reads the wrong argument or ignores one (a Python number that carries an
input's value into ``alpha``, ``negative_slope``, ``uniform_``'s bounds), an op whose
algebra differs from its neighbours' (``renorm`` is a quotient though ``p = 1``,
``smooth_l1_loss`` is quadratic near zero, ``frac`` is continuous, ``heaviside`` copies a
value), in-place writes through views the existing cases do not take (``split``,
``unbind``, ``as_strided``, a view read before the write), higher-order ops and hooks,
odd dtypes and shapes, and controls that must stay exact.

Cases on which ``analyze`` makes a false claim (or ``validate`` agrees with one) are kept
in :data:`FOUND_FALSE_CLAIMS`, not registered, so that the default suite stays green;
``test_redteam.py`` checks that the oracle confirms their truths and that the tool still
gets them wrong (a strict ``xfail``: the test fails once the integrator fixes one, to move
it into the catalogue).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import (
    ANY_SITE,
    CONTRACTION,
    GATING,
    Case,
    Fn,
    Truth,
    case,
    truth,
)

GROUP = "redteam"
FOUND_FALSE_CLAIMS: dict[str, tuple[Case, str]] = {}
"""Cases ``analyze`` gets wrong today, with what it says: name → (case, finding)."""


def attack(
    expected: Truth, *, found: str | None = None, stateful: bool = False
) -> Callable[[Callable[[], tuple[Any, ...]]], Callable[[], tuple[Any, ...]]]:
    """Register a case of this class, or (``found``: what the tool says wrongly) keep it
    in :data:`FOUND_FALSE_CLAIMS` until the passes are fixed."""
    if found is None:
        return case(GROUP, expected, stateful=stateful)

    def keep(builder: Callable[[], tuple[Any, ...]]) -> Callable[[], tuple[Any, ...]]:
        note = " ".join((builder.__doc__ or "").split())
        name = builder.__name__
        found_case = Case(name, GROUP, builder, expected, note, stateful=stateful)
        FOUND_FALSE_CLAIMS[name] = (found_case, found)
        return builder

    return keep


def _x(*shape: int) -> tuple[torch.Tensor]:
    return (torch.randn(*(shape or (2, 4))),)


def _xy(*shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    shape = shape or (2, 4)
    return torch.randn(*shape), torch.randn(*shape)


# --- Python numbers that carry an input's value into an op's scalar argument ---------------
@attack(
    truth(2, ANY_SITE),
)
def add_with_input_alpha():
    """add(x, y, alpha=float(y.mean())): x + mean(y)·y, a product hidden in ``alpha``."""
    return Fn(lambda m, x, y: torch.add(x, y, alpha=float(y.mean()))), _xy()


@attack(truth(2, ANY_SITE))
def addmm_with_input_alpha():
    """addmm(b, x, W, alpha=float(x.sum())): Σx · (x·W), the scale read from the input."""

    def forward(m, x):
        return torch.addmm(m.b, x, m.w, alpha=float(x.sum()))

    return Fn(forward, w=torch.randn(4, 3), b=torch.randn(3)), _x()


@attack(truth(3, GATING))
def addcmul_with_input_value():
    """addcmul(x, a, b, value=float(x.mean())): mean(x)·a·b, degree 3."""

    def forward(m, x):
        return torch.addcmul(x[:, :2], x[:, :2], x[:, 2:], value=float(x.mean()))

    return Fn(forward), _x()


@attack(truth(2, ANY_SITE))
def leaky_relu_input_slope():
    """leaky_relu(x, negative_slope=float(y.mean())): the slope, read from y, multiplies x."""

    def forward(m, x, y):
        return F.leaky_relu(x, negative_slope=float(y.mean()))

    return Fn(forward), _xy()


@attack(truth(1))
def uniform_bounds_from_input():
    """empty(4).uniform_(0, float(|x|.max())): m·U with m = max|x|, piecewise linear in x."""

    def forward(m, x):
        return torch.empty(4).uniform_(0.0, float(x.abs().max()) + 1.0)

    return Fn(forward), _x()


@attack(truth(1))
def normal_inplace_mean_from_input():
    """empty(4).normal_(mean=float(x.mean()), std=1): mean(x) + ε."""
    return Fn(lambda m, x: torch.empty(4).normal_(float(x.mean()), 1.0)), _x()


@attack(truth(math.inf))
def logspace_end_from_input():
    """logspace(0, float(x.mean()), 4) = 10^(k·mean(x)/3): an exponential of the input."""
    return Fn(lambda m, x: torch.logspace(0.0, float(x.mean()), 4)), _x()


@attack(truth(2, ANY_SITE))
def python_mod_of_item():
    """x · (float(Σy) % 1): a sawtooth of the sum, continuous between its jumps."""
    return Fn(lambda m, x, y: x * (float(y.sum()) % 1.0)), _xy()


@attack(truth(2, ANY_SITE))
def python_float_of_other_input():
    """x · float(y.mean()): a product of two inputs through a Python float."""
    return Fn(lambda m, x, y: x * float(y.mean())), _xy()


# --- registry entries whose algebra differs from their class -----------------------------
@attack(
    truth(math.inf, ANY_SITE),
)
def renorm_l1_rows():
    """renorm(x, p=1, dim=0, maxnorm=0.5): x·0.5/‖x‖₁ per row, a quotient, though p = 1."""
    return Fn(lambda m, x: torch.renorm(x, p=1, dim=0, maxnorm=0.5)), _x()


@attack(
    truth(math.inf, cross=True),
)
def complex_l1_norm():
    """vector_norm(z, ord=1) of a complex z: Σ sqrt(re² + im²), smooth, not piecewise linear."""

    def forward(m, x):
        return torch.linalg.vector_norm(torch.view_as_complex(x.view(2, 2, 2)), ord=1, dim=-1)

    return Fn(forward), _x()


@attack(
    truth(2, cross=True),
)
def smooth_l1_quadratic_zone():
    """smooth_l1_loss(x, y, beta=100): (x − y)²/200 while |x − y| < 100: quadratic."""
    return Fn(lambda m, x, y: F.smooth_l1_loss(x, y, beta=100.0)), _xy()


@attack(
    truth(2, cross=True),
)
def huber_quadratic_zone():
    """huber_loss(x, y, delta=100, reduction='none'): (x − y)²/2 near zero: quadratic."""
    return Fn(lambda m, x, y: F.huber_loss(x, y, delta=100.0, reduction="none")), _xy()


@attack(
    truth(1),
)
def frac_of_input():
    """frac(3x) = 3x − trunc(3x): continuous (slope 3) between jumps, not piecewise constant."""
    return Fn(lambda m, x: torch.frac(3 * x)), _x()


@attack(
    truth(1),
)
def heaviside_copies_values():
    """heaviside(relu(x), y): y wherever x ≤ 0: the second argument is copied, not compared."""
    return Fn(lambda m, x, y: torch.heaviside(torch.relu(x), y)), _xy()


@attack(
    truth(1),
)
def histogram_bin_edges():
    """histogram(x, bins=4).bin_edges = linspace(min x, max x, 5): continuous in x."""
    return Fn(lambda m, x: torch.histogram(x.flatten(), bins=4).bin_edges), _x()


@attack(
    truth(math.inf, ANY_SITE),
)
def xlogy_of_two_inputs():
    """xlogy(x, 1 + y²) = x·log(1 + y²): an input times a function of another input."""
    return Fn(lambda m, x, y: torch.special.xlogy(x, 1 + y * y)), _xy()


@attack(
    truth(2, ANY_SITE),
)
def nll_loss_input_weight():
    """nll_loss(x, t, weight=w, reduction='sum') = −Σ w[tᵢ]·x[i, tᵢ]: class weights from an
    input multiply the scores."""

    def forward(m, x, w):
        return F.nll_loss(x, m.t, weight=w, reduction="sum")

    return Fn(forward, t=torch.tensor([0, 2, 1])), (torch.randn(3, 4), torch.randn(4))


@attack(
    truth(math.inf, ANY_SITE),
)
def cholesky_solve_input_factor():
    """cholesky_solve(B, L(x)) = (L·Lᵀ)⁻¹·B with L built from the input: rational in x."""

    def forward(m, x):
        factor = torch.tril(x) + 3 * torch.eye(3)
        return torch.cholesky_solve(m.b, factor)

    return Fn(forward, b=torch.randn(3, 2)), (0.3 * torch.randn(3, 3),)


@attack(
    truth(2, cross=True),
)
def lstsq_residuals():
    """lstsq(A, B, driver='gelsd').residuals = ‖A·X − B‖²: quadratic in B."""

    def forward(m, b):
        return torch.linalg.lstsq(m.a, b, driver="gelsd").residuals

    return Fn(forward, a=torch.randn(5, 2)), (torch.randn(5, 3),)


@attack(
    truth(2, ANY_SITE),
)
def trapezoid_input_spacing():
    """trapezoid(y, x=x) = Σ (x_{i+1} − x_i)(y_i + y_{i+1})/2: spacing times values."""
    return Fn(lambda m, x, y: torch.trapezoid(y, x=x)), (
        torch.randn(5).sort().values,
        torch.randn(5),
    )


@attack(truth(2, ANY_SITE))
def embedding_bag_input_table_and_weights():
    """embedding_bag(ids, table=x, per_sample_weights=w): Σ wᵢ·x[idᵢ], two inputs multiplied."""

    def forward(m, table, w):
        return F.embedding_bag(m.ids, table, m.offsets, mode="sum", per_sample_weights=w)

    return (
        Fn(forward, ids=torch.tensor([0, 2, 1, 3]), offsets=torch.tensor([0, 2])),
        (torch.randn(4, 3), torch.randn(4)),
    )


@attack(truth(3, GATING))
def index_reduce_prod_rows():
    """x.index_reduce(0, idx, s, 'prod') with idx = [0, 0, 1]: row 0 is x₀·s₀·s₁."""

    def forward(m, x, s):
        return x.index_reduce(0, m.idx, s, "prod")

    return Fn(forward, idx=torch.tensor([0, 0, 1])), (torch.randn(2, 3), torch.randn(3, 3))


@attack(truth(1))
def quantile_static_level():
    """quantile(x, 0.3, dim=-1): a sort and an interpolation with static weights."""
    return Fn(lambda m, x: torch.quantile(x, 0.3, dim=-1)), _x()


@attack(
    truth(2, CONTRACTION),
)
def covariance_of_input():
    """cov(x): centred x·xᵀ/(n − 1), a contraction of the input with itself."""
    return Fn(lambda m, x: torch.cov(x)), _x(3, 5)


@attack(
    truth(3, CONTRACTION),
)
def matrix_power_three():
    """linalg.matrix_power(x, 3) = x·x·x."""
    return Fn(lambda m, x: torch.linalg.matrix_power(x, 3)), _x(3, 3)


@attack(truth(math.inf, cross=True))
def eigvalsh_of_symmetrised():
    """eigvalsh(x + xᵀ): smooth functions of the entries (away from degenerate spectra)."""
    return Fn(lambda m, x: torch.linalg.eigvalsh(x + x.T)), _x(3, 3)


@attack(truth(1))
def clamp_tensor_bounds():
    """clamp(x, min=y, max=y + 1): piecewise linear in all three."""
    return Fn(lambda m, x, y: torch.clamp(x, min=y, max=y + 1)), _xy()


@attack(truth(2, cross=False))
def einsum_diagonal_square():
    """einsum('ii,ii->i', x, x) = diag(x)²: pointwise, no cross terms."""
    return Fn(lambda m, x: torch.einsum("ii,ii->i", x, x)), _x(3, 3)


@attack(truth(1))
def cummax_values():
    """cummax(x, -1).values: running maxima, piecewise linear."""
    return Fn(lambda m, x: torch.cummax(x, -1).values), _x()


@attack(truth(math.inf))
def logcumsumexp_scan():
    """logcumsumexp(x, -1): smooth."""
    return Fn(lambda m, x: torch.logcumsumexp(x, -1)), _x()


# --- in-place writes through views the other cases do not take ----------------------------
@attack(truth(2, GATING))
def view_read_before_base_written():
    """v = y[:, :2] taken first; then y.mul_(flip(x)); return v: the view sees the write."""

    def forward(m, x):
        y = x.clone()
        view = y[:, :2]
        y.mul_(x.flip(-1))
        return view

    return Fn(forward), _x()


@attack(truth(2, GATING))
def split_views_multiplied():
    """a, b = y.split(2, 1); a.mul_(b); return y: the first half becomes x_i·x_{i+2}."""

    def forward(m, x):
        y = x.clone()
        first, second = y.split(2, dim=1)
        first.mul_(second)
        return y

    return Fn(forward), _x()


@attack(truth(2, GATING))
def unbind_rows_multiplied():
    """r = y.unbind(0); r[0].mul_(r[1]); return y: row 0 becomes x₀·x₁ entrywise."""

    def forward(m, x):
        y = x.clone()
        rows = y.unbind(0)
        rows[0].mul_(rows[1])
        return y

    return Fn(forward), _x()


@attack(truth(2, GATING))
def as_strided_window_multiplied():
    """as_strided windows of one flat buffer: entries 0..1 times entries 4..5, in place."""

    def forward(m, x):
        y = x.clone().view(-1)
        y.as_strided((2,), (1,), 0).mul_(y.as_strided((2,), (1,), 4).clone())
        return y

    return Fn(forward), _x()


@attack(truth(2, GATING))
def transposed_in_place_then_row_product():
    """y = x.clone(); y.t_(); y[0].mul_(y[1]): columns 0 and 1 of x multiplied in place."""

    def forward(m, x):
        y = x.clone()
        y.t_()
        y[0].mul_(y[1])
        return y

    return Fn(forward), _x()


@attack(truth(2, GATING))
def index_put_accumulate_product():
    """zeros(4).index_put_((idx,), x·y, accumulate=True): sums of products, written in place."""

    def forward(m, x, y):
        out = torch.zeros(4)
        out.index_put_((m.idx,), x * y, accumulate=True)
        return out

    return Fn(forward, idx=torch.tensor([0, 1, 1, 3])), (torch.randn(4), torch.randn(4))


@attack(truth(2, GATING))
def detach_in_place_then_product():
    """y = 2·x[:, :2]; y.detach_(); y·x[:, 2:]: detach_ hides nothing from the values."""

    def forward(m, x):
        y = x[:, :2] * 2
        y.detach_()
        return y * x[:, 2:]

    return Fn(forward), _x()


@attack(truth(2, GATING))
def data_attribute_product():
    """x.data[:, :2] · x[:, 2:]: ``.data`` is the same values."""
    return Fn(lambda m, x: x.data[:, :2] * x[:, 2:]), _x()


@attack(truth(2, ANY_SITE), stateful=True)
def parameter_overwritten_under_no_grad():
    """with no_grad: w.copy_(x.mean(0)); x·w: a parameter rewritten from the input."""

    def forward(m, x):
        with torch.no_grad():
            m.w.copy_(x.mean(0))
        return x * m.w

    return Fn(forward, w=nn.Parameter(torch.zeros(4))), _x(3, 4)


# --- hooks, higher-order ops, custom functions -------------------------------------------
@attack(truth(2, ANY_SITE))
def root_forward_pre_hook():
    """A forward pre-hook on the module itself: x → x·Σx before a linear layer."""
    module = Fn(lambda m, x: m.lin(x), lin=nn.Linear(4, 3))
    module.register_forward_pre_hook(lambda m, args: (args[0] * args[0].sum(),))
    return module, _x()


@attack(truth(2, GATING))
def root_forward_hook():
    """A forward hook on the module itself multiplies the output by the input."""
    module = Fn(lambda m, x: x.flip(-1))
    module.register_forward_hook(lambda m, args, out: out * args[0])
    return module, _x()


@attack(truth(2, GATING))
def checkpointed_product():
    """torch.utils.checkpoint(lambda a, b: a·b, x, y): the product inside a checkpoint."""
    from torch.utils.checkpoint import checkpoint

    def forward(m, x, y):
        return checkpoint(torch.mul, x, y, use_reentrant=False)

    return Fn(forward), _xy()


class _Product(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        return grad * b, grad * a


@attack(truth(2, GATING))
def custom_function_product():
    """A custom autograd.Function whose forward is a·b (and whose backward is right)."""
    return Fn(lambda m, x, y: _Product.apply(x, y)), _xy()


@attack(truth(4, GATING))
def while_loop_repeated_gate():
    """while_loop: h ← h·y three times: x·y³."""
    from torch._higher_order_ops.while_loop import while_loop

    def forward(m, x, y):
        def cond(i, h):
            return i < 3

        def body(i, h):
            return i + 1, h * y

        return while_loop(cond, body, (torch.tensor(0), x))[1]

    return Fn(forward), _xy()


@attack(truth(1))
def orthogonal_parametrization():
    """Linear layer with an orthogonal parametrisation: the weight is static, x ↦ Wx + b."""
    layer = nn.utils.parametrizations.orthogonal(nn.Linear(4, 4))
    return Fn(lambda m, x: m.layer(x), layer=layer), _x()


@attack(truth(1), stateful=True)
def spectral_norm_train_mode():
    """spectral_norm in train mode: a power iteration rewrites buffers; the weight is static."""
    layer = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3))
    return Fn(lambda m, x: m.layer(x), layer=layer), _x()


# --- shapes, dtypes, depth --------------------------------------------------------------
@attack(truth(2, GATING))
def broadcast_scalar_input():
    """x · s with s an input of shape (1,): every entry times the same input value."""
    return Fn(lambda m, x, s: x * s), (torch.randn(2, 4), torch.randn(1))


@attack(truth(1))
def zero_size_second_input():
    """x + e.sum(0) with e of shape (0, 4): the empty input adds zero."""
    return Fn(lambda m, x, e: x + e.sum(0)), (torch.randn(2, 4), torch.randn(0, 4))


@attack(truth(2, GATING))
def half_precision_product():
    """x[:, :2]·x[:, 2:] for a float16 input."""
    return Fn(lambda m, x: x[:, :2] * x[:, 2:]), (torch.randn(2, 4).half(),)


@attack(truth(2, GATING))
def bfloat16_product():
    """x[:, :2]·x[:, 2:] for a bfloat16 input."""
    return Fn(lambda m, x: x[:, :2] * x[:, 2:]), (torch.randn(2, 4).bfloat16(),)


@attack(truth(1))
def integer_ids_as_gate():
    """ids.float()·x: a continuous input scaled by integers: a piecewise gate, degree 1."""
    return Fn(lambda m, ids, x: ids.float() * x), (torch.tensor([1, 0, 2, 3]), torch.randn(4))


@attack(truth(1))
def two_hundred_op_chain():
    """200 affine steps x ← 0.999·x + 0.001: still affine."""

    def forward(m, x):
        for _ in range(200):
            x = x * 0.999 + 0.001
        return x

    return Fn(forward), _x()


@attack(truth(32, cross=False))
def repeated_squaring():
    """x squared five times: x³², pointwise."""

    def forward(m, x):
        for _ in range(5):
            x = x * x
        return x

    return Fn(forward), (0.5 + 0.5 * torch.rand(2, 4),)


@attack(truth(5, GATING))
def recursive_rolled_product():
    """f(x, n) = x·f(roll(x), n − 1), depth 4: a product of 5 distinct entries per place."""

    def product(x: torch.Tensor, depth: int) -> torch.Tensor:
        return x if depth == 0 else x * product(x.roll(1, -1), depth - 1)

    return Fn(lambda m, x: product(x, 4)), _x(2, 6)


@attack(truth(2, GATING))
def dict_output_one_static():
    """{'prod': x·y, 'const': ones(2), 'index': argmax(x)}: one continuous output."""

    def forward(m, x, y):
        return {"prod": x * y, "const": torch.ones(2), "index": x.argmax(-1)}

    return Fn(forward), _xy()


@attack(
    truth(2, cross=False),
)
def complex_times_conjugate():
    """view_as_real(z·conj(z)) = (re² + im², 0): degree 2, no cross-entry terms."""

    def forward(m, x):
        z = torch.view_as_complex(x.view(2, 2, 2))
        return torch.view_as_real(z * z.conj())

    return Fn(forward), _x()


@attack(truth(2, ANY_SITE))
def complex_product_of_two_inputs():
    """view_as_real(z·w) for complex inputs z, w."""
    return Fn(lambda m, z, w: torch.view_as_real(z * w)), (
        torch.randn(3, dtype=torch.complex64),
        torch.randn(3, dtype=torch.complex64),
    )


# --- entries marked pointwise that are not: the site pass takes them for x's own function ---
@attack(
    truth(math.inf, ANY_SITE),
)
def logcumsumexp_times_input():
    """x · logcumsumexp(x, -1): entry j times a function of entries 0..j, not a pointwise op."""
    return Fn(lambda m, x: x * torch.logcumsumexp(x, -1)), _x()


@attack(
    truth(math.inf, ANY_SITE),
)
def divided_by_pairwise_distance():
    """x / pairwise_distance(x, 0, keepdim=True): each row divided by its own norm."""
    return Fn(lambda m, x: x / F.pairwise_distance(x, torch.zeros_like(x), keepdim=True)), _x()


# --- selections by input-derived indices, scatters and resampling: controls ----------------
@attack(truth(2, GATING))
def gather_by_input_order_times_input():
    """x · gather(y, argsort(x)): y read at x's order, times x."""
    return Fn(lambda m, x, y: x * y.gather(-1, x.argsort(-1))), _xy()


@attack(truth(1))
def index_add_at_input_argmax():
    """zeros(4, 4).index_add(0, argmax(x), y): rows of y added where x peaks: linear in y."""

    def forward(m, x, y):
        return torch.zeros(4, 4).index_add(0, x.argmax(-1), y)

    return Fn(forward), _xy()


@attack(truth(2, GATING))
def scatter_add_input_index_product():
    """zeros(2, 4).scatter_add(1, argsort(x), x·y): products scattered by x's own order."""

    def forward(m, x, y):
        return torch.zeros(2, 4).scatter_add(1, x.argsort(-1), x * y)

    return Fn(forward), _xy()


@attack(truth(1))
def masked_scatter_by_sign():
    """x.masked_scatter(x > 0, y): y's entries poured into x's positive places."""
    return Fn(lambda m, x, y: x.masked_scatter(x > 0, y)), _xy()


@attack(truth(2, CONTRACTION))
def diag_embed_contraction():
    """diag_embed(x) @ y: a contraction with a diagonal matrix built from the input."""
    return Fn(lambda m, x, y: torch.diag_embed(x) @ y), (torch.randn(3), torch.randn(3, 2))


@attack(truth(2, CONTRACTION))
def conv_transpose_input_kernel():
    """conv_transpose1d(x, weight=y): the kernel is an input."""

    def forward(m, x, y):
        return F.conv_transpose1d(x, y.view(1, 1, 3))

    return Fn(forward), (torch.randn(1, 1, 5), torch.randn(3))


@attack(truth(1))
def fold_of_unfold():
    """fold(unfold(x)): overlapping patches summed back: linear."""

    def forward(m, x):
        return F.fold(F.unfold(x, 2), (3, 3), 2)

    return Fn(forward), (torch.randn(1, 1, 3, 3),)


@attack(truth(1))
def interpolate_bicubic_and_area():
    """interpolate(x, bicubic) + interpolate(x, area) back to size: fixed linear maps."""

    def forward(m, x):
        up = F.interpolate(x, size=(4, 4), mode="bicubic", align_corners=False)
        return F.interpolate(up, size=(2, 2), mode="area")

    return Fn(forward), (torch.randn(1, 1, 2, 2),)


@attack(truth(1))
def pixel_shuffle_roll_flip():
    """roll(flip(pixel_shuffle(x))): data movement only."""

    def forward(m, x):
        return torch.roll(torch.flip(F.pixel_shuffle(x, 2), (-1,)), 1, -2)

    return Fn(forward), (torch.randn(1, 4, 2, 2),)


@attack(truth(1))
def bucketize_gate():
    """y · bucketize(x, edges): y scaled by the bucket x falls in: a piecewise gate."""

    def forward(m, x, y):
        return y * torch.bucketize(x, m.edges).float()

    return Fn(forward, edges=torch.tensor([-1.0, 0.0, 1.0])), _xy()


@attack(truth(0, dependence="discrete"))
def straight_through_round():
    """x + (round(x) − x).detach(): the straight-through trick's value is round(x)."""
    return Fn(lambda m, x: x + (torch.round(3 * x) - x).detach()), _x()


@attack(truth(1))
def kthvalue_median_mode_values():
    """kthvalue + median + mode values along the last axis: selections, piecewise linear."""

    def forward(m, x):
        return x.kthvalue(2, -1).values + x.median(-1).values + x.mode(-1).values

    return Fn(forward), _x()


@attack(truth(0, dependence="discrete"))
def embedding_max_norm_renormalises_table():
    """embedding(ids, weight, max_norm=1): rows renormalised in place, read by integer ids."""

    def forward(m, ids):
        return F.embedding(ids, m.table, max_norm=1.0)

    return Fn(forward, table=nn.Parameter(3 * torch.randn(5, 3))), (torch.tensor([0, 3, 1]),)
