"""Folding repeated blocks: ``layers.0 … layers.79`` read as one ``layers.{0…79} ×80``.

Every view of a deep model (the module graph, the site and transpose tables, the module
table) folds the same way, so a reader sees one block and how often it repeats, and can
unfold it to the instances.

>>> containers = repeated_containers(["layers.0.mlp", "layers.1.mlp", "layers.2.mlp", "norm"])
>>> containers
{'layers': [0, 1, 2]}
>>> collapse_module("layers.1.mlp", containers), display_module("layers.*.mlp", containers)
('layers.*.mlp', 'layers.{0…2}.mlp ×3')
>>> [(g.label, len(g.items)) for g in fold(["layers.0.mlp", "layers.1.mlp", "layers.2.mlp",
...                                          "norm"], str, containers)]
[('layers.{0…2}.mlp ×3', 3), ('norm', 1)]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_INDEX = re.compile(r"^\d+$")
T = TypeVar("T")


def repeated_containers(modules: Iterable[str], minimum: int = 3) -> dict[str, list[int]]:
    """Module-list prefixes with at least ``minimum`` numbered children.

    >>> repeated_containers(["layers.0.mlp", "layers.1.mlp", "layers.2", "head"])
    {'layers': [0, 1, 2]}
    """
    children: dict[str, set[int]] = defaultdict(set)
    for module in modules:
        parts = module.split(".") if module else []
        for i, part in enumerate(parts):
            if _INDEX.match(part):
                children[".".join(parts[:i])].add(int(part))
    return {p: sorted(c) for p, c in sorted(children.items()) if len(c) >= minimum}


def collapse_module(module: str, containers: dict[str, list[int]]) -> str:
    """Replace the index after a repeated container with ``*``: ``layers.7.mlp`` →
    ``layers.*.mlp``."""
    parts = module.split(".") if module else []
    for i, part in enumerate(parts):
        if _INDEX.match(part) and ".".join(parts[:i]) in containers:
            parts[i] = "*"
    return ".".join(parts)


def repeats(pattern: str, containers: dict[str, list[int]]) -> int:
    """How many instances a collapsed module path stands for."""
    count = 1
    parts = pattern.split(".") if pattern else []
    for i, part in enumerate(parts):
        if part == "*" and ".".join(parts[:i]) in containers:
            count *= len(containers[".".join(parts[:i])])
    return count


def first_instance(pattern: str, containers: dict[str, list[int]]) -> str:
    """The first instance a collapsed path stands for: ``layers.*.mlp`` → ``layers.0.mlp``."""
    parts = pattern.split(".") if pattern else []
    for i, part in enumerate(parts):
        prefix = ".".join(parts[:i])
        if part == "*" and prefix in containers:
            parts[i] = str(containers[prefix][0])
    return ".".join(parts)


def index_set(indices: list[int]) -> str:
    """The indices of a folded block: a run of consecutive ones as ``{0…4}``, others
    listed, so that layers 0, 2 and 4 never read as five layers.

    >>> index_set([0, 1, 2, 3]), index_set([0, 2, 4])
    ('{0…3}', '{0,2,4}')
    """
    ordered = sorted(indices)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{{{ordered[0]}…{ordered[-1]}}}"
    return "{" + ",".join(map(str, ordered)) + "}"


def display_module(pattern: str, containers: dict[str, list[int]]) -> str:
    """``layers.*.mlp`` → ``layers.{0…79}.mlp ×80``; the root module is ``(root)``."""
    if not pattern:
        return "(root)"
    parts = pattern.split(".")
    for i, part in enumerate(parts):
        prefix = ".".join(parts[:i])
        if part == "*" and prefix in containers:
            parts[i] = index_set(containers[prefix])
    count = repeats(pattern, containers)
    return ".".join(parts) + (f" ×{count}" if count > 1 else "")


@dataclass
class Group(Generic[T]):
    """Items whose modules are instances of one repeated block (or one plain module)."""

    pattern: str  # the collapsed module path, ``layers.*.self_attn``
    label: str  # how to show it, ``layers.{0…31}.self_attn ×32``
    repeats: int  # instances of the block
    items: list[T] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        """Whether the group stands for several instances (worth a fold)."""
        return self.repeats > 1 and len(self.items) > 1


def fold(
    items: Iterable[T], module_of: Callable[[T], str], containers: dict[str, list[int]]
) -> list[Group[T]]:
    """Group ``items`` by the collapsed module of each, in order of first appearance."""
    groups: dict[str, Group[T]] = {}
    for item in items:
        pattern = collapse_module(module_of(item), containers)
        if pattern not in groups:
            groups[pattern] = Group(
                pattern, display_module(pattern, containers), repeats(pattern, containers)
            )
        groups[pattern].items.append(item)
    return list(groups.values())
