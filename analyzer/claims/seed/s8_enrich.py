"""S8 — multiplicative interactions strictly enrich the function class.

No ReLU net equals ``xᵀ·A·z`` (A ≠ 0) on any open set: a ReLU net's Hessian is 0 almost
everywhere, the bilinear form's is A. Statically, bilinear blocks raise the degree with a
contraction site while ReLU MLPs stay at degree 1 with none; empirically, the bilinear
layer has non-zero cross-entry terms and the ReLU MLP exactly none.
"""

from __future__ import annotations

import itertools

import torch

from analyzer.claims.core import Check, claim
from analyzer.claims.model import Model
from analyzer.claims.seed.numeric import FLOAT, IDENTITY, relative_error
from analyzer.empirical.validate import validate
from analyzer.frontend.zoo import build_zoo_model
from analyzer.testing.strategies import architectures

ACTIVATION = torch.relu  # the ReLU net's


@claim(
    "Multiplicative interactions strictly enrich the function class",
    id="S8",
    identity=True,
    tolerance=IDENTITY,
    precise="No ReLU net equals xᵀ·A·z (A ≠ 0) on any open set: its Hessian is 0 almost "
    "everywhere, the bilinear form's is A.",
    sources=("Jayakumar et al., ICLR 2020",),
)
def s8_enrich(check: Check) -> None:
    generator = check.generator()
    d, points = 6, 50
    widths = [2 * d, 32, 32, 1]
    weights = [torch.randn(o, i, generator=generator, dtype=FLOAT) / i**0.5
               for i, o in itertools.pairwise(widths)]  # fmt: skip
    form = torch.randn(d, d, generator=generator, dtype=FLOAT)

    def relu_net(v: torch.Tensor) -> torch.Tensor:
        for index, w in enumerate(weights):
            v = v @ w.T
            v = ACTIVATION(v) if index < len(weights) - 1 else v
        return v.sum()

    def bilinear(v: torch.Tensor) -> torch.Tensor:
        return v[:d] @ form @ v[d:]

    expected = torch.zeros(2 * d, 2 * d, dtype=FLOAT)
    expected[:d, d:], expected[d:, :d] = form, form.T
    relu_largest = bilinear_error = 0.0
    for _ in range(points):
        v = torch.randn(2 * d, generator=generator, dtype=FLOAT)
        relu_largest = max(
            relu_largest, torch.autograd.functional.hessian(relu_net, v).abs().max().item()
        )
        bilinear_error = max(
            bilinear_error, relative_error(torch.autograd.functional.hessian(bilinear, v), expected)
        )
    check.measure(f"ReLU net: largest autograd Hessian entry at {points} random points",
                  relu_largest, tolerance=0.0)  # fmt: skip
    check.measure("bilinear form: Hessian vs [[0, A], [Aᵀ, 0]]", bilinear_error)


@s8_enrich.part(
    "Statically, each bilinear block has a contraction site and doubles the degree; ReLU nets "
    "have degree 1 and no site",
    id="S8.static",
    family=architectures(blocks=["linear", "relu", "bilinear"]),
)
def s8_static(model: Model) -> None:
    layers = model.drawn.count("bilinear")
    analysis = model.analysis
    contractions = sum(site.kind == "contraction" for site in analysis.sites)
    assert contractions == layers, f"{contractions} contraction sites for {layers} bilinear blocks"
    assert analysis.degree == str(2**layers), f"degree {analysis.degree}, {layers} bilinear blocks"


@s8_enrich.part(
    "Empirically, the zoo's bilinear layer has non-zero cross-entry terms and its ReLU MLP "
    "exactly none",
    id="S8.empirical",
    identity=True,
)
def s8_empirical(check: Check) -> None:
    for name, nonzero in (("bilinear", True), ("mlp", False)):
        module, args = build_zoo_model(name)
        report = validate(module, args, device=check.device, samples=4, pairs=64, seed=check.seed)
        document = report.to_json()
        cross = document["cross_entry"]
        check.note(f"zoo:{name}", {"degree": document["degree"], "cross_entry": cross})
        check.measure(f"zoo:{name}: non-zero cross-entry pairs of {cross['pairs']}",
                      cross["nonzero"], tolerance=None)  # fmt: skip
        assert (cross["nonzero"] > 0) == nonzero, f"zoo:{name}: {cross['nonzero']} non-zero pairs"
