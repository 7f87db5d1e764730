"""The readable text summary of an analysis (what ``analyzer analyze`` prints).

A renderer: it formats what :class:`~analyzer.analysis.Analysis` holds and computes
nothing of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.frontend.dialect import op_name

if TYPE_CHECKING:
    from analyzer.analysis import Analysis


def render_summary(analysis: Analysis) -> str:
    """A multi-line summary: primitive set, op counts, sites, transposes, degree."""
    document = analysis.to_json()
    fact = analysis.output_fact
    lines = [
        f"model          {document['model']}  (frontend {document['frontend']}, "
        f"{document['graph']['nodes']} nodes, {document['graph']['edges']} edges)",
        f"circuit class  {', '.join(document['circuit_class']) or '(none)'}",
        f"degree         {document['degree']}"
        + (" (piecewise)" if fact.piecewise else "")
        + f"   piecewise affine: {'yes' if document['piecewise_affine'] else 'no'}",
        "ops by class   "
        + ", ".join(f"{cls} {n}" for cls, n in document["primitives"].items() if n),
    ]
    sites = analysis.sites
    lines.append(f"input-by-input sites ({len(sites)})")
    for site in sites:
        module = analysis.module_of(site.node) or "(root)"
        operands = ", ".join(site.operand_names)
        if site.part:
            operands += f"; {site.part}"
        lines.append(
            f"  {site.kind:<13} {op_name(site.node):<40} {module}  [{site.node.name}: {operands}]"
        )
    transposes = analysis.transposes
    feeding = sum(t.feeds_contraction for t in transposes)
    lines.append(f"dynamic transposes ({len(transposes)}, {feeding} feeding a contraction)")
    for t in transposes:
        module = analysis.module_of(t.node) or "(root)"
        mark = "feeds contraction" if t.feeds_contraction else "layout only"
        implied = " (implied)" if t.implied else ""
        lines.append(f"  {t.node.name:<30}{implied} {module}  {mark}")
    unknown = document["unknown_ops"]
    lines.append(f"unknown ops    {', '.join(unknown) if unknown else 'none'}")
    for warning in document["warnings"]:
        lines.append(f"warning        {warning}")
    return "\n".join(lines)
