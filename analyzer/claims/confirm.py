"""Confirming a counterexample: the static facts a claim failed on, checked by ``validate``.

The static analysis over-approximates: a site it publishes may never multiply (a layer
norm over one feature is a constant), a node it calls input-dependent may be constant,
a degree may be lower. A family claim that fails on a drawn model is run again on
:func:`confirmed_model`, the same model whose analysis keeps only what ``validate``
did not refute: sites it did not confirm are dropped, nodes whose tangent was always
zero become static (so their classes and dynamic transposes go), and the output's
degree is the measured one when lower. If the claim still fails there, the
counterexample is confirmed empirically; if it holds, the failure was an artefact of the
over-approximation and the model is rejected (the search goes on).

Facts ``validate`` cannot measure (a site it has no probe for) are kept as published.

>>> from analyzer.claims.model import Model
>>> import torch
>>> class Drawn:
...     module, args = torch.nn.LayerNorm(1), (torch.randn(1, 2, 1),)
>>> model = Model.of(Drawn(), empirical=True)
>>> [s.kind for s in model.analysis.sites]
['normalization']
>>> view, refuted = confirmed_model(model)
>>> view.analysis.sites
[]
>>> for fact in refuted:
...     print(fact)
normalization site at layer_norm not confirmed (its mixed derivative is 0)
degree inf measured 0
1 node constant (layer_norm)
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from analyzer.analysis import Analysis
from analyzer.claims.model import VALIDATION_PAIRS, VALIDATION_SAMPLES, Model
from analyzer.passes.classify import circuit_class
from analyzer.passes.facts import STATIC_FACT, format_degree


def validation_of(model: Model, device: str = "cpu", seed: int = 0) -> Any:
    """The model's validation report, made (on a copy) when the claim did not ask for one."""
    if model.validation is not None:
        return model.validation
    from analyzer.empirical.validate import validate

    model.validation = validate(
        copy.deepcopy(model.module), model.args, model="drawn:confirm", device=device,
        samples=VALIDATION_SAMPLES, pairs=VALIDATION_PAIRS, seed=seed,
    )  # fmt: skip
    return model.validation


def confirmed_analysis(analysis: Analysis, report: Any) -> tuple[Analysis, list[str]]:
    """``analysis`` keeping only what ``report`` (a ValidationReport of the same model)
    did not refute, and the refuted facts in words."""
    from analyzer.empirical.report import order

    refuted: list[str] = []
    checks = {(c.node, c.part): c for c in report.sites}
    sites = []
    for site in analysis.sites:
        check = checks.get((site.node.name, site.part))
        if check is None or check.confirmed:
            sites.append(site)
            continue
        why = "its operands do not vary" if not check.operands_vary else (
            f"its mixed derivative is {check.mixed_derivative:.3g}")  # fmt: skip
        refuted.append(f"{site.kind} site at {site.node.name} not confirmed ({why})")
    constant = set(report.unconfirmed)
    facts = dict(analysis.facts)
    output = analysis.traced.output_node
    measured = order(report.degree_empirical)
    static = facts[output].degree
    if measured < static and report.degree_empirical != "undefined":
        facts[output] = dataclasses.replace(facts[output], degree=measured)
        refuted.append(f"degree {format_degree(static)} measured {report.degree_empirical}")
    dropped = [node for node in facts if node.name in constant and node is not output]
    for node in dropped:
        facts[node] = STATIC_FACT
    if dropped:
        names = ", ".join(n.name for n in dropped[:3]) + (" …" if len(dropped) > 3 else "")
        refuted.append(f"{len(dropped)} node{'s' * (len(dropped) > 1)} constant ({names})")
    transposes = [t for t in analysis.transposes if t.node.name not in constant]
    view = dataclasses.replace(
        analysis, facts=facts, sites=sites, transposes=transposes,
        circuit_class=circuit_class(analysis.classes, facts, transposes),
    )  # fmt: skip
    return view, refuted


def confirmed_model(model: Model, device: str = "cpu", seed: int = 0) -> tuple[Model, list[str]]:
    """``model`` with its analysis restricted to what ``validate`` confirms (see the
    module doc), and the refuted facts in words."""
    view, refuted = confirmed_analysis(model.analysis, validation_of(model, device, seed))
    return dataclasses.replace(model, analysis=view), refuted
