"""Class 8: ops whose algebra is known (kron, einsum, det, solve, grid_sample, fft, ...).

Where such an op is unknown to the registry, ``inf`` and a listed unknown op are allowed
(over-approximations); a missing site where the op multiplies two input-dependent values is
not. Linear ones (resampling, fft, solve with a static matrix) are degree 1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tests.adversarial.catalogue import ANY_SITE, CONTRACTION, GATING, Fn, case, truth


@case("precise", truth(2, ANY_SITE))
def kron_product():
    """kron(x, y) for vectors: every x_i·y_j."""
    return Fn(lambda m, x, y: torch.kron(x, y)), (torch.randn(2), torch.randn(3))


@case("precise", truth(2, ANY_SITE))
def linalg_cross_product():
    """linalg.cross(x, y): x_i·y_j − x_j·y_i, products of two inputs."""
    return Fn(lambda m, x, y: torch.linalg.cross(x, y)), (torch.randn(2, 3), torch.randn(2, 3))


@case("precise", truth(2, CONTRACTION))
def multi_dot_chain():
    """linalg.multi_dot([x, W, yᵀ]): a chained matmul, bilinear in x and y."""

    def forward(m, x, y):
        return torch.linalg.multi_dot([x, m.weight, y.T])

    inputs = (torch.randn(2, 3), torch.randn(4, 3))
    return Fn(forward, weight=torch.randn(3, 3)), inputs


@case("precise", truth(2, CONTRACTION))
def einsum_outer_repeated_operand():
    """einsum("bi,bj->bij", x, x): the outer product of x with itself (entries i ≠ j)."""
    return Fn(lambda m, x: torch.einsum("bi,bj->bij", x, x)), (torch.randn(2, 3),)


@case("precise", truth(3, CONTRACTION))
def einsum_three_operands():
    """einsum("bi,bi,bi->b", x, y, z): a trilinear form, degree 3."""
    inputs = (torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3))
    return Fn(lambda m, x, y, z: torch.einsum("bi,bi,bi->b", x, y, z)), inputs


@case("precise", truth(math.inf, ANY_SITE))
def addcdiv_quotient():
    """addcdiv(x, y, |z| + 1, value=0.5) = x + y / (2(|z| + 1)): y times a function of z."""

    def forward(m, x, y, z):
        return torch.addcdiv(x, y, z.abs() + 1, value=0.5)

    return Fn(forward), (torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3))


@case("precise", truth(3, GATING))
def det_of_input():
    """det of 3×3 matrices read from the input: products of three distinct entries."""
    return Fn(lambda m, x: torch.linalg.det(x.view(2, 3, 3))), (torch.randn(2, 9),)


@case("precise", truth(math.inf, ANY_SITE))
def slogdet_log_abs():
    """log|det| of 2×2 matrices from the input: log|ad − bc|."""
    return Fn(lambda m, x: torch.linalg.slogdet(x.view(2, 2, 2))[1]), (torch.randn(2, 4),)


@case("precise", truth(math.inf))
def inverse_of_input():
    """inv(x + 3I) of 2×2 matrices from the input: rational, not polynomial."""

    def forward(m, x):
        return torch.linalg.inv(x.view(2, 2, 2) + 3 * torch.eye(2))

    return Fn(forward), (torch.randn(2, 4),)


@case("precise", truth(1))
def solve_static_matrix():
    """solve(A, x) with A a buffer: A⁻¹·x, linear in x."""
    matrix = torch.randn(3, 3) + 3 * torch.eye(3)
    return Fn(lambda m, x: torch.linalg.solve(m.matrix, x), matrix=matrix), (torch.randn(3, 2),)


@case("precise", truth(math.inf, ANY_SITE))
def solve_input_matrix():
    """solve(3I + A(x), b(x)): the solution multiplies the inverse of one input by another."""

    def forward(m, a, b):
        return torch.linalg.solve(3 * torch.eye(2) + a, b)

    return Fn(forward), (torch.randn(2, 2), torch.randn(2, 3))


@case("precise", truth(math.inf))
def cdist_pairwise():
    """cdist(x, y): norms of differences; a smooth statistic of x_i − y_j."""
    return Fn(lambda m, x, y: torch.cdist(x, y)), (torch.randn(3, 2), torch.randn(4, 2))


@case("precise", truth(math.inf, ANY_SITE))
def cosine_similarity_pair():
    """cosine_similarity(x, y) = x·y / (|x||y|): an inner product of two inputs."""
    return Fn(lambda m, x, y: F.cosine_similarity(x, y, dim=-1)), (
        torch.randn(2, 4),
        torch.randn(2, 4),
    )


@case("precise", truth(math.inf))
def vector_norm_rows():
    """linalg.vector_norm(x, dim=-1): a smooth statistic, no product of two values."""
    return Fn(lambda m, x: torch.linalg.vector_norm(x, dim=-1)), (torch.randn(2, 4),)


@case("precise", truth(3, ANY_SITE))
def grid_sample_dynamic():
    """grid_sample(image(x), grid(y)), bilinear: Σ image·w_x(grid)·w_y(grid), degree 3 in
    (image, grid) on each cell: the image times products of the grid's coordinates."""

    def forward(m, image, grid):
        return F.grid_sample(image, grid, mode="bilinear", align_corners=False)

    grid = 0.6 * (2 * torch.rand(1, 2, 2, 2) - 1)
    return Fn(forward), (torch.randn(1, 1, 4, 4), grid)


@case("precise", truth(1))
def interpolate_bilinear():
    """interpolate(x, scale_factor=2, mode="bilinear"): a fixed linear resampling."""

    def forward(m, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    return Fn(forward), (torch.randn(1, 1, 2, 3),)


@case("precise", truth(1))
def fft_real_part():
    """fft(x).real: a linear transform."""
    return Fn(lambda m, x: torch.fft.fft(x).real), (torch.randn(2, 4),)


@case("precise", truth(2, GATING))
def meshgrid_outer():
    """a, b = meshgrid(x, y); a·b = the outer product x_i·y_j."""

    def forward(m, x, y):
        a, b = torch.meshgrid(x, y, indexing="ij")
        return a * b

    return Fn(forward), (torch.randn(3), torch.randn(2))


@case("precise", truth(math.inf, ANY_SITE))
def weight_norm_of_input():
    """torch._weight_norm(v=x, g): g·x/‖x‖ row by row, a normalisation of the input."""
    return Fn(lambda m, x: torch._weight_norm(x, m.g, 0), g=torch.rand(3, 1) + 0.5), (
        torch.randn(3, 4),
    )


@case("precise", truth(math.inf))
def log_sigmoid():
    """logsigmoid(x): a smooth pointwise nonlinearity."""
    return Fn(lambda m, x: F.logsigmoid(x)), (torch.randn(2, 4),)


@case("precise", truth(2, CONTRACTION))
def set_grad_disabled_region():
    """with set_grad_enabled(False): x·xᵀ, a contraction inside a grad-mode region."""

    def forward(m, x):
        with torch.set_grad_enabled(False):
            return x @ x.transpose(-1, -2)

    return Fn(forward), (torch.randn(3, 2),)
