"""The census page: one self-contained ``index.html`` over an ``analyzer.census/1`` document.

The summary comes first (how many types analysed, how many architectures use each
primitive, which have no input-by-input product), then one row per architecture with
its primitive-set chips, sortable by any column and filterable by name, class, site
kind and category (a few lines of inline script, no network), each row linking to the
model's report; then the failures grouped by category with their first line of error.
The look (CSS, chips) is that of the single-model report.

>>> page = census_page({"schema": "analyzer.census/1", "transformers": "5", "seconds": 1,
...     "options": {}, "categories": {"clean": "ok"}, "models": {}, "summary": {
...     "types": 0, "analysed": 0, "clean": 0, "eligible": 0, "clean_share_of_eligible": 0,
...     "by_category": {}, "primitives": {}, "site_kinds": {}, "no_input_products": [],
...     "unknown_ops": {}, "warnings": {}}})
>>> page.startswith("<!DOCTYPE html>") and "</html>" in page
True
"""

from __future__ import annotations

from html import escape
from typing import Any

from analyzer.passes.facts import SITE_KINDS
from analyzer.passes.registry import CIRCUIT_CLASSES
from analyzer.render.html import STYLE, class_chip

CENSUS_STYLE = """
.analyzer-report table#models, .analyzer-report table.summary { table-layout: auto; width: auto; }
.analyzer-report table.failures col.type-column { width: 16rem; }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; margin: .8rem 0; align-items: center; }
.filters label { font-size: .85rem; color: #444; }
th.sortable { cursor: pointer; user-select: none; white-space: nowrap; }
th.sortable::after { content: " ⇅"; color: #aaa; }
td.num { text-align: right; }
.bar { display: inline-block; height: .7rem; background: #8da0cb; vertical-align: middle; }
.fail td:first-child { border-left: 4px solid #d62728; }
.summary td { vertical-align: middle; }
details { margin: .4rem 0; } summary { cursor: pointer; font-weight: 600; }
#models td.chips { min-width: 20rem; }
.wide { overflow-x: auto; max-width: 100%; }
#models td { white-space: nowrap; } #models td.chips { white-space: normal; }
#models .chip { font-size: .78rem; padding: .05rem .45rem; }
.fail td:first-child { white-space: nowrap; }
.verdict-dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%;
  margin-right: .3rem; vertical-align: middle; }
"""

SCRIPT = """
const rows = () => Array.from(document.querySelectorAll('#models tbody tr'));
function applyFilters() {
  const text = document.getElementById('f-name').value.toLowerCase();
  const cls = document.getElementById('f-class').value;
  const site = document.getElementById('f-site').value;
  const cat = document.getElementById('f-category').value;
  const degree = document.getElementById('f-degree').value;
  const verdict = document.getElementById('f-verdict').value;
  let shown = 0;
  for (const row of rows()) {
    const ok = (!text || row.dataset.name.includes(text))
      && (!cls || (cls.startsWith('!') ? !row.dataset.classes.split(' ').includes(cls.slice(1))
                                        : row.dataset.classes.split(' ').includes(cls)))
      && (!site || (site === 'none' ? row.dataset.sites === '' :
                    row.dataset.sites.split(' ').includes(site)))
      && (!cat || row.dataset.category === cat)
      && (!degree || row.dataset.degree === degree)
      && (!verdict || row.dataset.verdict === verdict);
    row.style.display = ok ? '' : 'none';
    shown += ok;
  }
  document.getElementById('shown').textContent = shown;
}
function sortBy(index, numeric) {
  const body = document.querySelector('#models tbody');
  const header = document.querySelectorAll('#models th')[index];
  const dir = header.dataset.dir === 'asc' ? -1 : 1;
  header.dataset.dir = dir === 1 ? 'asc' : 'desc';
  const key = r => r.children[index].dataset.sort ?? r.children[index].textContent;
  const sorted = rows().sort((a, b) => {
    const x = key(a), y = key(b);
    return dir * (numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y));
  });
  sorted.forEach(r => body.appendChild(r));
}
document.querySelectorAll('.filters select, .filters input')
  .forEach(e => e.addEventListener('input', applyFilters));
"""

