"""The census document (schema ``analyzer.census/1``) and its files.

:func:`census_document` gathers one record per type with the versions and options,
:func:`summarise` counts over them, :func:`census_csv` makes the table, and
:func:`write_census` / :func:`load_census` write and read ``census.json``,
``census.csv`` and ``index.html``. Running the census is :mod:`analyzer.census`.

>>> shrink_of({"status": "analysed", "shrunk": {}, "shrink": "widths"})
'widths'
"""

from __future__ import annotations

import collections
import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.census_validation import VERDICTS, summarise_validation
from analyzer.errors import SpecError
from analyzer.output import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from analyzer.census import CensusOptions

SCHEMA = "analyzer.census/1"

CATEGORIES = {
    "clean": "analysed, every op known",
    "unknown ops": "analysed, with ops the registry does not know (worst case assumed)",
    "config": "transformers cannot build the type's default config",
    "model": "transformers cannot build the model from its default config",
    "no forward": "the AutoModel class has no forward to trace (generation only)",
    "missing package": "the model's code needs a package that is not installed",
    "inputs": "no builder for a required input",
    "forward": "the forward fails on every synthesised input plan, or the real model (random "
    "weights, on the cpu) fails on the plan the meta-device trace accepted",
    "trace": "no frontend could trace the model",
    "analysis": "the analysis raised (a bug of the tool)",
    "error": "an unexpected exception while building (a bug of the tool or of transformers)",
    "timeout": "no result within the time limit",
    "crash": "the worker process died (memory, or a crash in native code)",
}
"""Every result category, in the order the page lists them, with what it means."""

EXCLUDED = ("config", "model", "no forward", "missing package")
"""Categories outside the target's denominator: the default config, or the model from
it, does not build in transformers, or has no forward; or the code needs a package this
environment lacks."""


def census_document(
    records: list[dict[str, Any]], options: CensusOptions, seconds: float
) -> dict[str, Any]:
    """The ``analyzer.census/1`` document of ``records`` (one per type)."""
    import torch
    import transformers

    import analyzer

    return {
        "schema": SCHEMA,
        "analyzer": analyzer.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        **_diffusers_version(records),
        "options": {**options.key(), "timeout": options.timeout, "workers": options.workers},
        "verdicts": VERDICTS,
        "seconds": round(seconds, 1),
        "categories": CATEGORIES,
        "summary": summarise(records),
        "models": {r["type"]: {k: v for k, v in r.items() if k != "options"} for r in records},
    }


