"""The red teams' open findings (``FOUND_FALSE_CLAIMS`` of ``cases_redteam`` and
``cases_round4``): the oracle confirms
each hand-written truth, and the tool still gets each one wrong. The second test is a strict
``xfail``: once the passes or ``validate`` are fixed for a case it passes, the xfail turns into
a failure, and the case moves into the catalogue (drop its ``found=``)."""

from __future__ import annotations

import pytest

from tests.adversarial import cases_redteam, cases_round4
from tests.adversarial.judge import analyze_case, validate_case
from tests.adversarial.test_cases import assert_oracle_confirms

FOUND_FALSE_CLAIMS = {**cases_redteam.FOUND_FALSE_CLAIMS, **cases_round4.FOUND_FALSE_CLAIMS}
NAMES = sorted(FOUND_FALSE_CLAIMS)


@pytest.mark.parametrize("name", NAMES)
def test_the_oracle_confirms_the_truth_of_a_finding(name: str) -> None:
    assert_oracle_confirms(FOUND_FALSE_CLAIMS[name][0])


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=FOUND_FALSE_CLAIMS[n][1]))
             for n in NAMES]
)  # fmt: skip
def test_the_tool_is_right_on_a_finding(name: str) -> None:
    case, _ = FOUND_FALSE_CLAIMS[name]
    analysis, validation = analyze_case(case), validate_case(case)
    assert not analysis.crashed, analysis.error
    assert analysis.false_claims == [] and analysis.broken == [], analysis.false_claims
    assert validation.problems(analysis) == [], validation.problems(analysis)
