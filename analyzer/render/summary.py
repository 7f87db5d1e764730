"""The readable text summary of an analysis (what ``analyzer analyze`` prints).

A renderer: it formats what :class:`~analyzer.analysis.Analysis` holds and computes
nothing of its own. Sites and transposes of a repeated block are folded into one line
(``layers.{0…31}.self_attn ×32  2 contraction sites each (scores, mix)``); the JSON
and the report list every instance.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from analyzer.render.folding import fold, repeated_containers
from analyzer.render.wording import (
    PIECEWISE,
    degree_reasons,
    describe_inputs,
    describe_parameters,
    implied_classes,
    parameters_by_block,
    title,
)

if TYPE_CHECKING:
    from analyzer.analysis import Analysis


def render_summary(analysis: Analysis) -> str:
    """A multi-line summary: primitive set, op counts, sites, transposes, degree."""
    document = analysis.to_json()
    metadata = document.get("metadata", {})
    model, overrides = title(document)
    graph = document["graph"]
    lines = [
        f"model          {model}" + (f"  ({overrides})" if overrides else ""),
        f"traced         frontend {document['frontend']}, mode {document['mode']}, "
        f"{graph['nodes']:,} nodes, {graph['edges']:,} edges",
    ]
    if describe_parameters(metadata):
        blocks = parameters_by_block(metadata)
        lines.append(
            f"parameters     {metadata['parameters']:,}" + (f"  ({blocks})" if blocks else "")
        )
    if metadata.get("inputs"):
        lines.append(f"inputs         {describe_inputs(metadata['inputs'])}")
    lines += [
        f"primitive set  {', '.join(document['circuit_class']) or '(none)'}",
        f"degree         {document['degree']}"
        + (" (piecewise*)" if document["piecewise"] else "")
        + f"   piecewise affine: {'yes' if document['piecewise_affine'] else 'no'}",
    ]
    if degree_reasons(document):
        lines.append(f"  because      {degree_reasons(document)}")
    lines += ["ops by class   " + _ops(analysis, document)]
    containers = repeated_containers(
        [s["module"] for s in document["input_products"]]
        + [t["module"] for t in document["dynamic_transposes"]]
    )
    sites = document["input_products"]
    site_groups = fold(sites, lambda s: s["module"], containers)
    transposes = document["dynamic_transposes"]
    transpose_groups = fold(transposes, lambda t: t["module"], containers)
    width = max([40] + [len(g.label) for g in site_groups + transpose_groups if g.folded])
    lines.append(f"input-by-input sites ({len(sites)})")
    for group in site_groups:
        if group.folded:
            lines.append(f"  {group.label:<{width}} {_site_group(group.items, group.repeats)}")
        else:
            lines += [f"  {_site_line(site)}" for site in group.items]
    feeding = sum(t["feeds_contraction"] for t in transposes)
    lines.append(f"dynamic transposes ({len(transposes)}, {feeding} feeding a contraction)")
    for group in transpose_groups:
        if group.folded:
            fed = sum(t["feeds_contraction"] for t in group.items)
            count, total = group.repeats, len(group.items)
            text = (
                f"{total // count} each, {fed // count} feeding a contraction"
                if total % count == 0 and fed % count == 0
                else f"{total} in all, {fed} feeding a contraction"
            )
            lines.append(f"  {group.label:<{width}} {text}")
            continue
        for t in group.items:
            mark = "feeds contraction" if t["feeds_contraction"] else "layout only"
            implied = " (implied)" if t["implied"] else ""
            lines.append(f"  {t['node'] + implied:<{width}} {t['module'] or '(root)'}  {mark}")
    unknown = document["unknown_ops"]
    lines.append(f"unknown ops    {', '.join(unknown) if unknown else 'none'}")
    for warning in document["warnings"]:
        lines.append(f"warning        {warning}")
    if document["piecewise"]:
        lines.append(f"* {PIECEWISE}")
    return "\n".join(lines)


def _ops(analysis: Analysis, document: dict[str, Any]) -> str:
    counts = [f"{cls} {n:,}" for cls, n in document["primitives"].items() if n]
    inside = [
        f"{cls} inside {', '.join(ops)}"
        for cls, ops in implied_classes(analysis).items()
        if not document["primitives"].get(cls)
    ]
    return ", ".join(counts) + ("; " + ", ".join(inside) if inside else "")


def _site_line(site: dict[str, Any]) -> str:
    operands = ", ".join(site["operands"])
    if site.get("part"):
        operands += f"; {site['part']}"
    module = site["module"] or "(root)"
    return f"{site['kind']:<13} {site['op']:<40} {module}  [{site['node']}: {operands}]"


def _site_group(items: list[dict[str, Any]], repeats: int) -> str:
    kinds = Counter(site["kind"] for site in items)
    parts = list(dict.fromkeys(site["part"] for site in items if site.get("part")))
    each = all(n % repeats == 0 for n in kinds.values())
    counts = {kind: n // repeats if each else n for kind, n in kinds.items()}
    text = ", ".join(f"{n} {k} site{'s' if n > 1 else ''}" for k, n in sorted(counts.items()))
    text += (" each" if each else " in all") + (f" ({', '.join(parts)})" if parts else "")
    return f"{text}  {', '.join(dict.fromkeys(site['op'] for site in items))}"
