"""What the tool says about each adversarial case, pinned in ``precision.json``: whether
``analyze`` is exact or over-approximated (and how), and whether ``validate`` agrees.

The suite fails on any difference, a loss of precision (an exact case that becomes
over-approximated, a new site, a degree of ``inf``) and a gain alike, so that the file stays
the record. After a deliberate change, rewrite it and review the diff::

    python -m pytest tests/adversarial --update-golden

>>> row = {"analyze": "exact", "over": [], "validate_agrees": True}
>>> differences({"a": row}, {"a": {**row, "analyze": "over-approximated"}}, "analyze")
["a: analyze exact → over-approximated (pinned {'analyze': 'exact', 'over': []})"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PINNED = Path(__file__).with_name("precision.json")
FIELDS = {"analyze": ("analyze", "over"), "validate": ("validate_agrees",)}


def load() -> dict[str, dict[str, Any]]:
    """The pinned table: case name → its fields."""
    return json.loads(PINNED.read_text()) if PINNED.exists() else {}


def differences(pinned: dict[str, Any], now: dict[str, Any], half: str) -> list[str]:
    """One line per case whose ``half`` (``"analyze"`` or ``"validate"``) differs."""
    found = []
    for name in sorted(set(pinned) | set(now)):
        if name not in now:
            found.append(f"{name}: pinned, but no longer a case")
            continue
        if name not in pinned:
            found.append(f"{name}: a new case, not pinned yet")
            continue
        old = {k: pinned[name].get(k) for k in FIELDS[half]}
        new = {k: now[name][k] for k in FIELDS[half]}
        if old != new:
            key = FIELDS[half][0]
            found.append(f"{name}: {key} {old[key]} → {new[key]} (pinned {old})")
    return found


def update(now: dict[str, Any], half: str) -> None:
    """Rewrite ``half``'s fields of every case from ``now``, keeping the other half's."""
    table = load()
    table = {name: table.get(name, {}) for name in now}
    for name, row in now.items():
        table[name].update({k: row[k] for k in FIELDS[half]})
    PINNED.write_text(json.dumps(table, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def check(now: dict[str, Any], half: str, rewrite: bool) -> list[str]:
    """The differences to report; with ``rewrite`` the file is rewritten and none are."""
    if rewrite:
        update(now, half)
        return []
    return differences(load(), now, half)
