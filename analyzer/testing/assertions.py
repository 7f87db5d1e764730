"""Assertions for users' own test suites: pin an architectural property of a model.

Each takes an :class:`~analyzer.analysis.Analysis`, anything with an ``analysis``
attribute (a claim's drawn model), or a module with ``args=`` (analysed here), and
raises ``AssertionError`` with the evidence: the offending sites with their witness
paths, the nodes where a class or a degree comes from.

>>> import torch
>>> mlp = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
>>> assert_piecewise_affine(mlp, args=(torch.randn(2, 3),))
>>> assert_primitive_set(mlp, {"matmul", "relu"}, args=(torch.randn(2, 3),))
>>> gated = torch.nn.GRU(2, 2, batch_first=True)
>>> assert_no_input_products(gated, args=(torch.randn(1, 3, 2),))
Traceback (most recent call last):
...
AssertionError: 1 input-by-input site, expected none:
  gating site [gates] at node gru (aten.gru, module (root))
    operands: input_1
    witness path: input_1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.analysis import Analysis, analyze
from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name, tensor_operands
from analyzer.passes.facts import INF, Dependence, format_degree

MAX_LISTED = 5


def analysis_of(target: Any, args: Sequence[Any] | None = None) -> Analysis:
    """``target`` as an analysis: itself, its ``analysis`` attribute, or ``analyze(target,
    args)`` for a module."""
    if isinstance(target, Analysis):
        return target
    if isinstance(getattr(target, "analysis", None), Analysis):
        return target.analysis
    if args is None:
        raise SpecError(
            f"give an Analysis, a drawn model, or a module with args=(...), "
            f"not a {type(target).__name__} alone"
        )
    return analyze(target, tuple(args))


def _where(analysis: Analysis, node: Any) -> str:
    return f"node {node.name} ({op_name(node)}, module {analysis.module_of(node) or '(root)'})"


def _site_lines(analysis: Analysis, sites: Sequence[Any]) -> list[str]:
    lines = []
    for site in sites[:MAX_LISTED]:
        part = f" [{site.part}]" if site.part else ""
        lines.append(f"  {site.kind} site{part} at {_where(analysis, site.node)}")
        lines.append(f"    operands: {', '.join(site.operand_names)}")
        for operand in dict.fromkeys(site.operands):
            lines.append(f"    witness path: {' → '.join(analysis.path_to(operand))}")
    if len(sites) > MAX_LISTED:
        lines.append(f"  … and {len(sites) - MAX_LISTED} more")
    return lines


def _class_lines(analysis: Analysis, classes: Iterable[str]) -> list[str]:
    lines = []
    for cls in sorted(classes):
        nodes = [
            n
            for n, c in analysis.classes.items()
            if c == cls and analysis.facts[n].dependence is not Dependence.STATIC
        ]
        if not nodes:
            lines.append(f"  {cls}: implied by a fused op")
            continue
        for node in nodes[:MAX_LISTED]:
            lines.append(f"  {cls}: {_where(analysis, node)}")
            lines.append(f"    witness path: {' → '.join(analysis.path_to(node))}")
        if len(nodes) > MAX_LISTED:
            lines.append(f"  {cls}: … and {len(nodes) - MAX_LISTED} more nodes")
    return lines


def assert_primitive_set(
    target: Any,
    expected: Iterable[str] | None = None,
    *,
    subset_of: Iterable[str] | None = None,
    args: Sequence[Any] | None = None,
) -> None:
    """The primitive set equals ``expected``, or lies within ``subset_of``."""
    if (expected is None) == (subset_of is None):
        raise SpecError("assert_primitive_set: give expected= or subset_of=, one of them")
    analysis = analysis_of(target, args)
    found = set(analysis.circuit_class)
    if expected is not None:
        wanted = set(expected)
        if found == wanted:
            return
        extra, missing = found - wanted, wanted - found
        lines = [f"primitive set is {sorted(found)}, expected {sorted(wanted)}"]
        if missing:
            lines.append(f"missing: {', '.join(sorted(missing))}")
    else:
        allowed = set(subset_of)  # type: ignore[arg-type]
        extra = found - allowed
        if not extra:
            return
        lines = [f"primitive set is {sorted(found)}, expected a subset of {sorted(allowed)}"]
    if extra:
        lines.append(f"extra: {', '.join(sorted(extra))}, from")
        lines += _class_lines(analysis, extra)
    if analysis.sites:
        lines.append("input-by-input sites:")
        lines += _site_lines(analysis, analysis.sites)
    raise AssertionError("\n".join(lines))


def assert_no_input_products(
    target: Any, *, kinds: Iterable[str] | None = None, args: Sequence[Any] | None = None
) -> None:
    """No input-by-input multiplicative site (of the given ``kinds``, default any)."""
    analysis = analysis_of(target, args)
    wanted = None if kinds is None else set(kinds)
    sites = [s for s in analysis.sites if wanted is None or s.kind in wanted]
    if not sites:
        return
    noun = "site" if len(sites) == 1 else "sites"
    raise AssertionError(
        "\n".join(
            [f"{len(sites)} input-by-input {noun}, expected none:", *_site_lines(analysis, sites)]
        )
    )


def _raising_nodes(analysis: Analysis, above: float) -> list[Any]:
    """The nodes where the degree first rises above ``above``: their own degree does,
    none of their operands' does."""
    facts = analysis.facts
    found = []
    for node in analysis.traced.graph.nodes:
        if node not in facts or facts[node].degree <= above:
            continue
        if all(facts[o].degree <= above for o in tensor_operands(node) if o in facts):
            found.append(node)
    return found