def _diffusers_version(records: list[dict[str, Any]]) -> dict[str, str]:
    """The diffusers version, when the census holds diffusers classes."""
    if not any(r["type"].startswith("diffusers:") for r in records):
        return {}
    import diffusers

    return {"diffusers": diffusers.__version__}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts over the records: by category, the target's figure, and how many analysed
    architectures use each primitive and each site kind.

    >>> summary = summarise([{"type": "a", "status": "analysed", "category": "clean",
    ...     "circuit_class": ["matmul"], "sites": {"contraction": 0}, "unknown_ops": [],
    ...     "warnings": [], "seconds": 1.0}])
    >>> summary["clean_share_of_eligible"], summary["no_input_products"]
    (1.0, ['a'])
    """
    from analyzer.passes.registry import CIRCUIT_CLASSES

    analysed = [r for r in records if r["status"] == "analysed"]
    by_category = collections.Counter(r["category"] for r in records)
    eligible = [r for r in records if r["category"] not in EXCLUDED]
    clean = by_category.get("clean", 0)
    unknown: dict[str, list[str]] = collections.defaultdict(list)
    for record in analysed:
        for op in record["unknown_ops"]:
            unknown[op].append(record["type"])
    warnings = collections.Counter()
    for record in analysed:
        text = " ".join(record.get("warnings", []))
        warnings["built on the cpu"] += "built on the cpu" in text
        warnings["analysed without a modality"] += "analysed without" in text
        warnings["fell back to another frontend"] += "fell back to" in text
    return {
        "types": len(records),
        "analysed": len(analysed),
        "clean": clean,
        "eligible": len(eligible),
        "clean_share_of_eligible": round(clean / len(eligible), 4) if eligible else 0.0,
        "by_category": {c: by_category[c] for c in CATEGORIES if by_category.get(c)},
        "primitives": {
            cls: sum(cls in r["circuit_class"] for r in analysed) for cls in sorted(CIRCUIT_CLASSES)
        },
        "site_kinds": {
            kind: sum(r["sites"].get(kind, 0) > 0 for r in analysed)
            for kind in ("contraction", "gating", "normalization")
        },
        # only where every op is known: an unknown op may hide a product (Reformer's
        # layers inside wrap_with_set_grad_enabled)
        "no_input_products": sorted(
            r["type"] for r in analysed if r["category"] == "clean" and not any(r["sites"].values())
        ),
        "unknown_ops": {op: sorted(types) for op, types in sorted(unknown.items())},
        "warnings": dict(warnings),
        "seconds_per_type": round(sum(r["seconds"] for r in records) / len(records), 2)
        if records
        else 0.0,
        "validation": summarise_validation(analysed),
    }


CSV_COLUMNS = (
    "type status category circuit_class contraction gating normalization degree "
    "unknown_ops device frontend nodes parameters shrink seconds error validation "
    "validation_seconds validation_reason validation_evidence"
).split()


def census_csv(document: dict[str, Any]) -> str:
    """One row per type (lists joined with spaces)."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in document["models"].values():
        sites = record.get("sites", {})
        row = {
            **record,
            **{k: sites.get(k, "") for k in ("contraction", "gating", "normalization")},
            "circuit_class": " ".join(record.get("circuit_class", [])),
            "unknown_ops": " ".join(record.get("unknown_ops", [])),
            "error": record.get("error", "").splitlines()[0] if record.get("error") else "",
            "shrink": shrink_of(record),
            **_validation_columns(record.get("validation")),
        }
        writer.writerow([row.get(column, "") for column in CSV_COLUMNS])
    return stream.getvalue()


def _validation_columns(validation: dict[str, Any] | None) -> dict[str, Any]:
    if not validation:
        return {}
    return {
        "validation": validation["verdict"],
        "validation_seconds": validation.get("seconds", ""),
        "validation_reason": validation.get("reason", ""),
        "validation_evidence": validation.get("evidence", ""),
    }


def shrink_of(record: dict[str, Any]) -> str:
    """How the type's model was built: ``widths``, ``layers``, ``none`` (its default
    config), or ``""`` where nothing was built.

    >>> shrink_of({"status": "analysed", "shrunk": {"n_layer": 2}, "shrink": "layers"})
    'layers'
    >>> shrink_of({"status": "analysed", "shrunk": {}})
    'none'
    """
    if record.get("status") != "analysed":
        return ""
    return str(record.get("shrink") or ("none" if not record.get("shrunk") else "?"))


def write_census(document: dict[str, Any], out: str | Path) -> None:
    """``census.json``, ``census.csv`` and ``index.html`` of a census document."""
    from analyzer.render.census import census_page

    folder = Path(out)
    page = census_page(document)
    table = census_csv(document)
    write_json_atomic(folder / "census.json", document)
    write_text_atomic(folder / "census.csv", table)
    write_text_atomic(folder / "index.html", page)


def load_census(path: str | Path) -> dict[str, Any]:
    """A stored ``census.json`` (checked to be one)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SpecError(f"cannot read census {str(path)!r}: {error}") from error
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise SpecError(f"{str(path)!r} is not an {SCHEMA} document")
    return document


__all__ = [
    "CATEGORIES",
    "CSV_COLUMNS",
    "EXCLUDED",
    "SCHEMA",
    "census_csv",
    "census_document",
    "load_census",
    "shrink_of",
    "summarise",
    "write_census",
]
