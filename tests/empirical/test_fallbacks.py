"""Which ops validate differentiates through finite differences instead of forward AD:
the list of aten ops PyTorch silently declares not differentiable, checked against
PyTorch itself."""

from __future__ import annotations

import pytest
import torch

from analyzer.empirical.fallbacks import SILENTLY_NOT_DIFFERENTIABLE, trusted
from analyzer.passes.registry import REGISTRY, Rule

_NOT_VALUES = {Rule.STATIC, Rule.COMPARE, Rule.STRUCTURAL}


def _floating_output_without_gradient(op: torch._ops.OpOverload) -> bool | None:
    """Whether ``op`` on a floating argument that requires grad returns floating values
    that do not (``None``: no plain call of it works)."""
    x = torch.rand(3, dtype=torch.float64) + 0.5
    for args in ((x,), (x, 2), (x, x.clone())):
        inputs = [a.clone().requires_grad_() if isinstance(a, torch.Tensor) else a for a in args]
        try:
            out = op(*inputs)
        except Exception:
            continue
        outs = out if isinstance(out, (tuple, list)) else [out]
        floating = [o for o in outs if isinstance(o, torch.Tensor) and o.is_floating_point()]
        return bool(floating) and not any(o.requires_grad for o in floating)
    return None


def test_the_list_is_every_registered_op_pytorch_leaves_without_a_gradient() -> None:
    """A registered op whose floating output gets no gradient is listed (``detach`` is
    validate's own business), and every listed op is one."""
    silent = set()
    for name, entry in REGISTRY.items():
        packet = getattr(torch.ops.aten, name.removeprefix("aten."), None)
        if packet is None or entry.rule in _NOT_VALUES or "detach" in name:
            continue
        for overload in packet.overloads():
            if _floating_output_without_gradient(getattr(packet, overload)):
                silent.add(packet.__name__)
    assert silent == set(SILENTLY_NOT_DIFFERENTIABLE)


@pytest.mark.parametrize("degree", [2, 3])
def test_validate_measures_an_orthogonal_polynomial(degree: int) -> None:
    """chebyshev_polynomial_t(x, n) has degree n; forward AD alone read 0."""
    import analyzer

    class Chebyshev(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.special.chebyshev_polynomial_t(x, degree)

    report = analyzer.validate(Chebyshev(), (torch.randn(2, 4),), samples=3, max_degree=4)
    assert report.degree_empirical == str(degree)
    assert not trusted(torch.ops.aten.special_chebyshev_polynomial_t.n_scalar)