_COLUMNS = (  # header, numeric sort: the order of the row's cells (see _cells)
    ("type", False), ("validation", False), ("degree", True), ("crossover (tokens)", True),
    ("parameters", True), ("shrink", False), ("primitive set", False),
    ("contraction", True), ("gating", True), ("normalization", True),
    ("sites per layer", True), ("layers", True), ("model class", False),
    ("validation s", True), ("device", False), ("nodes", True), ("seconds", True),
    ("category", False),
)  # fmt: skip

VERDICT_COLOURS = {
    "agree": "#2ca02c", "over-approximates": "#1f77b4", "agree, graph unchecked": "#98df8a",
    "over-approximates, graph unchecked": "#aec7e8", "disagrees": "#d62728",
    "not checked": "#999", "timeout": "#ff7f0e", "crash": "#8c564b",
}  # fmt: skip


def census_page(document: dict[str, Any]) -> str:
    """The whole page of a census document."""
    summary = document["summary"]
    # the libraries the census covers: transformers types, diffusers classes, or both
    names = [n for n in ("transformers", "diffusers") if n in document]
    if "diffusers" in document and not any(not t.startswith("diffusers:") for t in
                                           document.get("models", {})):  # fmt: skip
        names = ["diffusers"]
    meta = (
        f"analyzer {escape(str(document.get('analyzer', '?')))} · "
        + "".join(f"{n} {escape(str(document[n]))} · " for n in names)
        + f"torch {escape(str(document.get('torch', '?')))} · "
        f"options {escape(_options(document['options']))} · "
        f"{document['seconds']:.0f} s wall clock"
    )
    what = " and ".join(names)
    heading = "architectures" if names == ["transformers"] else "model classes"
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>analyzer: the atlas of {what}</title><style>{STYLE}{CENSUS_STYLE}</style>"
        '</head><body class="analyzer-page"><div class="analyzer-report">'
        f"<h1>The atlas of {what} {heading} ({summary['types']} types), analysed"
        f"{' and validated' if summary.get('validation') else ''}</h1>"
        f'<div class="meta">{meta}</div>',
        _summary(summary),
        _validation_summary(summary, document.get("verdicts", {}), document["models"]),
        _table(document),
        _failures(document),
        _unknown_ops(summary),
        f"</div><script>{SCRIPT}</script></body></html>\n",
    ]
    return "\n".join(parts)


def _options(options: dict[str, Any]) -> str:
    """``shrink=widths, validate(samples=4, device=cpu)``: nested options in brackets."""

    def value(item: Any) -> str:
        if isinstance(item, dict):
            return "(" + ", ".join(f"{k}={value(v)}" for k, v in item.items()) + ")"
        return str(item)

    return (
        ", ".join(
            f"{k}{value(v)}" if isinstance(v, dict) else f"{k}={v}" for k, v in options.items()
        )
        or "defaults"
    )


