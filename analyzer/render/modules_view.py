"""The module view: one node per module, cut at ``depth`` path components, repeated
blocks folded into one ``×N`` node, a module's own ops between its children's calls
(a residual addition) drawn as their own small node, and the edge from one instance
of a folded block to the next dashed."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import networkx as nx

from analyzer.render.folding import (
    collapse_module,
    display_module,
    first_instance,
    repeated_containers,
    repeats,
)
from analyzer.render.graphstyle import (
    CLASS_COLOURS,
    PRIORITY,
    REPEAT_STYLE,
    RESIDUAL_OPS,
    SITE_COLOUR,
    TRANSPOSE_COLOUR,
    Drawing,
    _attributes,
    _classes,
    _edge,
    _marks,
    _shape,
    drawn_nodes,
)

# --- module view -------------------------------------------------------------------


def _cut(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth]) if module else ""


def _child_instance(parent: str, module: str) -> str:
    """The child of ``parent`` on the way to ``module``, a list index kept with its list:
    under ``""``, ``layers.7.mlp`` is in ``layers.7``."""
    parts = module.split(".")
    start = len(parent.split(".")) if parent else 0
    end = start + 1
    if end < len(parts) and parts[end].isdigit():
        end += 1
    return ".".join(parts[:end])


def _module_view(graph: nx.DiGraph, depth: int, parameters: dict[str, int]) -> Drawing:
    names = drawn_nodes(graph)
    containers = repeated_containers(graph.nodes[n]["module"] for n in names)
    instance = {n: _cut(graph.nodes[n]["module"], depth) for n in names}
    base = {n: collapse_module(instance[n], containers) for n in names}
    bases = set(base.values())
    parents = {
        b for b in bases if any(o != b and (b == "" or o.startswith(b + ".")) for o in bases)
    }

    # A parent module's own ops are split at the calls of its children: the ops after
    # ``self_attn`` (a residual add) form one unit, those after ``mlp`` another.
    unit: dict[str, str] = {}
    anchor: dict[str, str] = {}  # the instance path that places a node among repetitions
    last_child: dict[str, str] = {}
    for name in names:
        data = graph.nodes[name]
        if data["primitive"] in ("input", "output"):
            unit[name] = anchor[name] = f"{data['primitive']}:{name}"
            continue
        path = instance[name]
        for parent in _ancestors(path):
            if parent != path and collapse_module(parent, containers) in parents:
                last_child[parent] = _child_instance(parent, path)
        if base[name] in parents:
            previous = last_child.get(path, "")
            unit[name] = f"{base[name]}|{collapse_module(previous, containers)}"
            anchor[name] = previous or path
        else:
            unit[name] = base[name]
            anchor[name] = path

    members: dict[str, list[str]] = defaultdict(list)
    for name in names:
        members[unit[name]].append(name)
    idents = {key: f"u{i}" for i, key in enumerate(members)}
    lines, info = [], {}
    for key, group in members.items():
        line, facts = _unit_node(key, [graph.nodes[m] for m in group], idents[key], containers,
                                 parameters)  # fmt: skip
        lines.append(line)
        info[idents[key]] = facts

    flows: dict[tuple[str, str], dict[str, bool]] = {}
    for source, target, data in graph.edges(data=True):
        if source in unit and target in unit and unit[source] != unit[target]:
            pair = (idents[unit[source]], idents[unit[target]])
            flags = flows.setdefault(pair, {"witness": False, "repeat": False, "forward": False})
            if _next_instance(anchor[source], anchor[target], containers):
                flags["repeat"] = True
            else:
                flags["forward"] = True
                flags["witness"] = flags["witness"] or data["witness"]
    edges: dict[tuple[str, str], str] = {}
    for (a, b), flags in sorted(flows.items()):
        if flags["forward"]:
            style = {"color": SITE_COLOUR, "penwidth": 2} if flags["witness"] else {}
            lines.append(_edge(a, b, edges, **style))
        else:  # only ever to the next instance of a folded block
            lines.append(_edge(a, b, edges, **REPEAT_STYLE))
    nodes = [graph.nodes[n] for n in names]
    return Drawing(
        modules=_module_rows(graph, names, base, containers, parameters),
        dot="\n".join(lines),
        level="modules",
        idents={name: idents[unit[name]] for name in names},
        info=info,
        edges=edges,
        classes=_classes(nodes),
        marks=_marks(
            [n for n in nodes if n["primitive"] in ("input", "output")],
            site=any("sites" in facts for facts in info.values()),
            feeds_unit=any("transposes" in f and "sites" not in f for f in info.values()),
            witness=any(f["witness"] and f["forward"] for f in flows.values()),
            repeat=any(f["repeat"] and not f["forward"] for f in flows.values()),
            residual=any(facts.get("residual") for facts in info.values()),
        ),
    )


def _module_rows(
    graph: nx.DiGraph,
    names: list[str],
    base: dict[str, str],
    containers: dict[str, list[int]],
    parameters: dict[str, int],
) -> list[dict[str, Any]]:
    """One row per drawn module, a repeated block once, its counts per instance."""
    members: dict[str, list[dict]] = defaultdict(list)
    for name in names:
        data = graph.nodes[name]
        if data["primitive"] not in ("input", "output"):
            members[base[name]].append(data)
    rows = []
    for pattern, group in members.items():
        count = repeats(pattern, containers)
        classes = Counter(m["primitive"] for m in group)
        sites: Counter[str] = Counter()
        for m in group:
            if m["site"]:
                sites[m["site"]] += m["sites"]
        rows.append(
            {
                "module": display_module(pattern, containers),
                "parameters": parameters.get(first_instance(pattern, containers)),
                "each": count > 1,
                "ops": ", ".join(
                    f"{c} {_per(n, count)}" for c, n in sorted(classes.items()) if c != "structural"
                )
                or "structural",
                "sites": ", ".join(f"{_per(n, count)} {k}" for k, n in sorted(sites.items())),
            }
        )
    return rows


def _per(total: int, count: int) -> int:
    """Per instance when the total divides evenly among the instances, else the total."""
    return total // count if count > 1 and total % count == 0 else total


def _ancestors(path: str) -> list[str]:
    parts = path.split(".") if path else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def _next_instance(a: str, b: str, containers: dict[str, list[int]]) -> bool:
    """Whether ``a`` and ``b`` sit in different instances of one repeated block
    (``layers.3…`` and ``layers.4…``): an edge between them goes to the next repetition."""
    if a.startswith(("input:", "output:")) or b.startswith(("input:", "output:")):
        return False
    left, right = a.split(".") if a else [], b.split(".") if b else []
    for i, (x, y) in enumerate(zip(left, right, strict=False)):
        if x != y:
            return x.isdigit() and y.isdigit() and ".".join(left[:i]) in containers
    return False


def _unit_node(
    key: str, members: list[dict], ident: str, containers: dict, parameters: dict[str, int]
) -> tuple[str, dict[str, Any]]:
    if key.startswith(("input:", "output:")):
        kind, _, name = key.partition(":")
        data = members[0]
        shape = _shape(data)
        attributes = _attributes(label=name, shape="ellipse", style="filled",
                                 fillcolor="#ffffff", id=ident, tooltip=kind)  # fmt: skip
        facts = {"title": name, "class": kind, "shape": shape, "dependence": data["dependence"]}
        return f"  {ident} {attributes};", {k: v for k, v in facts.items() if v}
    pattern, split, after = key.partition("|")
    count = repeats(pattern, containers)
    label = display_module(pattern, containers)
    classes = Counter(m["primitive"] for m in members)
    sites: Counter[str] = Counter()
    for m in members:
        if m["site"]:
            sites[m["site"]] += m["sites"]
    feeding = sum(1 for m in members if m["transpose"] == "feeds")
    each = " each" if count > 1 else ""

    def per(n: int) -> int:
        return n // count if count > 1 and n % count == 0 else n

    body = ", ".join(f"{c} {per(n)}" for c, n in sorted(classes.items()) if c != "structural")
    site_text = ", ".join(
        f"{per(n)} {k} site{'s' if per(n) > 1 else ''}" for k, n in sorted(sites.items())
    )
    facts: dict[str, Any] = {"title": label, "module": pattern or "(root)",
                             "ops": body or "structural", "instances": count}  # fmt: skip
    if site_text:
        facts["sites"] = site_text + each
    if feeding:
        facts["transposes"] = f"{per(feeding)} feeding a contraction{each}"
    held = parameters.get(first_instance(pattern, containers))
    if held is not None and not split:
        facts["parameters"] = f"{held:,}{each}"
    residual = bool(split) and {m["op"] for m in members} <= RESIDUAL_OPS
    if split:
        where = display_module(after, containers).split(" ×")[0] if after else "the start"
        facts["after"] = where
    if residual:
        attributes: dict[str, object] = {
            "label": "+", "shape": "circle", "style": "filled",
            "fillcolor": CLASS_COLOURS["elementwise"], "width": 0.3, "fixedsize": "true",
            "fontsize": 12, "id": ident, "class": "residual",
            "tooltip": f"{label}: residual addition after {facts['after']}",
        }  # fmt: skip
        facts["title"] = f"{label}: residual addition"
        facts["residual"] = True
        return f"  {ident} {_attributes(**attributes)};", facts
    main = next((c for c in PRIORITY if classes.get(c)), "structural")
    text = label + (f"\n(after {facts['after']})" if split else "")
    text += f"\n{body or 'structural'}{each if body else ''}"
    if site_text:
        text += f"\n{site_text}{each}"
    attributes = {"label": text, "fillcolor": CLASS_COLOURS[main], "id": ident,
                  "tooltip": label, "class": f"class-{main}"}  # fmt: skip
    if sites:
        attributes.update(color=SITE_COLOUR, penwidth=3, **{"class": "site"})
    elif feeding:
        attributes.update(color=TRANSPOSE_COLOUR, penwidth=2, **{"class": "dynamic-transpose"})
    return f"  {ident} {_attributes(**attributes)};", facts
