"""``analyzer.validate`` on the adversarial cases: it returns a report (it never crashes),
never agrees with a false claim of ``analyze``, measures the true degree, and leaves the
caller's module alone; and false claims injected into correct analyses are caught."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from analyzer.empirical import validate as validate_module
from analyzer.passes.facts import STATIC_FACT
from tests.adversarial import pinned
from tests.adversarial.cases_escapes import VALIDATE_GAPS
from tests.adversarial.catalogue import all_cases
from tests.adversarial.judge import MAX_DEGREE, PAIRS, SAMPLES, analyze_case, validate_case

CASES = all_cases()


def _expecting(*gaps: str) -> list:
    """Every case name, those with one of ``gaps`` in ``VALIDATE_GAPS`` as a strict xfail."""
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=VALIDATE_GAPS[n][1]))
        if VALIDATE_GAPS.get(n, ("",))[0] in gaps else n
        for n in sorted(CASES)
    ]  # fmt: skip


@pytest.mark.parametrize("name", _expecting("refused"))
def test_validate_returns_a_report(name: str) -> None:
    outcome = validate_case(CASES[name])
    assert not outcome.crashed, outcome.error  # only AnalyzerError may leave validate
    assert outcome.error is None, outcome.error  # and these models all run and differentiate


def test_validate_verdicts_are_pinned(request: pytest.FixtureRequest) -> None:
    """``validate`` never agrees with a false claim of ``analyze``, and its verdict on each
    case is the one pinned in ``precision.json``: a case it agreed on that it now disputes is
    a false alarm (or a lost capability), one it disputed that it now accepts may hide a
    missed violation. After a deliberate change: ``pytest tests/adversarial --update-golden``."""
    now, agreeing_with_false = {}, []
    for name, case in CASES.items():
        analysis, outcome = analyze_case(case), validate_case(case)
        agrees = outcome.report is not None and bool(outcome.report.agree)
        if agrees and analysis.false_claims:
            agreeing_with_false.append(f"{name}: " + "; ".join(analysis.false_claims))
        now[name] = {"validate_agrees": agrees}
    assert not agreeing_with_false, "validate agrees with false claims:\n" + "\n".join(
        agreeing_with_false
    )
    found = pinned.check(now, "validate", request.config.getoption("--update-golden"))
    assert not found, "validate's verdicts changed (--update-golden to accept):\n" + "\n".join(
        found
    )


@pytest.mark.parametrize("name", _expecting("refused", "degree"))
def test_validate_measures_the_true_degree(name: str) -> None:
    outcome = validate_case(CASES[name])
    if outcome.report is None:
        pytest.fail(f"no report: {outcome.error}")
    assert outcome.report.degree_empirical == outcome.expected_degree(), CASES[name].note


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_leaves_the_callers_module_alone(name: str) -> None:
    assert validate_case(CASES[name]).changed == []


# --- mutation: false claims injected into analyses that are right -------------------------
def _last_continuous_op(analysis):
    nodes = [
        n for n, fact in analysis.facts.items()
        if n.op.startswith("call_") and fact.is_continuous
    ]  # fmt: skip
    return nodes[-1]


def _static_node(analysis) -> None:
    analysis.facts[_last_continuous_op(analysis)] = STATIC_FACT


def _static_output(analysis) -> None:
    analysis.facts[analysis.traced.output_node] = STATIC_FACT


def _lower_degree(analysis) -> None:
    output = analysis.traced.output_node
    fact = analysis.facts[output]
    lowered = 1 if fact.degree == math.inf else fact.degree - 1
    analysis.facts[output] = dataclasses.replace(fact, degree=lowered)


def _piecewise_affine_without_sites(analysis) -> None:
    output = analysis.traced.output_node
    analysis.facts[output] = dataclasses.replace(analysis.facts[output], degree=1)
    analysis.sites.clear()


MUTATIONS = {
    "static_node": _static_node,
    "static_output": _static_output,
    "lower_degree": _lower_degree,
    "piecewise_affine_without_sites": _piecewise_affine_without_sites,
}
POLYNOMIAL = ["linear_attention", "python_loop_gates", "quarter_square_product"]
PIECEWISE_AFFINE = ["embedding_relu_mlp"]
INJECTIONS = [(name, m) for name in POLYNOMIAL for m in MUTATIONS] + [
    (name, m) for name in PIECEWISE_AFFINE for m in ("static_node", "static_output")
]


@pytest.mark.parametrize(("name", "mutation"), INJECTIONS)
def test_an_injected_false_claim_makes_validate_disagree(monkeypatch, name, mutation) -> None:
    case = CASES[name]
    assert analyze_case(case).status == "exact"  # the mutation is the only false claim
    real = validate_module.analyze_traced

    def mutated(traced):
        analysis = real(traced)
        MUTATIONS[mutation](analysis)
        return analysis

    monkeypatch.setattr(validate_module, "analyze_traced", mutated)
    module, args, kwargs = case.build()
    report = validate_module.validate(
        module, args, example_kwargs=kwargs or None, samples=SAMPLES, pairs=PAIRS,
        max_degree=MAX_DEGREE,
    )  # fmt: skip
    assert not report.agree, f"{mutation} on {name} went unnoticed"


# --- the command line: exit 0 with a result, or 3 with one paragraph -----------------------
CLI_CASES = {
    "tests.adversarial.cases_registry:prelu_input_slope": 0,
    "tests.adversarial.cases_io:integer_input_only": 0,
    "tests.adversarial.cases_registry:bincount_weighted_input_ids": 0,
    "tests.adversarial.cases_precise:cdist_pairwise": 0,  # an over-approximated site: agrees
    "tests.adversarial.cases_hidden:item_scaled": 0,
    "tests.adversarial.cases_escapes:apply_square": 3,  # a write from Python: no recording
}


@pytest.mark.parametrize("spec", sorted(CLI_CASES))
def test_cli_validate_exits_0_with_a_verdict_or_3_with_one_paragraph(run_cli, spec) -> None:
    code, stdout, stderr = run_cli("validate", spec, "--samples", "2", "--pairs", "4")
    assert code == CLI_CASES[spec], stderr
    assert "Traceback" not in stderr
    if code == 0:  # a graph validate could not compare with the model says so in its verdict
        assert re.search(
            r"the static claims agree with the (model|traced graph \(graph not checked: )", stdout
        ), stdout
    else:
        assert stderr.strip() and "\n\n" not in stderr.strip()
        assert "writes into a tensor from outside torch" in " ".join(stderr.split())
