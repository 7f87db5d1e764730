"""The summary prints one verdict per case and the totals the integrator quotes."""

from __future__ import annotations

import io

from tests.adversarial import summary

STATUSES = ("exact", "over-approximated", "FALSE", "refused", "crashed")


def test_summary_lines_and_totals() -> None:
    out = io.StringIO()
    assert summary.main(["pow_two_and", "glu_fused", "log_sigmoid"], out=out) == 0
    text = out.getvalue()
    lines = {line.split()[0]: line for line in text.splitlines() if line and line[0] != " "}
    for name, group in (("pow_two_and_a_half", "attack"), ("glu_fused", "registry"),
                        ("log_sigmoid", "precise")):  # fmt: skip
        assert lines[name].split()[1] == group and lines[name].split()[2] in STATUSES
    assert lines["pow_two_and_a_half"].split()[2] == "exact"  # |x|^2.5: inf, nothing else
    assert "3 cases: exact" in text
    for total in ("analyze changed the module:", "validate agrees with a false claim:",
                  "validate mis-measured the degree:", "validate crash:"):  # fmt: skip
        assert total in text
