"""Claims results as terminal text and as one self-contained HTML page.

The page uses the model reports' look (:data:`analyzer.render.html.STYLE` and its class
chips): a verdict table, then each claim with its precise statement, parts, caveats,
measurements against their tolerances, evidence, sources, and the counterexample with
its analysis (sites and witness paths). Everything from claims or models is escaped.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from analyzer.claims.runner import ClaimResult, ClaimsReport
from analyzer.output import write_json_atomic, write_text_atomic
from analyzer.render.html import STYLE, analysis_body

VERDICT_COLOURS = {
    "holds": "#98df8a",
    "holds with caveat": "#ffdd71",
    "fails": "#ff9896",
    "fails only in the static analysis": "#ffbb78",
    "the analysis disagrees with the construction": "#c5b0d5",
    "error": "#c7c7c7",
}
STATUS_MARKS = {
    "within": "✓", "reproduced": "✓", "out of tolerance": "✗", "not reproduced": "≠",
    "reported": "·", "not measured": "–",
}  # fmt: skip
EXTRA_STYLE = """
.claim { border: 1px solid #ddd; border-radius: 8px; padding: .6rem 1rem; margin: 1rem 0; }
.claim .claim { margin: .6rem 0 .2rem 0; background: #fcfcfc; }
.precise { color: #333; margin: .3rem 0; } .sources { color: #555; font-size: .85rem; }
.counterexample { border-left: 4px solid #d62728; padding: .3rem .8rem; background: #fff6f6; }
details { margin-top: .5rem; } pre { font-size: .8rem; white-space: pre-wrap; }
.claim td code { word-break: normal; white-space: nowrap; }
td.claim-id { overflow-wrap: anywhere; }
"""


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def verdict_words(result: ClaimResult) -> str:
    """The verdict with how a family counterexample was confirmed: ``"fails (confirmed
    empirically)"``, ``"fails (not checked (confirmation off))"``."""
    found = result.counterexample
    if result.verdict == "fails" and found is not None and found.confirmation:
        return f"fails ({found.confirmation})"
    return result.verdict


def expected_words(result: ClaimResult) -> str:
    if result.as_expected:
        return "yes"
    return "no" if result.own_as_expected else f"no ({result.claim.expect_text})"


# --- text ----------------------------------------------------------------------------


def render_claims_text(report: ClaimsReport) -> str:
    """The terminal summary: one row per claim, then its parts, caveats, counterexamples,
    measurements out of tolerance, figures not reproduced and what was not measured."""
    rows = [("claim", "verdict", "as expected", "examples", "seconds", "statement")]
    for result in report.results:
        expected = expected_words(result)
        rows.append((
            result.id, verdict_words(result), expected,
            str(result.examples), f"{result.seconds:.1f}", result.claim.statement,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5]
             for row in rows]  # fmt: skip
    lines.append("")
    for result in report.results:
        details = _text_details(result, "  ")
        if details:
            lines.append(f"{result.id}: {result.claim.statement}")
            lines += details
    unexpected = report.unexpected()
    if unexpected:
        lines.append("not as expected:")
        lines += [f"  {line}" for line in unexpected]
    rejected = (
        f"{report.rejected} static counterexample(s) rejected as over-approximations"
        if report.confirm
        else "counterexamples not confirmed empirically (confirmation off)"
    )
    lines.append(weights_words(report))
    lines.append(
        f"{len(report.results)} claims on {report.device}, seed {report.seed}, "
        f"{report.seconds:.1f} s; {rejected}; "
        + (
            "every verdict as expected, parts and caveats included"
            if report.as_expected
            else "some verdicts not as expected"
        )
    )
    return "\n".join(lines)


def weights_words(report: ClaimsReport) -> str:
    """Which weights the measurements that need trained weights used: the checkpoint's,
    named, or random ones."""
    if report.weights is None:
        return (
            "measurements that need trained weights used random weights "
            "(--weights FOLDER gives a checkpoint's)"
        )
    return f"trained weights: {report.weights.label} (measurements that need them use them)"


def _text_details(result: ClaimResult, indent: str) -> list[str]:
    lines = []
    if result.error:
        lines.append(f"{indent}error: {result.error}")
    for why in result.mismatch():
        lines.append(f"{indent}not as expected: {why}")
    if result.counterexample is not None:
        found = result.counterexample
        confirmation = f" [{found.confirmation}]" if found.confirmation else ""
        lines.append(f"{indent}counterexample{confirmation}: {found.description}")
        assertion = found.assertion.splitlines()
        lines.append(f"{indent}  assertion: {assertion[0] if assertion else ''}")
    rejected = (result.evidence or {}).get("rejected_static", 0)
    if rejected:
        lines.append(
            f"{indent}{rejected} static counterexample(s) rejected (validate did not confirm "
            "what they failed on), e.g.:"
        )
        lines += [f"{indent}  {why}" for why in result.evidence["rejections"][:3]]
    if result.construction is not None:
        made = result.construction
        lines.append(
            f"{indent}{made.verdict} on {made.disagreeing} of {made.checked} drawn models; "
            f"smallest: {made.counterexample.description}"
        )
        lines.append(f"{indent}  {made.counterexample.assertion}")
    protocols: list[str] = []
    for m in result.measurements:
        mark = STATUS_MARKS[m.status]
        if m.range is not None and m.value is not None:
            low, high = m.range
            lines.append(
                f"{indent}{mark} {m.status}: {m.name}: {_value(m.value)} "
                f"(5th–95th percentile {low:g} … {high:g})"
            )
            if m.protocol and m.protocol not in protocols:
                protocols.append(m.protocol)
                lines.append(f"{indent}  protocol: {m.protocol}")
        elif m.status == "not measured":
            lines.append(f"{indent}{mark} {m.name}: {m.note or 'not measured'}")
        elif m.status in ("out of tolerance", "not reproduced"):
            shown = f"{_value(m.value)}" + (
                f" vs {_value(m.expected)}" if m.expected is not None else ""
            )
            note = f" ({m.note})" if m.note else ""
            lines.append(f"{indent}{mark} {m.status}: {m.name}: {shown}{note}")
    for label, items in (("part", result.parts), ("caveat", result.caveats)):
        for item in items:
            expected = (
                ", NOT AS EXPECTED"
                if not item.as_expected
                else (", as expected" if item.verdict == "fails" else "")
            )
            lines.append(
                f"{indent}{label} {item.id}: {verdict_words(item)}{expected} — "
                f"{item.claim.statement}"
            )
            lines += _text_details(item, indent + "  ")
    return lines


# --- HTML ----------------------------------------------------------------------------


def _verdict_chip(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#ffffff")
    return f'<span class="chip" style="background:{colour}">{escape(verdict)}</span>'


def _measurements_table(result: ClaimResult) -> str:
    if not result.measurements:
        return ""
    out = [
        '<table><col style="width:2rem"><col style="width:30%"><col style="width:8rem">'
        '<col style="width:8rem"><col style="width:7rem"><col style="width:9rem"><col>'
        "<tr><th></th><th>measurement</th><th>value</th><th>expected</th>"
        "<th>tolerance</th><th>status</th><th>note</th></tr>"
    ]
    for m in result.measurements:
        tolerance = (
            "–" if m.tolerance is None else f"{m.tolerance:g}" + (" rel." if m.relative else "")
        )
        decides = (
            "" if m.decides or m.status in ("reported", "not measured") else " (does not decide)"
        )
        out.append(
            f"<tr><td>{STATUS_MARKS[m.status]}</td><td>{escape(m.name)}</td>"
            f"<td><code>{escape(_value(m.value))}</code></td>"
            f"<td><code>{escape(_expected(m))}</code></td><td>{escape(tolerance)}</td>"
            f"<td>{escape(m.status + decides)}</td><td>{escape(_note(m))}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _expected(m: Any) -> str:
    if m.range is not None:
        return f"{m.range[0]:g} … {m.range[1]:g}"
    return _value(m.expected)


def _note(m: Any) -> str:
    protocol = f"protocol: {m.protocol}" if m.protocol else ""
    return "; ".join(part for part in (m.note, protocol) if part)


def evidence_summary(result: ClaimResult) -> str:
    """A family run's evidence in one sentence: what was drawn, whether the analysis
    agreed with the truth built in, and what validation found."""
    static = result.evidence.get("static")
    if not static:
        return ""
    sets = ", ".join(
        ("∅" if k == "(none)" else f"{{{k}}}") + f" ×{v}"
        for k, v in list(static["primitive_sets"].items())[:4]
    )
    text = f"{result.examples} drawn models (primitive sets {sets}"
    text += ", …)" if len(static["primitive_sets"]) > 4 else ")"
    checked, wrong = static["truth_checked"], static["truth_disagreeing"]
    if checked:
        text += f"; the analysis agrees with the truth built in on {checked - wrong} of {checked}"
    empirical = result.evidence.get("empirical")
    if empirical:
        text += (
            f"; validated {empirical['validated']}: {empirical['agree']} agree, "
            f"{empirical['dependence_violations']} dependence violations, "
            f"{empirical['models_with_cross_entry_terms']} with cross-entry terms"
        )
    shrunk = result.evidence.get("shrink_steps")
    return text + (f"; {shrunk} shrink steps" if shrunk else "") + "."


def _evidence(result: ClaimResult) -> str:
    if not result.evidence:
        return ""
    summary = evidence_summary(result)
    text = json.dumps(result.evidence, indent=2, default=str)
    return (f"<p>{escape(summary)}</p>" if summary else "") + (
        f"<details><summary>evidence</summary><pre>{escape(text)}</pre></details>"
    )


def _counterexample(result: ClaimResult) -> str:
    found = result.counterexample
    if found is None:
        return ""
    return _found(found, "counterexample (shrunk)")


def _found(found: Any, heading: str) -> str:
    if found.confirmation:
        heading += f", {found.confirmation}"
    out = [
        f'<div class="counterexample"><div class="meta">{escape(heading)}</div>'
        f'<div class="big">{escape(found.description)}</div>'
        f"<pre>{escape(found.assertion)}</pre>"
    ]
    if found.drawn:
        out.append(f'<div class="meta">drawn: <code>{escape(found.drawn)}</code></div>')
    if found.analysis is not None:
        out.append(
            "<details><summary>its analysis</summary>"
            + analysis_body(found.analysis)
            + "</details>"
        )
    out.append("</div>")
    return "".join(out)


def _claim_section(result: ClaimResult, label: str = "") -> str:
    claim = result.claim
    expected = (
        " <b>not as expected</b>"
        if not result.as_expected
        else (" as expected" if result.verdict == "fails" else "")
    )
    head = f"{escape(label)} " if label else ""
    out = [
        f'<div class="claim" id="{escape(claim.id)}">'
        f"<h2>{head}{escape(claim.id)}: {escape(claim.statement)}</h2>"
        f'<div class="verdict"><div>{_verdict_chip(result.verdict)}{expected}</div>'
        f'<div class="meta">{claim.kind}, {result.examples} example(s), '
        f"{result.seconds:.1f} s</div>"
        "</div>"
    ]
    if claim.precise:
        out.append(f'<p class="precise"><b>Precisely:</b> {escape(claim.precise)}</p>')
    if result.error:
        out.append(f'<p class="warn">error: {escape(result.error)}</p>')
    for why in result.unexpected() if not label else result.mismatch():
        out.append(f'<p class="warn">not as expected: {escape(why)}</p>')
    if result.construction is not None:
        made = result.construction
        out.append(
            f'<p class="warn">{escape(made.verdict)} on {made.disagreeing} of {made.checked} '
            "drawn models; the smallest:</p>" + _found(made.counterexample, "construction")
        )
    rejected = (result.evidence or {}).get("rejected_static", 0)
    if rejected:
        reasons = "".join(f"<li>{escape(w)}</li>" for w in result.evidence["rejections"])
        out.append(
            f"<p>{rejected} static counterexample(s) rejected as over-approximations "
            f"(validate did not confirm what they failed on):</p><ul>{reasons}</ul>"
        )
    out.append(_counterexample(result))
    out.append(_measurements_table(result))
    out.append(_evidence(result))
    if claim.sources:
        out.append(
            '<p class="sources">Sources: ' + "; ".join(escape(s) for s in claim.sources) + "</p>"
        )
    out += [_claim_section(p, "part") for p in result.parts]
    out += [_claim_section(c, "caveat") for c in result.caveats]
    out.append("</div>")
    return "\n".join(out)


def claims_html(report: ClaimsReport, title: str = "Claims") -> str:
    """The whole self-contained page for ``report``."""
    rows = [
        # The id column fits a usual id (``test_linear_relu_has_no_site``) on one line; a
        # longer one wraps inside its cell rather than running over the statement.
        '<table class="verdicts"><col style="width:16rem"><col><col style="width:11rem">'
        '<col style="width:7rem"><col style="width:6rem"><col style="width:6rem">'
        "<tr><th>claim</th><th>statement</th><th>verdict</th><th>as expected</th>"
        "<th>examples</th><th>seconds</th></tr>"
    ]
    for result in report.results:
        expected = escape(expected_words(result))
        rows.append(
            f'<tr><td class="claim-id"><a href="#{escape(result.id)}">{escape(result.id)}</a></td>'
            f"<td>{escape(result.claim.statement)}</td><td>{_verdict_chip(result.verdict)}"
            f"{escape(verdict_words(result)[len(result.verdict) :])}</td>"
            f"<td>{expected}</td><td>{result.examples}</td><td>{result.seconds:.1f}</td></tr>"
        )
    rows.append("</table>")
    meta = (
        f"device {escape(report.device)} · seed {report.seed} · "
        f"{escape(weights_words(report))} · "
        f"{'default' if report.examples is None else report.examples} examples per family · "
        f"{report.seconds:.1f} s · schema analyzer.claims/1 · "
        + (
            f"{report.rejected} static counterexample(s) rejected"
            if report.confirm
            else "confirmation off"
        )
        + (
            " · every verdict as expected"
            if report.as_expected
            else " · <b>some verdicts not as expected</b>"
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>analyzer: {escape(title)}</title><style>{STYLE}{EXTRA_STYLE}</style></head>"
        '<body class="analyzer-page"><div class="analyzer-report">'
        f'<h1>{escape(title)}</h1><div class="meta">{meta}</div>\n'
        + "\n".join(rows)
        + "\n"
        + "\n".join(_claim_section(r) for r in report.results)
        + "\n</div></body></html>\n"
    )


def write_claims_report(report: ClaimsReport, folder: str | Path, title: str = "Claims") -> Path:
    """Write ``index.html`` and ``claims.json`` into ``folder`` (made if missing); both are
    rendered before either is written."""
    target = Path(folder)
    page, document = claims_html(report, title), report.to_json()
    target.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target / "index.html", page)
    write_json_atomic(target / "claims.json", document)
    return target
