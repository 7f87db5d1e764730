"""Class 12: values that leave torch and come back.

When export fails, the ``real`` frontend records the model by running it once. A value read
into Python or numpy (``.numpy()``, ``.tolist()``, ``np.asarray``, ``.item()``) and turned
back into a tensor is a constant of that recording, and a value written from Python
(``apply_``, ``map_``, a write through a numpy view) leaves no node at all. Each such value
must be input-dependent in the analysis (worst case), or the analysis must refuse (the
writes: ``tests/frontend/test_escaping.py`` checks that the refusal names them); the
warning must name what was frozen (values, not only control flow). A tensor the module owns,
used after an escape, stays a constant (a control: exact).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from tests.adversarial.catalogue import ANY_SITE, GATING, Fn, case, truth, warns_when_frozen


def warns_of_escaped_values(doc: dict[str, Any]) -> list[str]:
    """A recording through which values left torch says so in ``warnings``, by name."""
    if doc["frontend"] != "real" or any("values left torch" in w for w in doc["warnings"]):
        return []
    return ["values left torch during the recording and no warning names them"]


_CHECKS = (warns_when_frozen, warns_of_escaped_values)


class NumpyTanh(torch.autograd.Function):
    """tanh computed by numpy inside a custom autograd.Function."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.tanh(x.detach().numpy()))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


@torch.library.custom_op("adversarial_escapes::numpy_sin", mutates_args=())
def numpy_sin(x: torch.Tensor) -> torch.Tensor:
    """sin computed by numpy: a torch.library op whose body leaves torch."""
    return torch.from_numpy(np.sin(x.detach().numpy()))


_LIBRARY = torch.library.Library("adversarial_escapes", "FRAGMENT")
_LIBRARY.define("numpy_square(Tensor x) -> Tensor")
_LIBRARY.impl(
    "numpy_square",
    lambda x: torch.from_numpy(np.square(x.detach().numpy())),
    "CompositeImplicitAutograd",
)


@case("escapes", truth(math.inf), checks=_CHECKS)
def numpy_tanh_function():
    """A custom autograd.Function whose forward is np.tanh: smooth, not static."""
    return Fn(lambda m, x: NumpyTanh.apply(x)), (torch.randn(2, 4),)


@case("escapes", truth(2, GATING), checks=_CHECKS)
def numpy_flip_product():
    """x · from_numpy(x.numpy()[:, ::-1]): x_i·x_{n-1-i}, the mirror made by numpy."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return x * torch.from_numpy(x.numpy()[:, ::-1].copy())

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False))
def apply_square():
    """y.apply_(v ↦ v·v) + x = x² + x, the square written by a Python lambda."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y.apply_(lambda v: v * v)
        return y + x

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(2, GATING))
def map_product():
    """y.map_(flip(x), (a, b) ↦ a·b) + x: x_i·x_{n-1-i} written by a Python lambda."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y.map_(x.flip(-1), lambda a, b: a * b)
        return y + x

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False))
def numpy_view_write():
    """y = x.clone(); y.numpy()[...] **= 2; y + x: a square written through a numpy view."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = x.detach().clone()
        view = y.numpy()
        view **= 2
        return y + x

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(math.inf, ANY_SITE), checks=_CHECKS)
def item_guard_reciprocal():
    """amax = |x|.max().item(); if amax == 0: …; x · tensor(1/amax): x / max|x|."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        amax = x.abs().max().item()
        if amax == 0:
            return x
        return x * torch.tensor(1 / amax)

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False), checks=_CHECKS)
def tolist_after_guard():
    """A guard on x.sum(), then x · tensor(x.tolist()) = x²: the copy made in Python."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > -1e9:
            return x * torch.tensor(x.tolist())
        return x

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False), checks=_CHECKS)
def asarray_square():
    """x + as_tensor(np.square(np.asarray(x))): numpy reads x through __array__."""

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return x + torch.as_tensor(np.square(np.asarray(x.detach())))

    return Fn(forward), (torch.randn(2, 4),)


@case("escapes", truth(math.inf), checks=(warns_when_frozen,))
def library_op_numpy_body():
    """A torch.library op without a fake kernel whose body runs np.sin: export cannot
    trace it; the recording keeps it as an op the registry does not know."""
    return Fn(lambda m, x: 2 * numpy_sin(x)), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False), frontend="real", checks=_CHECKS)
def tolist_square_recorded():
    """x · tensor(x.tolist()) traced with frontend="real" on purpose (export would follow
    it): the recording's constant is made of x."""
    return Fn(lambda m, x: x * torch.tensor(x.tolist())), (torch.randn(2, 4),)


@case("escapes", truth(1), frontend="real", checks=_CHECKS)
def module_tensor_after_escape():
    """x.tolist() (unused), then x · scale, a tensor attribute of the module: a constant
    of the module's own state, not of the escape (exact)."""

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.tensor([1.0, 2.0, 3.0, 4.0])  # a plain attribute

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x.tolist()
            return x * self.scale

    return Scaled(), (torch.randn(2, 4),)


@case("escapes", truth(2, cross=False), checks=(warns_when_frozen,))
def library_composite_numpy_body():
    """x + numpy_square(x), a torch.library op whose composite body squares in numpy: the
    recording keeps the op whole, an op the registry does not know."""
    return Fn(lambda m, x: x + torch.ops.adversarial_escapes.numpy_square(x)), (torch.randn(2, 4),)


VALIDATE_GAPS: dict[str, tuple[str, str]] = {}
"""What ``validate`` gets wrong on these cases (``tests/adversarial/test_validate.py``
expects it, strictly: a fix turns the expectation into a failure to remove): ``refused``
cases give no report, ``degree`` cases a measured degree below the truth."""
