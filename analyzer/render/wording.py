"""Words every view shares: the title with its overrides, input shapes, parameter
counts, shortened source paths, the classes a fused op implies, what "piecewise" means.

>>> short_source("/usr/lib/python3/site-packages/transformers/models/llama/x.py:66: y = a * b")
('transformers/models/llama/x.py:66', 'y = a * b')
>>> describe_inputs([{"name": "x", "shape": [2, 16], "dtype": "float32"}])
'x float32[2, 16]'
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from analyzer.frontend.dialect import op_name
from analyzer.passes.facts import Dependence
from analyzer.passes.registry_lookup import entry_for
from analyzer.render.folding import display_module, repeated_containers

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

PIECEWISE = (
    "piecewise: a ReLU-like kink or a data-dependent selection lies on the way, so the "
    "output is this polynomial only piece by piece"
)
_SOURCE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):?\s*(?P<code>.*)$")
_PACKAGE_ROOTS = ("site-packages/", "dist-packages/")


def title(document: dict[str, Any]) -> tuple[str, str]:
    """The model and its overrides (``num_hidden_layers=32, hidden_size=64``)."""
    config = document.get("metadata", {}).get("config") or {}
    return document["model"], ", ".join(f"{key}={value}" for key, value in config.items())


def degree_reasons(document: dict[str, Any], most: int = 4) -> str:
    """Why the degree is what it is: the first op on each path that makes the output
    non-polynomial or piecewise (the analysis JSON's ``degree_reasons``); "" when neither.

    >>> degree_reasons({"degree_reasons": {"infinite": ["tanh (aten.tanh)"],
    ...                                    "piecewise": ["relu (aten.relu)"]}})
    'not a polynomial from tanh (aten.tanh); piecewise from relu (aten.relu)'
    """
    reasons = document.get("degree_reasons") or {}
    said = []
    for key, words in (("infinite", "not a polynomial from"), ("piecewise", "piecewise from")):
        ops = list(reasons.get(key, []))
        if ops:
            more = f" and {len(ops) - most} more" if len(ops) > most else ""
            said.append(f"{words} {', '.join(ops[:most])}{more}")
    return "; ".join(said)


def describe_inputs(inputs: list[dict[str, Any]]) -> str:
    """``input_ids int64[1, 16], mask bool[1, 16]``."""
    return ", ".join(
        f"{item['name']} {item.get('dtype') or '?'}[{', '.join(map(str, item.get('shape') or []))}]"
        for item in inputs
    )


def describe_parameters(metadata: dict[str, Any]) -> str:
    """``138,048 parameters`` or ``""`` when the trace does not say."""
    count = metadata.get("parameters")
    return f"{count:,} parameters" if isinstance(count, int) else ""


def parameters_by_block(metadata: dict[str, Any]) -> str:
    """The model's top-level modules with their parameters, a repeated block once:
    ``embed_tokens 64,000; layers.{0…31} ×32 36,992 each; norm 64``.

    >>> parameters_by_block({"parameters_by_module": {"embed": 40, "layers": 60,
    ...     "layers.0": 20, "layers.1": 20, "layers.2": 20, "head": 8}})
    'embed 40; layers.{0…2} ×3 20 each; head 8'
    """
    counts = metadata.get("parameters_by_module")
    if not isinstance(counts, dict):
        return ""
    containers = repeated_containers(counts)
    parts = []
    for path, count in counts.items():
        if "." in path or not path:
            continue
        if path in containers:
            instances = [counts.get(f"{path}.{i}") for i in containers[path]]
            label = display_module(f"{path}.*", containers)
            if len(set(instances)) == 1 and instances[0] is not None:
                parts.append(f"{label} {instances[0]:,} each")
                continue
        parts.append(f"{path} {count:,}")
    return "; ".join(parts)


def short_source(source: str) -> tuple[str, str]:
    """``(place, code)`` of a ``path:line: code`` source line, the path cut to what
    follows ``site-packages/`` (the package-relative path) or its last three parts."""
    match = _SOURCE.match(source or "")
    if not match:
        return source or "", ""
    path, line, code = match.group("path"), match.group("line"), match.group("code")
    for root in _PACKAGE_ROOTS:
        if root in path:
            path = path.rsplit(root, 1)[1]
            break
    else:
        parts = path.split("/")
        if path.startswith("/") and len(parts) > 4:
            path = "…/" + "/".join(parts[-3:])
    return f"{path}:{line}", code.strip()


def implied_classes(analysis: Analysis) -> dict[str, list[str]]:
    """Classes that fused ops on the input's path contain besides their own, with the
    ops (``{"nonlinearity": ["aten.lstm"]}``): counted in the primitive set, not as ops."""
    found: dict[str, set[str]] = defaultdict(set)
    for node in analysis.classes:
        if analysis.facts[node].dependence is not Dependence.CONTINUOUS:
            continue
        entry = entry_for(node)
        if entry is not None:
            for cls in entry.implies:
                found[cls].add(op_name(node))
    return {cls: sorted(ops) for cls, ops in sorted(found.items())}


def fold_path(path: list[str], head: int = 2, tail: int = 4) -> list[str]:
    """A long witness path cut in the middle: ``[a, b, '… 12 more …', w, x, y, z]``.

    >>> fold_path(list("abcdefghij"))
    ['a', 'b', '… 4 more …', 'g', 'h', 'i', 'j']
    """
    if len(path) <= head + tail + 1:
        return list(path)
    return [*path[:head], f"… {len(path) - head - tail} more …", *path[-tail:]]