def _degree_lines(analysis: Analysis, above: float) -> list[str]:
    lines = []
    nodes = _raising_nodes(analysis, above)
    for node in nodes[:MAX_LISTED]:
        fact = analysis.facts[node]
        lines.append(
            f"  degree {format_degree(fact.degree)} at {_where(analysis, node)}, "
            f"class {analysis.classes.get(node, 'input')}"
        )
        lines.append(f"    witness path: {' → '.join(analysis.path_to(node))}")
    if len(nodes) > MAX_LISTED:
        lines.append(f"  … and {len(nodes) - MAX_LISTED} more")
    return lines


def assert_piecewise_affine(target: Any, *, args: Sequence[Any] | None = None) -> None:
    """The output has degree ≤ 1 in the input (affine on each piece)."""
    analysis = analysis_of(target, args)
    if analysis.piecewise_affine:
        return
    lines = [f"degree is {analysis.degree}, expected at most 1 (piecewise affine); raised at"]
    raise AssertionError("\n".join(lines + _degree_lines(analysis, 1)))


def assert_degree(target: Any, expected: int | str, *, args: Sequence[Any] | None = None) -> None:
    """The output's degree equals ``expected`` (an int, or ``"inf"``)."""
    text = str(expected)
    if not (text == "inf" or text.isdigit()):
        raise SpecError(f"assert_degree(expected={expected!r}): give a natural number or 'inf'")
    analysis = analysis_of(target, args)
    if analysis.degree == text:
        return
    lines = [f"degree is {analysis.degree}, expected {text}"]
    wanted = INF if text == "inf" else int(text)
    if analysis.output_fact.degree > wanted:
        lines[0] += "; raised above it at"
        lines += _degree_lines(analysis, wanted)
    raise AssertionError("\n".join(lines))


def failure_message(result: Any) -> str:
    """Why a claim's result is not what it expects: the claim's verdict, then every part
    and caveat not as expected with its counterexample (and whether it was confirmed), its
    failed assertion, its error, or its measurements out of tolerance."""
    claim = result.claim

    def walk(item: Any) -> list[Any]:
        return [item] + [r for sub in [*item.parts, *item.caveats] for r in walk(sub)]

    raised = [r for r in walk(result) if r.error]
    lines = [
        f"claim {claim.id!r} raised: {raised[0].error}"
        if raised
        else f"claim {claim.id!r}: {result.verdict}, expected {claim.expect_text}"
    ]
    lines.append(f"  statement: {claim.statement}")
    lines += [f"  {line}" for line in result.unexpected()]
    return "\n".join(lines)


def assert_claim(
    claim: Any,
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    confirm: bool = True,
    database: str | None = None,
) -> Any:
    """Run ``claim`` and fail unless its verdict, and every part's and caveat's, is what
    it expects; returns the result. The message gives each verdict not as expected, the
    counterexample in words and the failed assertion (options as
    :func:`~analyzer.claims.runner.run_claim`)."""
    from analyzer.claims.runner import run_claim

    result = run_claim(
        claim, examples=examples, seed=seed, device=device, deadline=deadline, confirm=confirm,
        database=database,
    )  # fmt: skip
    if not result.as_expected:
        raise AssertionError(failure_message(result))
    return result