def _summary(summary: dict[str, Any]) -> str:
    analysed, total = summary["analysed"], summary["types"]
    share = summary["clean_share_of_eligible"]
    out = [
        '<div class="verdict">'
        f'<div><div class="meta">types</div><span class="big">{total}</span></div>'
        f'<div><div class="meta">analysed</div><span class="big">{analysed}</span></div>'
        f'<div><div class="meta">analysed with every op known</div><span class="big">'
        f"{summary['clean']}</span></div>"
        f'<div><div class="meta">of the {summary["eligible"]} whose default config builds '
        f'and whose packages are installed (target 95%)</div><span class="big">'
        f"{100 * share:.1f}%</span></div></div>"
    ]
    out.append(
        "<h2>How many architectures use each primitive</h2>"
        '<table class="summary"><tr><th>primitive</th><th>architectures</th><th></th></tr>'
    )
    for cls, count in sorted(summary["primitives"].items(), key=lambda kv: -kv[1]):
        width = 240 * count / analysed if analysed else 0
        out.append(
            f'<tr><td>{class_chip(cls)}</td><td class="num">{count}</td>'
            f'<td><span class="bar" style="width:{width:.0f}px"></span> '
            f"{100 * count / analysed if analysed else 0:.0f}%</td></tr>"
        )
    for kind, count in summary["site_kinds"].items():
        out.append(
            f'<tr><td>{escape(kind)} sites</td><td class="num">{count}</td>'
            f'<td><span class="bar" style="width:{240 * count / analysed if analysed else 0:.0f}'
            f'px"></span> {100 * count / analysed if analysed else 0:.0f}%</td></tr>'
        )
    out.append("</table>")
    none = summary["no_input_products"]
    out.append(
        f"<h2>No input-by-input product at all ({len(none)})</h2>"
        '<p class="meta">Among the architectures whose every op is known (an unknown op '
        "may hide a product).</p><p>"
        + (", ".join(f"<code>{escape(t)}</code>" for t in none) or "none")
        + "</p>"
    )
    by_category = summary["by_category"]
    out.append(
        "<h2>Results by category</h2><p>"
        + " · ".join(f"{escape(c)}: {n}" for c, n in by_category.items())
        + "</p>"
    )
    if summary.get("warnings"):
        out.append(
            '<p class="meta">'
            + " · ".join(f"{escape(k)}: {v}" for k, v in summary["warnings"].items() if v)
            + "</p>"
        )
    return "\n".join(out)


def _table(document: dict[str, Any]) -> str:
    analysed = [r for r in document["models"].values() if r["status"] == "analysed"]
    classes = "".join(
        f'<option value="{c}">has {c}</option><option value="!{c}">lacks {c}</option>'
        for c in sorted(CIRCUIT_CLASSES)
    )
    sites = "".join(f'<option value="{k}">{k}</option>' for k in SITE_KINDS)
    categories = "".join(
        f'<option value="{escape(c)}">{escape(c)}</option>'
        for c in sorted({r["category"] for r in analysed})
    )
    degrees = "".join(
        f'<option value="{escape(d)}">{escape(d)}</option>'
        for d in sorted({r["degree"] for r in analysed}, key=_degree_key)
    )
    verdicts = "".join(
        f'<option value="{escape(v)}">{escape(v)}</option>'
        for v in document.get("verdicts", {})
        if any(_verdict(r) == v for r in analysed)
    ) + (
        '<option value="not run">not run</option>'
        if any(not r.get("validation") for r in analysed)
        else ""
    )
    out = [
        f"<h2>Architectures analysed (<span id=shown>{len(analysed)}</span> shown)</h2>",
        '<div class="filters">'
        '<label>type <input id="f-name" type="search" placeholder="llama"></label>'
        f'<label>primitive <select id="f-class"><option value="">any</option>{classes}'
        "</select></label>"
        f'<label>site kind <select id="f-site"><option value="">any</option>{sites}'
        '<option value="none">no site at all</option></select></label>'
        f'<label>category <select id="f-category"><option value="">any</option>{categories}'
        "</select></label>"
        f'<label>degree <select id="f-degree"><option value="">any</option>{degrees}'
        "</select></label>"
        f'<label>validation <select id="f-verdict"><option value="">any</option>{verdicts}'
        "</select></label></div>",
        '<p class="meta">Each row is the model as the census built it: its <em>shrink</em> '
        "(<code>widths</code>: layers and widths cut, <code>layers</code>: layers only, "
        "<code>none</code>: the default config) applies to every figure of the row, the "
        "crossover (the sequence length past which input-by-input contractions cost more "
        "multiply-adds than static ones) included; <em>layers</em> is what the config "
        "counts. Hover a validation or crossover cell for its reason; a validation "
        "verdict links its evidence.</p>"
        '<div class="wide"><table id="models"><thead><tr>'
        + "".join(
            f'<th class="sortable" onclick="sortBy({i}, {str(numeric).lower()})">{escape(h)}</th>'
            for i, (h, numeric) in enumerate(_COLUMNS)
        )
        + "</tr></thead><tbody>",
    ]
    for record in sorted(analysed, key=lambda r: r["type"]):
        out.append(_row(record))
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _row(record: dict[str, Any]) -> str:
    """One architecture's row of the table: its cells in the order of :data:`_COLUMNS`."""
    counts = record["sites"]
    cells = _cells(record)
    return (
        f'<tr data-name="{escape(record["type"]).lower()}" '
        f'data-classes="{" ".join(record["circuit_class"])}" '
        f'data-sites="{" ".join(k for k in SITE_KINDS if counts.get(k))}" '
        f'data-category="{escape(record["category"])}" data-degree="{escape(record["degree"])}" '
        f'data-verdict="{escape(_verdict(record))}">'
        + "".join(cells[header] for header, _ in _COLUMNS)
        + "</tr>"
    )


