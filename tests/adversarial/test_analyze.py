"""``analyzer.analyze`` on the adversarial cases: no false claim, the class contract kept,
the caller's module left alone. Over-approximations are allowed (the summary counts them)."""

from __future__ import annotations

import pytest

from tests.adversarial.catalogue import all_cases
from tests.adversarial.judge import analyze_case

CASES = all_cases()
CHECKED = sorted(name for name, case in CASES.items() if case.checks)


@pytest.mark.parametrize("name", sorted(CASES))
def test_analyze_makes_no_false_claim(name: str) -> None:
    outcome = analyze_case(CASES[name])
    assert not outcome.crashed, outcome.error
    assert outcome.false_claims == [], CASES[name].note


@pytest.mark.parametrize("name", CHECKED)
def test_analyze_keeps_the_contract_of_the_class(name: str) -> None:
    outcome = analyze_case(CASES[name])
    assert outcome.error is None, outcome.error
    assert outcome.broken == [], CASES[name].note


@pytest.mark.parametrize("name", sorted(CASES))
def test_analyze_leaves_the_callers_module_alone(name: str) -> None:
    assert analyze_case(CASES[name]).changed == []
