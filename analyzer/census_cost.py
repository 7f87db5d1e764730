"""The crossover length of a census type: where its input-by-input contractions (attention's
``Q·Kᵀ``, ``A·V``) cost as many multiply-adds as its static ones (``W·x``).

The model as the census built it (shrunk: the row's ``shrink`` says how; a crossover
depends on the widths, so that of a ``widths``-shrunk model is not the full model's) is
exported again with its sequence axis symbolic (:func:`analyzer.symbolic.cost.
trace_with_dims`), and the two totals are solved for ``seq`` (``cost --dim seq=N
--solve``). A model with no sequence axis, one whose code fixes it, or one that takes
longer than its budget gets the reason instead of a number.

>>> crossover_entry({"seq": []}, "0", "128*N")["reason"]
'no input-by-input contraction grows with the sequence'
>>> crossover_entry({"seq": []}, "512*N**2", "16384*N*u0 + 393216*N")["reason"]
'the totals depend on data-dependent sizes (u0), not on the sequence alone: no single crossover'
>>> import sympy
>>> crossover_entry({"seq": [sympy.Integer(768)]}, "512*N**2", "393216*N")["crossover"]
768.0
"""

from __future__ import annotations

import re
import time
from typing import Any

from analyzer.census_validation import _Deadline, deadline
from analyzer.errors import AnalyzerError


def crossover_entry(roots: dict[str, list[Any]], dynamic: str, static: str) -> dict[str, Any]:
    """The census's ``crossover`` entry from the solved roots and the two totals."""
    found = [r for r in roots.get("seq", []) if getattr(r, "is_number", True)]
    entry: dict[str, Any] = {"crossover": None, "reason": ""}
    if found:
        entry["crossover"] = float(min(found))
    elif dynamic == "0":
        entry["reason"] = "no input-by-input contraction grows with the sequence"
    elif _data_sizes(dynamic, static):
        entry["reason"] = (
            f"the totals depend on data-dependent sizes ({', '.join(_data_sizes(dynamic, static))}"
            "), not on the sequence alone: no single crossover"
        )
    else:
        entry["reason"] = "the two totals never meet at a positive length"
    entry.update(static=static, dynamic=dynamic)
    return entry


def _data_sizes(*totals: str) -> list[str]:
    """The symbols of the totals other than the sequence's ``N``: sizes that export could
    only bound from the data (``u0``: rows a mask selects, say)."""
    import sympy

    try:
        symbols = set().union(*(sympy.sympify(t, locals={"N": sympy.Symbol("N")}).free_symbols
                                for t in totals))  # fmt: skip
    except (sympy.SympifyError, TypeError, ValueError):
        return []
    return sorted(str(s) for s in symbols if str(s) != "N")


def crossover_of(built: Any, model_type: str, seconds: float) -> dict[str, Any]:
    """The ``crossover`` entry of a built hf model (never raises for the model's failures)."""
    from analyzer.analysis import analyze_traced
    from analyzer.symbolic.cost import cost_of_traced

    started = time.perf_counter()
    try:
        with deadline(seconds):
            traced, axes, sizes, longest = _exported(built, model_type)
            report = cost_of_traced(analyze_traced(traced), axes, sizes, solve=True)
            entry = crossover_entry(
                report.crossover, str(report.dynamic_contraction), str(report.static_contraction)
            )
            if longest is not None:
                entry["longest"] = longest
                if entry["crossover"] is not None and entry["crossover"] > longest:
                    entry["reason"] = (
                        f"beyond the longest sequence the model takes ({longest} tokens): its "
                        "static contractions cost more at every length it runs"
                    )
    except _Deadline:
        entry = {"crossover": None, "reason": f"not computed within {seconds:g} s"}
    except AnalyzerError as error:
        entry = {"crossover": None, "reason": _reason(str(error))}
    except Exception as error:  # the export refused the symbolic axis in its own way
        entry = {"crossover": None, "reason": f"{type(error).__name__}: {_first_line(str(error))}"}
    entry["seconds"] = round(time.perf_counter() - started, 2)
    return entry


_RANGE = re.compile(r"Try a range: --dim (seq=N:\d+\.\.(\d+))")


def _exported(built: Any, model_type: str) -> tuple[Any, Any, Any, int | None]:
    """The model exported with ``seq`` symbolic: ``(traced, axes, sizes, longest)``. A
    model whose code bounds the length (BERT's 512 positions) is exported again over the
    range export names, and ``longest`` is that bound (``None``: unbounded)."""
    from analyzer.errors import SpecError
    from analyzer.symbolic.cost import trace_with_dims

    def export(dim: str) -> tuple[Any, Any, Any]:
        return trace_with_dims(
            built.module, (), [dim], example_kwargs=built.inputs, model=f"hf:{model_type}",
            hf=True,
        )  # fmt: skip

    try:
        return (*export("seq=N"), None)
    except SpecError as error:
        bounded = _RANGE.search(str(error))
        if bounded is None:
            raise
        return (*export(bounded.group(1)), int(bounded.group(2)))


_NO_AXIS = re.compile(r"no input has a 'seq' axis \(inputs: ([^;)]*)")


def _reason(message: str) -> str:
    """The first line of an error, or, for a model without a sequence axis, that.

    >>> _reason("--dim seq=N: no input has a 'seq' axis (inputs: pixel_values [1, 3]; "
    ...         "known names here: batch); name the axis instead")
    'no sequence axis (inputs: pixel_values [1, 3])'
    """
    found = _NO_AXIS.search(message)
    if found is not None:
        return f"no sequence axis (inputs: {found.group(1).strip()})"
    return _first_line(message)


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


__all__ = ["crossover_entry", "crossover_of"]
