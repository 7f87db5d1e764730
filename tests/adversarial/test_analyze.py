"""``analyzer.analyze`` on the adversarial cases: no false claim, the class contract kept,
the caller's module left alone. Over-approximations are allowed, and pinned per case in
``precision.json`` (see ``pinned.py``): a loss of precision fails."""

from __future__ import annotations

import pytest

from tests.adversarial import pinned
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


def test_analyze_precision_is_pinned(request: pytest.FixtureRequest) -> None:
    """Exact stays exact and each over-approximation stays what it was (``pinned.py``)."""
    now = {}
    for name, case in CASES.items():
        outcome = analyze_case(case)
        now[name] = {"analyze": outcome.status, "over": outcome.over}
    found = pinned.check(now, "analyze", request.config.getoption("--update-golden"))
    assert not found, "precision changed; after a deliberate change run pytest " + (
        "tests/adversarial --update-golden and review the diff:\n" + "\n".join(found)
    )