def _cells(record: dict[str, Any]) -> dict[str, str]:
    """Each column's cell (``<td>``) of a record's row, by header."""
    counts = record["sites"]
    name = escape(record["type"])
    link = f'<a href="{escape(record["report"])}">{name}</a>' if record.get("report") else name
    degree = record["degree"]
    layers = record.get("layers")
    sites = sum(counts.values())
    parameters = record.get("parameters")
    verdict, seconds = _verdict_cells(record.get("validation"))
    chips = "".join(class_chip(c) for c in record["circuit_class"]) or "(none)"
    return {
        "type": f"<td>{link}</td>",
        "validation": verdict,
        "degree": f'<td data-sort="{1e9 if degree == "inf" else degree}">{escape(degree)}</td>',
        "primitive set": f'<td class="chips">{chips}</td>',
        **{k: f'<td class="num">{counts.get(k, 0)}</td>' for k in SITE_KINDS},
        "sites per layer": f'<td class="num">{f"{sites / layers:.1f}" if layers else ""}</td>',
        "layers": f'<td class="num">{layers or ""}</td>',
        "parameters": f'<td class="num" data-sort="{parameters or 0}">'
        f"{_count(parameters) if parameters is not None else ''}</td>",
        "crossover (tokens)": _crossover_cell(record.get("crossover")),
        "shrink": f"<td>{escape(record.get('shrink', ''))}</td>",
        "model class": f"<td><code>{escape(record.get('class', ''))}</code></td>",
        "validation s": seconds,
        "device": f"<td>{escape(record['device'])}</td>",
        "nodes": f'<td class="num">{record["nodes"]}</td>',
        "seconds": f'<td class="num">{record["seconds"]:.1f}</td>',
        "category": f"<td>{escape(record['category'])}</td>",
    }


def _verdict(record: dict[str, Any]) -> str:
    validation = record.get("validation")
    return validation["verdict"] if validation else "not run"


def _degree_key(degree: str) -> tuple[int, str]:
    return (1, degree) if not degree.isdigit() else (0, f"{int(degree):06d}")


