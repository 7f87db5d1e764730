"""The readable summary of a validation: per check, the claim, the measurement, the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.empirical.validate import ValidationReport


def _verdict(ok: bool) -> str:
    return "agree" if ok else "DISAGREE"


def render_validation(report: ValidationReport, limit: int = 20) -> str:
    """Per check: static claim → measurement → verdict, then the overall verdict."""
    document = report.to_json()
    degree = document["degree"]
    dependence = document["dependence"]
    lines = [
        f"model        {report.model}  (device {report.device}, {report.dtype}, "
        f"{report.samples} samples, {report.batching})",
        f"degree       static {degree['static']:<4} empirical {degree['empirical']:<4} "
        f"(derivatives along random lines up to order {report.max_degree + 1})  "
        f"{_verdict(report.degree_agrees)}",
        f"dependence   {dependence['nodes']} nodes checked by forward-mode AD: "
        f"{dependence['violations']} violations, {dependence['unconfirmed']} unconfirmed  "
        f"{_verdict(not report.violations)}",
    ]
    for name in dependence["violation_nodes"][:limit]:
        lines.append(f"  violation    {name}: called static/discrete, but its tangent is non-zero")
    for name in dependence["unconfirmed_nodes"][:limit]:
        lines.append(f"  unconfirmed  {name}: called continuous, tangent always zero (allowed)")
    confirmed = sum(p["confirmed"] for p in document["products"])
    lines.append(
        f"sites        {confirmed}/{len(document['products'])} confirmed by a non-zero mixed "
        f"second derivative  {_verdict(confirmed == len(document['products']))}"
    )
    for product in document["products"][:limit]:
        status = "confirmed" if product["confirmed"] else "NOT confirmed"
        why = "" if product["operands_vary"] else " (an operand never varies)"
        lines.append(
            f"  {product['kind']:<13} {product['node']:<28} {product['module'] or '(root)':<24} "
            f"{status}{why}  |∂²| = {product['mixed_derivative']:.3g}"
        )
    if len(document["products"]) > limit:
        lines.append(f"  … and {len(document['products']) - limit} more (see --json)")
    cross = document["cross_entry"]
    lines.append(
        f"cross-entry  {cross['nonzero']}/{cross['pairs']} sampled ∂²y/∂xᵢ∂xⱼ (i ≠ j) non-zero, "
        f"max {cross['max_abs']:.3g}"
        + ("  (zero, as for every piecewise-affine model)" if cross["nonzero"] == 0 else "")
    )
    verdict = "the static claims agree with the model" if report.agree else "DISAGREEMENT"
    lines.append(f"verdict      {verdict}  ({report.seconds:.1f} s)")
    return "\n".join(lines)
