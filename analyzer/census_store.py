"""The census's resumable store: one ``results/TYPE.json`` per type, whichever executor ran it.

A record is written as soon as it arrives, so that an interrupted census resumes where it
stopped (``stored`` reads back what was made with the same options). A type validated
after it analysed leaves ``results/TYPE.partial.json`` first: when its worker then dies or
runs out of time, the analysis is kept and the validation is what failed (:func:`store`).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = store(folder, {"type": "a", "status": "failed", "category": "timeout",
...     "error": "no result within 9 s", "seconds": 9.0}, {"shrink": "widths"})
>>> stored(folder, "a", {"shrink": "widths"})["category"]
'timeout'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analyzer.output import write_json_atomic


def file_name(model_type: str) -> str:
    """Model types are identifiers with ``-`` at most; keep any other character out."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_type)


def stored(results: Path, model_type: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored record of ``model_type`` made with options ``key``, if any."""
    record = _read(results / f"{file_name(model_type)}.json")
    return record if record is not None and record.get("options") == key else None


def store(results: Path, record: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    """Write ``record`` (made with options ``key``); the record as stored. A timeout or a
    crash of a type that had analysed before its validation keeps the analysis, with the
    validation recorded as what timed out or crashed."""
    name = file_name(record["type"])
    partial = results / f"{name}.partial.json"
    if record["status"] == "failed" and record["category"] in ("timeout", "crash"):
        analysed = _read(partial)
        if analysed is not None and analysed.get("type") == record["type"]:
            validation = {"verdict": record["category"], "reason": record["error"]}
            validation["seconds"] = round(max(0.0, record["seconds"] - analysed["seconds"]), 2)
            record = {**analysed, "validation": validation}
    record["options"] = key
    write_json_atomic(results / f"{name}.json", record)
    partial.unlink(missing_ok=True)
    return record


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


__all__ = ["file_name", "store", "stored"]


def failure_record(model_type: str, category: str, error: str, seconds: float) -> dict[str, Any]:
    """The record of a type that did not analyse."""
    return {
        "type": model_type,
        "status": "failed",
        "category": category,
        "error": error,
        "seconds": round(seconds, 2),
    }