def _count(number: int) -> str:
    """``1234567`` as ``1.2M``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= scale:
            return f"{number / scale:.1f}{suffix}"
    return str(number)


def _crossover_cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return '<td class="num" data-sort="" title="not computed (census --crossover)"></td>'
    if entry.get("crossover") is None:
        return (
            f'<td class="num" data-sort="" title="{escape(entry.get("reason", ""))}">'
            '<span class="meta">n/a</span></td>'
        )
    value = entry["crossover"]
    title = f"static {entry.get('static', '?')} vs dynamic {entry.get('dynamic', '?')}"
    shown = f"{value:.0f}"
    if entry.get("longest") is not None and value > entry["longest"]:
        title = f"{entry.get('reason', '')}; {title}"
        shown = f'<span class="meta">{shown} (max {entry["longest"]})</span>'
    return f'<td class="num" data-sort="{value}" title="{escape(title)}">{shown}</td>'


def _verdict_cells(validation: dict[str, Any] | None) -> tuple[str, str]:
    """The verdict cell (its reason on hover, its evidence linked) and the seconds cell."""
    if not validation:
        return '<td><span class="meta">not run</span></td>', "<td></td>"
    verdict = validation["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "#999")
    label = escape(verdict)
    if validation.get("evidence"):
        label = f'<a href="{escape(validation["evidence"])}">{label}</a>'
    return (
        f'<td title="{escape(validation.get("reason", ""))}"><span class="verdict-dot" '
        f'style="background:{colour}"></span>{label}</td>',
        f'<td class="num">{validation.get("seconds", 0.0):.1f}</td>',
    )


def _validation_summary(
    summary: dict[str, Any], verdicts: dict[str, str], models: dict[str, Any]
) -> str:
    """The share of types whose claims were confirmed, the verdicts, the disagreements
    with what each measured."""
    checked = summary.get("validation")
    if not checked:
        return (
            '<p class="meta">Not validated: run <code>analyzer census --validate</code> to '
            "check every claim on the real model.</p>"
        )
    out = [
        "<h2>Validation: the claims checked on the real model</h2>"
        '<div class="verdict">'
        f'<div><div class="meta">types validated</div><span class="big">{checked["validated"]}'
        "</span></div>"
        '<div><div class="meta">claims confirmed (agree or over-approximate, graph '
        f'fidelity checked)</div><span class="big">{100 * checked["confirmed_share"]:.1f}%'
        f"</span></div>"
        f'<div><div class="meta">disagreements</div><span class="big">'
        f"{len(checked['disagrees'])}</span></div></div>"
        '<table class="summary"><tr><th>verdict</th><th>types</th><th>meaning</th></tr>'
    ]
    for verdict, count in checked["by_verdict"].items():
        colour = VERDICT_COLOURS.get(verdict, "#999")
        out.append(
            f'<tr><td><span class="verdict-dot" style="background:{colour}"></span>'
            f'{escape(verdict)}</td><td class="num">{count}</td>'
            f"<td>{escape(verdicts.get(verdict, ''))}</td></tr>"
        )
    out.append("</table>")
    if checked["disagrees"]:
        out.append("<p>Disagreements (each a bug), with what was measured:</p><ul>")
        for model_type in checked["disagrees"]:
            validation = models.get(model_type, {}).get("validation", {})
            name = f"<code>{escape(model_type)}</code>"
            if validation.get("evidence"):
                name = f'<a href="{escape(validation["evidence"])}">{name}</a>'
            out.append(f"<li>{name}: {escape(validation.get('reason', ''))}</li>")
        out.append("</ul>")
    out.append(f'<p class="meta">{checked["seconds"]:.0f} s spent validating.</p>')
    return "\n".join(out)


def _failures(document: dict[str, Any]) -> str:
    failed = [r for r in document["models"].values() if r["status"] == "failed"]
    out = [f"<h2>Failures ({len(failed)})</h2>"]
    if not failed:
        out.append("<p>None.</p>")
    for category, meaning in document["categories"].items():
        group = sorted((r for r in failed if r["category"] == category), key=lambda r: r["type"])
        if not group:
            continue
        out.append(
            f"<details open><summary>{escape(category)} ({len(group)}): {escape(meaning)}"
            '</summary><table class="failures"><col class="type-column"><col>'
        )
        for record in group:
            first = (record.get("error") or "").strip().splitlines()
            out.append(
                f'<tr class="fail"><td><code>{escape(record["type"])}</code></td>'
                f"<td>{escape(first[0] if first else '')}</td></tr>"
            )
        out.append("</table></details>")
    return "\n".join(out)


def _unknown_ops(summary: dict[str, Any]) -> str:
    unknown = summary["unknown_ops"]
    out = [f"<h2>Unknown ops ({len(unknown)})</h2>"]
    if not unknown:
        return out[0] + "<p>None: every op of every analysed model is in the registry.</p>"
    out.append(
        '<table class="failures"><col class="type-column"><col>'
        "<tr><th>op</th><th>architectures</th></tr>"
    )
    for op, types in unknown.items():
        out.append(
            f"<tr><td><code>{escape(op)}</code></td><td>{len(types)}: "
            + ", ".join(escape(t) for t in types)
            + "</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)
