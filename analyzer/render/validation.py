"""The readable summary of a validation: per check, the claim, the measurement, the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.empirical.blockwise import BlockwiseReport
    from analyzer.empirical.validate import ValidationReport


CHECK_WORDS = {  # the JSON's keys of seconds_by_check, as the closing line says them
    "dependence_sites_cross_entry": "dependence/sites/cross terms",
    "integer_inputs": "integer inputs",
}


def _verdict(ok: bool) -> str:
    return "agree" if ok else "DISAGREE"


def render_validation(report: ValidationReport, limit: int = 20) -> str:
    """Per check: static claim → measurement → verdict, then the overall verdict."""
    if not report.compared:
        return _render_model_alone(report)
    document = report.to_json()
    lines = [
        f"model        {report.model}  (frontend {report.frontend}, mode {report.mode}; "
        f"device {report.device}, {report.dtype}, {report.samples} samples, {report.batching})",
        *_degree_lines(report, document, limit),
        *_dependence_lines(document, limit),
        *_site_lines(document, limit),
        *_cross_lines(report, document),
        _fidelity_line(document["graph_fidelity"]),
    ]
    for note in document["fallbacks"]:
        lines.append(f"note         {note}")
    for warning in document["warnings"]:
        lines.append(f"warning      {warning}")
    if report.scope != "the model's input":
        lines.append(f"scope        claims checked relative to {report.scope}")
    timing = ", ".join(
        f"{CHECK_WORDS.get(k, k.replace('_', ' '))} {v:.1f} s"
        for k, v in document["seconds_by_check"].items()
    )
    if report.agree:
        verdict = "the static claims agree with the model"
    elif report.sound and report.degree_empirical.startswith("≥"):
        verdict = (
            f"DISAGREEMENT (no claim contradicted, none confirmed for the degree: it "
            f"could only be bounded, {report.degree_empirical})"
        )
    elif report.sound:
        verdict = "DISAGREEMENT (no claim contradicted: the static analysis over-approximates)"
    else:
        verdict = "DISAGREEMENT: a published claim is contradicted by the model"
    if not report.graph_checked:  # the claims hold of the graph; the graph may not be the model
        note = report.fidelity.note or "not checked"
        verdict = verdict.replace("agree with the model", "agree with the traced graph")
        verdict = f"{verdict} (graph {note}: the graph itself was not compared with the model)"
    lines.append(f"verdict      {verdict}  ({report.seconds:.1f} s: {timing})")
    return "\n".join(lines)


def _render_model_alone(report: ValidationReport) -> str:
    """A model no frontend traced: what was measured of the model alone, every check that
    needs a graph named as not checked, and a verdict that says nothing was compared."""
    untraced = "not checked: no graph (the model could not be traced)"
    lines = [
        f"model        {report.model}  (not traced; mode {report.mode}; device "
        f"{report.device}, {report.dtype}, {report.samples} samples)",
        f"degree       static none empirical {report.degree_empirical:<4} "
        f"(up to {report.max_degree}; {report.degree_method})  not compared: no claim",
        *(
            f"{check:<12} {untraced}"
            for check in ("dependence", "sites", "unlisted", "transposes", "cross-entry", "graph")
        ),
        *(f"warning      {warning}" for warning in report.warnings),
        f"verdict      {report.verdict}  ({report.seconds:.1f} s)",
    ]
    return "\n".join(lines)


def _degree_lines(report: ValidationReport, document: dict[str, Any], limit: int) -> list[str]:
    degree = document["degree"]
    lines = [
        f"degree       static {degree['static']:<4} empirical {degree['empirical']:<4} "
        f"(up to {report.max_degree}; {degree['method']})  {_verdict(report.degree_agrees)}"
    ]
    wrong = degree["node_violations"]
    if wrong:
        lines.append(f"  {len(wrong)} node(s) measured above their claimed degree:")
    for item in wrong[:limit]:
        lines.append(
            f"  violation    {item['node']}: claimed degree {item['static']}, "
            f"measured {item['empirical']}"
        )
    return lines


def _dependence_lines(document: dict[str, Any], limit: int) -> list[str]:
    dependence = document["dependence"]
    lines = [
        f"dependence   {dependence['nodes']} nodes checked by forward-mode AD and by their "
        f"values: {dependence['violations']} violations, {dependence['unconfirmed']} "
        f"unconfirmed  {_verdict(not dependence['violations'])}"
    ]
    reasons = dependence["violation_reasons"]
    for name in dependence["violation_nodes"][:limit]:
        lines.append(f"  violation    {name}: {reasons.get(name, '')}")
    for name in dependence["unconfirmed_nodes"][:limit]:
        lines.append(f"  unconfirmed  {name}: called continuous, tangent always zero (allowed)")
    hidden = len(dependence["unconfirmed_nodes"]) - limit
    if hidden > 0:
        lines.append(f"  … and {hidden} more unconfirmed (see --json)")
    return lines


def _site_lines(document: dict[str, Any], limit: int) -> list[str]:
    products = document["products"]
    confirmed = sum(p["confirmed"] for p in products)
    lines = [
        f"sites        {confirmed}/{len(products)} confirmed: the product at the node mixes "
        f"distinct input entries  {_verdict(confirmed == len(products))}"
    ]
    names = [p["node"] + (f" [{p['part']}]" if "part" in p else "") for p in products]
    width = max((len(n) for n in names[:limit]), default=0)
    modules = [p["module"] or "(root)" for p in products]
    module_width = max((len(m) for m in modules[:limit]), default=0)
    for product, name, module in zip(products[:limit], names, modules, strict=False):
        status = "confirmed" if product["confirmed"] else "NOT confirmed"
        why = "" if product["operands_vary"] else " (an operand never varies)"
        lines.append(
            f"  {product['kind']:<13} {name:<{width}}  {module:<{module_width}}  "
            f"{status}{why}  |∂²| = {product['mixed_derivative']:.3g}"
        )
    if len(products) > limit:
        lines.append(f"  … and {len(products) - limit} more (see --json)")
    missing = document["missing_products"]
    lines.append(
        f"unlisted     {len(missing)} multiplying node(s) analyze did not list as sites "
        f"multiply input-dependent values  {_verdict(not missing)}"
    )
    for item in missing[:limit]:
        name = item["node"] + (f" [{item['part']}]" if "part" in item else "")
        lines.append(f"  missing site {name} ({item['op']}): {item['why']}")
    transposes = document.get("missing_transposes", [])
    lines.append(
        f"transposes   {len(transposes)} measured contraction(s) read an input-dependent "
        f"operand transposed without a published feeding transpose  {_verdict(not transposes)}"
    )
    for item in transposes[:limit]:
        kind = "implied by" if item["implied"] else "feeding"
        lines.append(
            f"  missing transpose {item['node']} ({kind} {item['contraction']}): {item['why']}"
        )
    return lines


def _fidelity_line(fidelity: dict[str, Any]) -> str:
    if not fidelity["checked"]:
        return f"graph        {fidelity['note'] or 'not checked'}"
    ok = fidelity["mismatched"] == 0
    matching = fidelity["checked"] - fidelity["mismatched"]
    note = f"; {fidelity['note']}" if fidelity["note"] else ""
    return (
        f"graph        the traced graph and the model agree at {matching}/"
        f"{fidelity['checked']} sample inputs (largest relative difference "
        f"{fidelity['max_relative_difference']:.2g}{note})  {_verdict(ok)}"
    )


def _cross_lines(report: ValidationReport, document: dict[str, Any]) -> list[str]:
    cross = document["cross_entry"]
    claim = "piecewise affine" if report.analysis.piecewise_affine else "not piecewise affine"
    ok = not cross["contradicts_claim"]
    return [
        f"cross-entry  {cross['nonzero']}/{cross['pairs']} samples with ∂²y/∂xᵢ∂xⱼ (i ≠ j) "
        f"non-zero, max {cross['max_abs']:.3g}; claimed {claim}  {_verdict(ok)}"
    ]


def render_blockwise(result: BlockwiseReport, limit: int = 20) -> str:
    """One line per validated block, the scope of its claims, then the first block that
    disagrees in full."""
    lines = [
        f"model        {result.model}: {len(result.blocks)} distinct block(s) validated, "
        "each on the activation the example input produces at it",
        "scope        each block's claims are checked relative to that block's own input, "
        "not to the model's input",
    ]
    for block in result.blocks[:limit]:
        report = block.report
        represents = (
            f" (for {len(block.instances)} blocks of this structure)"
            if len(block.instances) > 1
            else ""
        )
        confirmed = sum(s.confirmed for s in report.sites)
        lines.append(
            f"  {block.path:<28}{represents:<36} degree {report.degree_static}/"
            f"{report.degree_empirical}  sites {confirmed}/{len(report.sites)}  "
            f"{_block_word(report)}  {report.seconds:.1f} s"
        )
    if len(result.blocks) > limit:
        lines.append(f"  … and {len(result.blocks) - limit} more (see --json)")
    first = next((b for b in result.blocks if not b.report.agree), None)
    if first is not None:
        lines.append(f"first disagreement: {first.path}")
        lines.append(render_validation(first.report, limit))
    verdict = "every block agrees" if result.agree else "DISAGREEMENT"
    lines.append(f"verdict      {verdict}  ({result.seconds:.1f} s)")
    return "\n".join(lines)


def _block_word(report: ValidationReport) -> str:
    if not report.compared:
        return "not compared (not traced)"
    return "agree" if report.agree else "DISAGREE"
