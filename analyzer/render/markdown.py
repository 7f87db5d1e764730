"""Markdown summary of an analysis (``report.md``: for READMEs and papers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.analysis import Analysis


def _code(text: str) -> str:
    """Inline code that survives backticks and table pipes in user names."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def markdown_report(analysis: Analysis, why: str = "") -> str:
    """A Markdown page: verdict, op counts, sites, transposes, unknown ops, warnings."""
    document = analysis.to_json()
    lines = [f"# {_code(document['model'])}", ""]
    if why:
        lines += [why, ""]
    lines += [
        f"- **primitive set**: {', '.join(document['circuit_class']) or '(none)'}",
        f"- **degree**: {document['degree']}"
        + (" (piecewise)" if document["piecewise"] else "")
        + f"; piecewise affine: {'yes' if document['piecewise_affine'] else 'no'}",
        f"- **graph**: {document['graph']['nodes']} nodes, {document['graph']['edges']} edges "
        f"(frontend `{document['frontend']}`)",
        f"- **unknown ops**: {', '.join(map(_code, document['unknown_ops'])) or 'none'}",
        "",
        "| class | ops |",
        "| --- | ---: |",
    ]
    lines += [f"| {cls} | {n} |" for cls, n in document["primitives"].items() if n]
    lines += ["", f"## Input-by-input sites ({len(document['input_products'])})", ""]
    if document["input_products"]:
        lines += ["| node | op | kind | module | operands |", "| --- | --- | --- | --- | --- |"]
        for site in document["input_products"]:
            lines.append(
                f"| {_code(site['node'])} | {_code(site['op'])} | {site['kind']} | "
                f"{_code(site['module'] or '(root)')} | "
                f"{', '.join(_code(o) for o in site['operands'])} |"
            )
    else:
        lines.append("None: every product has a fixed operand.")
    lines += ["", f"## Dynamic transposes ({len(document['dynamic_transposes'])})", ""]
    for item in document["dynamic_transposes"]:
        feeds = "feeds a contraction" if item["feeds_contraction"] else "layout only"
        lines.append(f"- {_code(item['node'])} in {_code(item['module'] or '(root)')}: {feeds}")
    for warning in document["warnings"]:
        lines.append(f"\n> warning: {warning}")
    return "\n".join(lines) + "\n"
