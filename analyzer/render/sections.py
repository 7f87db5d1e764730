"""The tables of a report page: sites (with witness paths, folded by repeated
block), dynamic transposes, modules, ops by class, unknown ops and warnings, and how to
reproduce the run; and the chips and identifiers they are written with. Every string
from user code is escaped with :func:`html.escape`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

from analyzer.render.dot import CLASS_COLOURS, Drawing
from analyzer.render.folding import Group, fold
from analyzer.render.wording import (
    describe_inputs,
    fold_path,
    implied_classes,
    short_source,
)

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

KIND_COLOURS = {"contraction": CLASS_COLOURS["matmul"], "gating": CLASS_COLOURS["gating"],
                "normalization": CLASS_COLOURS["normalization"]}  # fmt: skip


def _chip(text: str, colour: str) -> str:
    return f'<span class="chip" style="background:{colour}">{escape(text)}</span>'


def class_chip(cls: str) -> str:
    return _chip(cls, CLASS_COLOURS.get(cls, "#ffffff"))


def _ident(text: str) -> str:
    """An identifier as code that may wrap only after ``.``, ``_`` or ``/``, never
    inside a word."""
    escaped = escape(text)
    for mark in (".", "_", "/"):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return f"<code>{escaped}</code>"


def _snippet(code: str) -> str:
    """Source code that wraps at spaces, or after ``.``, ``_``, ``(`` and ``,`` inside a
    long token, never at an arbitrary letter."""
    escaped = escape(code)
    for mark in (".", "_", "(", ","):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return f'<code class="snippet">{escaped}</code>'


def _source_cell(source: str) -> str:
    place, code = short_source(source)
    if not place:
        return "<td></td>"
    text = _ident(place) + (f"<br>{_snippet(code)}" if code else "")
    return f'<td title="{escape(source)}">{text}</td>'


def _paths_html(paths: list[list[str]], operands: list[str]) -> str:
    out = []
    for operand, path in zip(operands, paths, strict=False):
        shown = " → ".join(
            f'<span class="more">{escape(p)}</span>' if p.startswith("… ") else escape(p)
            for p in fold_path(path)
        )
        out.append(f'<span class="path"><b>{escape(operand)}</b>: {shown}</span>')
    return "".join(out)


def _site_table(entries: list[tuple[int, dict[str, Any]]], compact: bool = False) -> str:
    """A table of sites in order. The sites of one fused node share their node, op,
    module and source cells (rowspan), so attention's ``scores`` and ``mix`` read as two
    parts of one op, not as a duplicated row. ``compact`` (the instances of one folded
    block, whose op and source line the summary names) leaves those two columns out."""
    widths = ["14%", "12%", "14%", "18%"] if compact else ["13%", "11%", "12%", "12%", "15%"]
    heads = ["node", "kind", "module"] if compact else ["node", "kind", "op", "module", "source"]
    head = (
        "<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths[: len(heads)])
        + "<col></colgroup><tr>" + "".join(f"<th>{h}</th>" for h in heads)
        + "<th>operands: witness paths from an input</th></tr>"
    )  # fmt: skip
    rows, i = [], 0
    while i < len(entries):
        j = i + 1
        while j < len(entries) and entries[j][1]["node"] == entries[i][1]["node"]:
            j += 1
        span = f' rowspan="{j - i}"' if j - i > 1 else ""
        for k in range(i, j):
            index, site = entries[k]
            kind = site["kind"] + (f" · {site['part']}" if site.get("part") else "")
            cells = [f"<td>{_chip(kind, KIND_COLOURS.get(site['kind'], '#fff'))}</td>"]
            if k == i:
                cells.insert(0, f'<td class="first"{span}>{_ident(site["node"])}</td>')
                if not compact:
                    cells.append(f"<td{span}>{_ident(site['op'])}</td>")
                cells.append(f"<td{span}>{_ident(site['module'] or '(root)')}</td>")
                if not compact:
                    cells.append(
                        _source_cell(site.get("source", "")).replace("<td", f"<td{span}", 1)
                    )
            cells.append(f"<td>{_paths_html(site['paths'], site['operands'])}</td>")
            rows.append(f'<tr class="site" data-site="{index}">{"".join(cells)}</tr>')
        i = j
    return f"<table>{head}{''.join(rows)}</table>"


def _folded(
    groups: list[Group[Any]],
    table: Callable[[list[Any], bool], str],
    describe: Callable[[Group[Any]], str],
    uniform: Callable[[list[Any]], bool] = lambda items: False,
) -> str:
    """Plain tables for single modules, a ``<details>`` per repeated block (its table
    compact when ``uniform`` says the summary already names what every row repeats)."""
    out: list[str] = []
    plain: list[Any] = []

    def flush() -> None:
        if plain:
            out.append(table(plain, False))
            plain.clear()

    for group in groups:
        if not group.folded:
            plain.extend(group.items)
            continue
        flush()
        out.append(
            f'<details class="fold"><summary><b>{escape(group.label)}</b>: '
            f"{describe(group)} <span class='count'>(show the {len(group.items)} rows)"
            f"</span></summary>{table(group.items, uniform(group.items))}</details>"
        )
    flush()
    return "".join(out)


def _sites_section(
    document: dict[str, Any], containers: dict[str, list[int]], interactive: bool = True
) -> str:
    sites = document["input_products"]
    out = [f"<h2>Input-by-input sites ({len(sites)})</h2>"]
    if not sites:
        return out[0] + "<p>None: every product in this model has a fixed operand.</p>"
    click = (
        "; click a row to light up its node and witness paths in the graph" if interactive else ""
    )
    out.append(
        f'<p class="meta">Products whose operands both depend on the input{click}. Long '
        "witness paths are cut in the middle; the JSON has them whole.</p>"
    )

    def uniform(items: list[tuple[int, dict[str, Any]]]) -> bool:
        return len({(site["op"], site.get("source", "")) for _, site in items}) == 1

    def describe(group: Group[Any]) -> str:
        kinds = Counter(site["kind"] for _, site in group.items)
        parts = list(dict.fromkeys(site["part"] for _, site in group.items if site.get("part")))
        counts = {k: n // group.repeats if n % group.repeats == 0 else n for k, n in kinds.items()}
        text = ", ".join(f"{n} {k} site{'s' if n > 1 else ''}" for k, n in sorted(counts.items()))
        each = " each" if all(n % group.repeats == 0 for n in kinds.values()) else " in all"
        text = escape(text + each + (f" ({', '.join(parts)})" if parts else ""))
        if uniform(group.items):
            site = group.items[0][1]
            place, _ = short_source(site.get("source", ""))
            where = f" at <span title='{escape(site.get('source', ''))}'>{_ident(place)}</span>"
            text += f" · {_ident(site['op'])}" + (where if place else "")
        return text

    groups = fold(list(enumerate(sites)), lambda item: item[1]["module"], containers)
    out.append(_folded(groups, _site_table, describe, uniform))
    return "".join(out)


def _transposes_section(document: dict[str, Any], containers: dict[str, list[int]]) -> str:
    transposes = document["dynamic_transposes"]
    feeding = sum(t["feeds_contraction"] for t in transposes)
    out = [f"<h2>Dynamic transposes ({len(transposes)}, {feeding} feeding a contraction)</h2>"]
    if not transposes:
        return out[0] + "<p>None: no input-dependent value is transposed.</p>"

    def table(items: list[dict[str, Any]], compact: bool) -> str:
        del compact  # four short columns: nothing to leave out
        rows = "".join(
            f"<tr><td>{_ident(t['node'])}"
            + (" <span class='meta'>(implied by the fused op)</span>" if t["implied"] else "")
            + f"</td><td>{_ident(t['op'])}</td><td>{_ident(t['module'] or '(root)')}</td>"
            f"<td>{'yes' if t['feeds_contraction'] else 'no (layout only)'}</td></tr>"
            for t in items
        )
        return (
            '<table><colgroup><col style="width:25%"><col style="width:20%">'
            '<col style="width:25%"><col></colgroup><tr><th>node</th><th>op</th>'
            f"<th>module</th><th>feeds a contraction</th></tr>{rows}</table>"
        )

    def describe(group: Group[Any]) -> str:
        fed = sum(t["feeds_contraction"] for t in group.items)
        total, count = len(group.items), group.repeats
        if total % count == 0 and fed % count == 0:
            return escape(f"{total // count} transposes each, {fed // count} feeding a contraction")
        return escape(f"{total} transposes, {fed} feeding a contraction")

    groups = fold(transposes, lambda t: t["module"], containers)
    out.append(_folded(groups, table, describe))
    return "".join(out)


def _modules_section(drawing: Drawing | None) -> str:
    """One row per drawn module (a repeated block once, its counts per instance)."""
    if drawing is None or not drawing.modules:
        return ""
    rows = []
    for row in drawing.modules:
        each = " each" if row["each"] else ""
        held = "" if row["parameters"] is None else f"{row['parameters']:,}{each}"
        sites = f"{row['sites']}{each}" if row["sites"] else ""
        rows.append(
            f"<tr><td>{_ident(row['module'])}</td><td class='num'>{held}</td>"
            f"<td>{escape(row['ops'])}{each if row['ops'] != 'structural' else ''}</td>"
            f"<td>{escape(sites)}</td></tr>"
        )
    return (
        "<h2>Modules</h2><table><colgroup><col style='width:32%'><col style='width:13%'>"
        "<col style='width:37%'><col></colgroup><tr><th>module</th><th class='num'>parameters"
        "</th><th>ops on the input's path, by class</th><th>sites</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _ops_section(analysis: Analysis, document: dict[str, Any]) -> str:
    implied = implied_classes(analysis)
    items = [
        f"{class_chip(cls)} {count:,}" for cls, count in document["primitives"].items() if count
    ]
    items += [
        f"{class_chip(cls)} inside {', '.join(_ident(op) for op in ops)}"
        for cls, ops in implied.items()
        if not document["primitives"].get(cls)
    ]
    note = (
        '<p class="meta">Fused ops count once, under their own class; the classes they '
        "contain are named here and count in the primitive set.</p>"
        if any(not document["primitives"].get(cls) for cls in implied)
        else ""
    )
    return (
        "<h2>Ops by primitive class</h2>"
        f'<p class="inline-list">{" &nbsp;·&nbsp; ".join(items)}</p>{note}'
    )


def _unknown_and_warnings(document: dict[str, Any]) -> str:
    unknown = document["unknown_ops"]
    out = [
        "<h2>Unknown ops</h2><p>"
        + (", ".join(_ident(u) for u in unknown) if unknown else "none")
        + (" — analysed as worst case (continuous, degree inf)." if unknown else "")
        + "</p>"
    ]
    if document["warnings"]:
        out.append("<h2>Warnings</h2><ul>")
        out += [f'<li class="warn">{escape(w)}</li>' for w in document["warnings"]]
        out.append("</ul>")
    return "".join(out)


def _reproduce(document: dict[str, Any]) -> str:
    metadata = document.get("metadata", {})
    rows = []
    if metadata.get("command"):
        rows.append(("command", f"<code>{escape(metadata['command'])}</code>"))
    if metadata.get("spec"):
        rows.append(("model spec", f"<code>{escape(metadata['spec'])}</code>"))
    for key, value in (metadata.get("config") or {}).items():
        rows.append((f"config {escape(key)}", f"<code>{escape(json.dumps(value))}</code>"))
    if metadata.get("inputs"):
        rows.append(("inputs", escape(describe_inputs(metadata["inputs"]))))
    for key in ("seed", "device", "frontend_requested"):
        if key in metadata:
            rows.append((key.replace("_", " "), escape(str(metadata[key]))))
    rows.append(("mode", escape(document["mode"])))
    versions = metadata.get("versions") or {}
    if versions:
        rows.append(("versions", escape(", ".join(f"{k} {v}" for k, v in versions.items()))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f"<h2>Reproduce</h2><table><colgroup><col style='width:16%'><col></colgroup>{body}</table>"
    )
