"""Each block alone: the truth it declares is what the analysis finds (the oracle is the
block's own declaration, checked against an independent trace and analysis)."""

from __future__ import annotations

import pytest
import torch

from analyzer.analysis import analyze
from analyzer.testing.blocks import BLOCKS, Block, build_block
from analyzer.testing.strategies import Architecture


def single(kind: str, d_in: int = 2, d_out: int = 3) -> Architecture:
    if kind == "residual":
        inner = (Block("linear", d_in, 3), Block("relu", 3, 3), Block("linear", 3, d_in))
        return Architecture((Block("residual", d_in, d_in, inner),), 1, 3, d_in, seed=0)
    out = d_out if BLOCKS[kind].resizes else d_in
    return Architecture((Block(kind, d_in, out),), batch=2, time=3, features=d_in, seed=0)


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_a_block_alone_is_what_it_declares(kind: str) -> None:
    drawn = single(kind)
    analysis = analyze(drawn.module, drawn.args)
    assert drawn.truth.disagreements(analysis) == []
    out = drawn.module(*drawn.args)
    assert out.shape == (drawn.batch, drawn.time, drawn.blocks[-1].d_out)


@pytest.mark.parametrize("kind", [k for k, b in BLOCKS.items() if b.polynomial and k != "residual"])
def test_polynomial_blocks_scale_as_their_degree(kind: str) -> None:
    """Oracle: a homogeneous block's degree is read off f(αx) = α^k·f(x) once the biases
    are zero; affine blocks are checked the same way (k = 1)."""
    module = build_block(Block(kind, 2, 2), time=3).double().eval()
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "bias" in name:
                parameter.zero_()
        for name, buffer in module.named_buffers():
            if name.endswith("running_mean"):
                buffer.zero_()
    x = torch.randn(1, 3, 2, dtype=torch.float64)
    degree = BLOCKS[kind].degree
    if kind == "batchnorm":  # eval batch norm keeps its own bias: compare differences
        assert torch.allclose(module(3 * x) - module(x), 2 * (module(x) - module(0 * x)))
        return
    assert torch.allclose(module(2 * x), 2**degree * module(x))


def test_the_top_k_router_really_gates() -> None:
    """With one expert chosen, a softmax over one logit would be the constant 1: the block
    routes two of three, so its output is not piecewise affine."""
    drawn = single("topk_moe", 1, 1)
    analysis = analyze(drawn.module, drawn.args)
    assert analysis.degree == "inf" and {s.kind for s in analysis.sites} == {
        "gating",
        "normalization",
    }
