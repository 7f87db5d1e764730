"""Class 10: inputs and outputs.

Integer inputs (at most discrete on their own), embedding lookups (continuous sources: the
oracle perturbs the embedding's output), dict and keyword inputs, an unused input, constant
outputs, tuples and dicts of outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import GATING, Fn, case, truth


@case("io", truth(0, dependence="discrete"))
def integer_input_only():
    """(3·ids + 1).float(): a function of integers only, piecewise constant."""
    return Fn(lambda m, ids: (ids * 3 + 1).float()), (torch.randint(0, 5, (2, 3)),)


@case("io", truth(1), sources=("embed",))
def embedding_relu_mlp():
    """embed(ids) → Linear → ReLU → Linear: piecewise affine in the embedding's output."""
    model = nn.Sequential()
    model.add_module("embed", nn.Embedding(10, 4))
    model.add_module("mlp", nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    return model, (torch.randint(0, 10, (2, 3)),)


@case("io", truth(2, GATING), sources=("embed",))
def embedding_pair_product():
    """e = embed(ids); e[:, 0]·e[:, 1]: the embeddings of two tokens multiplied."""

    def forward(m, ids):
        e = m.embed(ids)
        return e[:, 0] * e[:, 1]

    return Fn(forward, embed=nn.Embedding(10, 4)), (torch.randint(0, 10, (2, 2)),)


@case("io", truth(1))
def unused_second_input():
    """forward(x, y) = lin(x): y is never read."""
    return Fn(lambda m, x, y: m.lin(x), lin=nn.Linear(4, 2)), (torch.randn(2, 4), torch.randn(3))


@case("io", truth(0, dependence="static"))
def constant_output():
    """forward(x) = 2·w: the input is ignored."""
    return Fn(lambda m, x: 2 * m.w, w=nn.Parameter(torch.randn(3))), (torch.randn(2, 4),)


@case("io", truth(2, GATING))
def dict_input_product():
    """forward({"a": a, "b": b}) = a·b: inputs in a dict."""
    inputs = {"a": torch.randn(2, 4), "b": torch.randn(2, 4)}
    return Fn(lambda m, batch: batch["a"] * batch["b"]), (inputs,)


@case("io", truth(2, GATING))
def keyword_input_product():
    """forward(x, *, scale) = x·scale with scale passed by keyword."""

    def forward(m, x, *, scale):
        return x * scale

    return Fn(forward), (torch.randn(2, 4),), {"scale": torch.randn(2, 4)}


@case("io", truth(2, GATING))
def tuple_output():
    """(lin(x), Σ x·y): a tuple whose second element is a product."""

    def forward(m, x, y):
        return m.lin(x), (x * y).sum(-1)

    return Fn(forward, lin=nn.Linear(4, 2)), (torch.randn(2, 4), torch.randn(2, 4))


@case("io", truth(2, GATING))
def dict_output():
    """{"relu": relu(x), "gate": x·y}: a dict of outputs."""
    return Fn(lambda m, x, y: {"relu": F.relu(x), "gate": x * y}), (
        torch.randn(2, 4),
        torch.randn(2, 4),
    )


@case("io", truth(2, GATING))
def python_float_output():
    """forward(x, y) = (x·y).sum().item(): the output is a Python float."""
    return Fn(lambda m, x, y: (x * y).sum().item()), (torch.randn(2, 4), torch.randn(2, 4))
