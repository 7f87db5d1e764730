"""The summary prints one verdict per case and the totals the integrator quotes."""

from __future__ import annotations

import io

from tests.adversarial import summary


def test_summary_lines_and_totals() -> None:
    out = io.StringIO()
    assert summary.main(["pow_two", "glu_fused", "log_sigmoid"], out=out) == 0
    text = out.getvalue()
    lines = {line.split()[0]: line for line in text.splitlines() if line and line[0] != " "}
    assert lines["pow_two"].split()[2] == "exact"
    assert "FALSE CLAIM" in lines["glu_fused"]  # today: no gating site for glu
    assert "3 cases: exact" in text and "validate agrees with a false claim:" in text
    assert "analyze changed the module:" in text
