"""Claim files: their claims in order, attached ones left to their claim, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.claims.loading import load_claims
from analyzer.errors import SpecError

FILE = """
from analyzer.claims import claim
from helper import TOLERANCE

@claim("second", identity=True, tolerance=TOLERANCE)
def second(check):
    return 0.0

@second.caveat("attached", identity=True)
def attached(check):
    pass

@claim("first", identity=True)
def first(check):
    pass
"""


def test_a_files_claims_come_in_order_without_attached_ones(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("TOLERANCE = 1e-9\n")  # a neighbour it imports
    path = tmp_path / "my_claims.py"
    path.write_text(FILE)
    claims = load_claims(path)
    assert [c.id for c in claims] == ["second", "first"]
    assert [c.id for c in claims[0].caveats] == ["attached"]
    assert claims[0].tolerance == 1e-9


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("absent.py", None, "does not exist"),
        ("notes.txt", "", "give a Python file"),
        ("broken.py", "def (:\n", "did not import: SyntaxError"),
        ("raising.py", "raise RuntimeError('at import')\n", "RuntimeError: at import"),
        ("empty.py", "x = 1\n", "defines no claim"),
        ("bad_option.py", "from analyzer.claims import claim\nclaim('s')\n", "give family="),
    ],
)
def test_bad_files_are_bad_input(tmp_path: Path, name: str, text: str | None, message: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_claims(path)
