"""Transposes that feed the contractions validate measured, against the published list.

``analyze`` publishes every dynamic transpose with whether it feeds a contraction (a
weight made from the input and used the other way round, DESIGN §2). Which transposes
feed one follows from which nodes are contractions, so a contraction the static pass
missed or published under another kind (an escaped Python number once replaced a fused
op's sites) loses its transposes too. Here the contractions are the ones validate
*measured* — published contraction sites it confirmed and unlisted contractions it
found — and the layout of each is read again (the static pass's own reading of axes,
:mod:`analyzer.passes.transposes`): an operand that varies and is contracted the other
way round needs a published feeding transpose, explicit (the ``transpose`` on its chain)
or implied (the contraction itself; attention's ``k`` always). The check is of the list
against the measured contractions, not of the layout reading itself.

>>> from analyzer.frontend.zoo import build_zoo_model
>>> from analyzer.empirical.validate import validate
>>> validate(*build_zoo_model("transformer_block"), samples=2).missing_transposes
[]
"""

from __future__ import annotations

from typing import Any

import torch.fx as fx

from analyzer.analysis import Analysis
from analyzer.empirical.execute import Program
from analyzer.frontend.dialect import op_name
from analyzer.passes.transposes import (
    contracted_axes,
    role_changing_transposes,
    used_transposed,
)

_ATTENTION = {
    "aten.scaled_dot_product_attention", "aten._scaled_dot_product_attention_math",
    "aten._scaled_dot_product_flash_attention_for_cpu",
}  # fmt: skip


def missing_transposes(
    analysis: Analysis, program: Program, contractions: list[tuple[fx.Node, str | None]]
) -> list[dict[str, Any]]:
    """One entry per measured contraction ``(node, part)`` whose transposed operand has
    no feeding transpose in ``analysis.transposes``."""
    feeding = {t.node for t in analysis.transposes if t.feeds_contraction}
    found = []
    for node, part in dict.fromkeys(contractions):
        if op_name(node) in _ATTENTION:
            if part == "scores" and node not in feeding:
                found.append(_entry(analysis, node, node, "the key is contracted transposed"))
            continue
        for operand, axis, left in contracted_axes(node):
            if operand not in program.varying or not used_transposed(operand, axis, left):
                continue
            explicit = [
                t for t in role_changing_transposes(operand, axis)
                if isinstance(t.args[0], fx.Node) and t.args[0] in program.varying
            ]  # fmt: skip
            required = explicit or [node]
            if not any(t in feeding for t in required):
                why = f"{operand.name} is contracted the other way round from its own layout"
                found.append(_entry(analysis, required[0], node, why))
    return found


def _entry(analysis: Analysis, transpose: fx.Node, node: fx.Node, why: str) -> dict[str, Any]:
    return {
        "node": transpose.name,
        "contraction": node.name,
        "implied": transpose is node,
        "module": analysis.module_of(node),
        "why": why,
    }
