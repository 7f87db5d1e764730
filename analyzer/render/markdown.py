"""Markdown summary of an analysis (``report.md``: for READMEs and papers).

Sites and transposes of a repeated block are one row each (``layers.{0…31}.self_attn
×32``) with a ``<details>`` list of the instances, which GitHub renders folded.
"""

from __future__ import annotations

import html
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


def _code(text: str) -> str:
    """Inline code that survives backticks and table pipes in user names."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _escaped(text: str) -> str:
    """Plain text from a model (module names, warnings) as Markdown text, not HTML:
    renderers pass raw HTML through, so ``<img onerror=…>`` in a module name would run.

    >>> _escaped('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror="alert(1)"&gt;'
    """
    return html.escape(text, quote=False)


def markdown_report(analysis: Analysis, why: str = "") -> str:
    """A Markdown page: verdict, op counts, sites, transposes, unknown ops, warnings."""
    document = analysis.to_json()
    metadata = document.get("metadata", {})
    model, overrides = title(document)
    lines = [f"# {_code(model)}" + (f" ({overrides})" if overrides else ""), ""]
    if why:
        lines += [why, ""]
    graph = document["graph"]
    facts = [f"{graph['nodes']:,} nodes, {graph['edges']:,} edges",
             f"frontend `{document['frontend']}`", f"mode `{document['mode']}`"]  # fmt: skip
    if describe_parameters(metadata):
        facts.append(describe_parameters(metadata))
    lines += [
        f"- **primitive set**: {', '.join(document['circuit_class']) or '(none)'}",
        f"- **degree**: {document['degree']}"
        + (" (piecewise)" if document["piecewise"] else "")
        + f"; piecewise affine: {'yes' if document['piecewise_affine'] else 'no'}"
        + (f" — {_escaped(degree_reasons(document))}" if degree_reasons(document) else ""),
        f"- **graph**: {', '.join(facts)}",
    ]
    if parameters_by_block(metadata):
        lines.append(f"- **parameters by module**: {_escaped(parameters_by_block(metadata))}")
    if metadata.get("inputs"):
        lines.append(f"- **inputs**: {_code(describe_inputs(metadata['inputs']))}")
    lines.append(f"- **unknown ops**: {', '.join(map(_code, document['unknown_ops'])) or 'none'}")
    if document["piecewise"]:
        lines += ["", f"*{PIECEWISE}.*"]
    lines += ["", "| class | ops |", "| --- | ---: |"]
    lines += [f"| {cls} | {n:,} |" for cls, n in document["primitives"].items() if n]
    for cls, ops in implied_classes(analysis).items():
        if not document["primitives"].get(cls):
            lines.append(f"| {cls} | inside {', '.join(map(_code, ops))} |")
    containers = repeated_containers(
        [s["module"] for s in document["input_products"]]
        + [t["module"] for t in document["dynamic_transposes"]]
    )
    lines += _sites(document["input_products"], containers)
    lines += _transposes(document["dynamic_transposes"], containers)
    for warning in document["warnings"]:
        lines.append(f"\n> warning: {_escaped(warning)}")
    lines += _reproduce(document, metadata)
    return "\n".join(lines) + "\n"


def _sites(sites: list[dict[str, Any]], containers: dict[str, list[int]]) -> list[str]:
    lines = ["", f"## Input-by-input sites ({len(sites)})", ""]
    if not sites:
        return [*lines, "None: every product has a fixed operand."]
    lines += ["| node | op | kind | module | operands |", "| --- | --- | --- | --- | --- |"]
    folded: list[tuple[str, list[dict[str, Any]]]] = []
    for group in fold(sites, lambda s: s["module"], containers):
        if group.folded:
            kinds = Counter(site["kind"] for site in group.items)
            parts = list(dict.fromkeys(s["part"] for s in group.items if s.get("part")))
            each = all(n % group.repeats == 0 for n in kinds.values())
            kind_text = ", ".join(
                f"{n // group.repeats if each else n} {k}" for k, n in sorted(kinds.items())
            ) + (" each" if each else "") + (f" ({', '.join(parts)})" if parts else "")  # fmt: skip
            ops = ", ".join(_code(op) for op in dict.fromkeys(s["op"] for s in group.items))
            nodes = len({site["node"] for site in group.items})
            lines.append(f"| {nodes} nodes | {ops} | {kind_text} | "
                         f"{_code(group.label)} | see below |")  # fmt: skip
            folded.append((group.label, group.items))
            continue
        for site in group.items:
            kind = site["kind"] + (f" ({site['part']})" if site.get("part") else "")
            lines.append(
                f"| {_code(site['node'])} | {_code(site['op'])} | {kind} | "
                f"{_code(site['module'] or '(root)')} | "
                f"{', '.join(_code(o) for o in site['operands'])} |"
            )
    for label, items in folded:
        summary = f"{html.escape(label)}: the {len(items)} sites"
        lines += ["", f"<details><summary>{summary}</summary>", ""]
        lines += [
            f"- {_code(s['node'])} {s['kind']}"
            + (f" ({s['part']})" if s.get("part") else "")
            + f" in {_code(s['module'])}: {', '.join(_code(o) for o in s['operands'])}"
            for s in items
        ]
        lines += ["", "</details>"]
    return lines


def _transposes(transposes: list[dict[str, Any]], containers: dict[str, list[int]]) -> list[str]:
    lines = ["", f"## Dynamic transposes ({len(transposes)})", ""]
    if not transposes:
        return [*lines, "None: no input-dependent value is transposed."]
    for group in fold(transposes, lambda t: t["module"], containers):
        if group.folded:
            fed = sum(t["feeds_contraction"] for t in group.items)
            lines.append(
                f"- {_code(group.label)}: {len(group.items)} transposes, {fed} feeding a "
                "contraction"
            )
            continue
        for item in group.items:
            feeds = "feeds a contraction" if item["feeds_contraction"] else "layout only"
            lines.append(f"- {_code(item['node'])} in {_code(item['module'] or '(root)')}: {feeds}")
    return lines


def _reproduce(document: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    lines = ["", "## Reproduce", ""]
    if metadata.get("command"):
        lines += ["```", metadata["command"], "```", ""]
    lines.append(f"- traced by frontend `{document['frontend']}` in mode `{document['mode']}`")
    for key in ("seed", "device"):
        if key in metadata:
            lines.append(f"- {key}: `{metadata[key]}`")
    versions = metadata.get("versions") or {}
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return lines
