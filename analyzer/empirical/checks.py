"""The measurements: derivatives of every watched value at random points, by forward-mode AD.

Two passes over the samples, each a per-sample function batched by
:class:`~analyzer.empirical.batching.Batcher`:

* :func:`measure_mixed` — one nested ``jvp`` along two directions ``u`` and ``v`` whose
  supports are disjoint sets of input entries. It gives, for every node, its value and
  its tangents along ``u`` and ``v`` (dependence), the output's mixed derivative
  ``uᵀ∇²y·v`` (which, with disjoint supports, contains only cross-entry terms
  ``∂²y/∂xᵢ∂xⱼ``, ``i ≠ j``) and, for every site, the *node-local* mixed derivative: the
  site's op re-run on its operands perturbed by their first-order tangents,
  ``∂²/∂s∂t f(a + s·ȧᵤ + t·ȧᵥ, b + s·ḃᵤ + t·ḃᵥ)``. That is non-zero exactly when the op
  multiplies an entry reached by ``u`` with one reached by ``v`` (``x·x`` gives
  ``uᵢvᵢ = 0``; ``W·layer_norm(x)`` gives 0: the operand's own curvature is left out).
* :func:`measure_degrees` — derivatives ``dᵏ/dtᵏ`` of every node along random lines
  ``x₀ + t·d`` up to order ``cap + 1`` by nested ``jvp``; autograd's exact zeros keep
  piecewise-linear models at degree 1.

Every value is reduced to a scalar by a fixed random rank-one projection, at samples
drawn by :mod:`analyzer.empirical.sampling`.

>>> x = torch.randn(2, 3, dtype=torch.float64)
>>> drawn = Samples.draw((x,), count=4, seed=0)
>>> bool(torch.equal(drawn.points[0][0], x)), bool((drawn.u[0] * drawn.v[0] == 0).all())
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from torch.func import jvp

from analyzer.empirical.execute import Program, is_real_valued, main_tensor, out_of_place
from analyzer.empirical.ops import _grouped
from analyzer.empirical.products import Candidate, rank_evidence
from analyzer.empirical.sampling import Projector, Samples, _projection
from analyzer.passes.sites import Site


@dataclass
class SiteProbe:
    """How to re-run one site's product on its operands."""

    site: Site
    key: str  # its value's key (a node name, or "node.scores" for a fused part)
    operand_keys: tuple[str, ...]  # what the JSON calls its operands, as observed values
    varying: tuple[str, ...]  # the keys perturbed in the local mixed derivative
    function: Callable[..., torch.Tensor]
    real_valued: bool = True  # False: a boolean or integer value, never differentiated


def site_probes(program: Program, sites: list[Site]) -> tuple[list[SiteProbe], dict[str, Any]]:
    """One probe per site (a candidate product is probed as a site of kind
    ``candidate``), and the values of the static operands they need (a plain run)."""
    probes = []
    needed: set[str] = set()
    for site in sites:
        node = site.node
        if site.part == "scores":
            query, key = site.operands
            keys = (query.name, key.name)
            probes.append(SiteProbe(site, f"{node.name}.scores", keys, keys, _scores))
        elif site.part == "mix":
            keys = tuple(site.operand_names)
            probes.append(SiteProbe(site, node.name, keys, keys, _mix))
        else:
            operands = [n for n in _operand_nodes(node) if isinstance(n, fx.Node)]
            varying = tuple(n.name for n in operands if n in program.varying)
            needed |= {n.name for n in operands if n not in program.varying}
            function = _node_function(program, node, varying)
            names = tuple(n.name for n in site.operands)
            real = _real_output(node)
            probes.append(SiteProbe(site, node.name, names, varying, function, real))
    static: dict[str, Any] = {}
    if needed:
        program.run(program.source_values, static.__setitem__, frozenset(needed))
    for probe in probes:
        if isinstance(probe.function, _NodeFunction):
            probe.function.static = static
    return probes, static


def _operand_nodes(node: fx.Node) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return list(dict.fromkeys(found))


def _real_output(node: fx.Node) -> bool:
    """Whether a node computes a floating-point or complex value (a boolean or integer
    one has no derivative: a site there is never confirmed, and never differentiated)."""
    leaves = torch.utils._pytree.tree_leaves(node.meta.get("val"))
    tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
    return not tensors or any(is_real_valued(t) for t in tensors)


def _scores(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    return query @ _grouped(query, key).transpose(-2, -1)


def _mix(weights: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    return weights @ _grouped(weights, value)


class _NodeFunction:
    """The node's own op (as the executor runs it) with its varying operands as arguments."""

    def __init__(self, program: Program, node: fx.Node, varying: tuple[str, ...]) -> None:
        self.program, self.node, self.varying = program, node, varying
        self.static: dict[str, Any] = {}

    def __call__(self, *values: torch.Tensor) -> torch.Tensor:
        from analyzer.empirical.execute import retarget

        given = dict(zip(self.varying, values, strict=True))
        env = {**self.static, **given}
        args, kwargs = fx.node.map_arg((self.node.args, self.node.kwargs), lambda n: env[n.name])
        args, kwargs = retarget((args, kwargs), self.program.device)
        functional = out_of_place(self.node.target)
        if functional is not None:  # an in-place site: its value, without the mutation
            value = functional(*args, **kwargs)
        else:
            value = self.program.call_node(self.node, args, kwargs)
        value = getattr(value, "value", value)  # a fused op's value without its inner values
        members = [
            t.reshape(-1)
            for t in torch.utils._pytree.tree_leaves(value)
            if isinstance(t, torch.Tensor) and is_real_valued(t)
        ]
        if not members:  # a boolean or integer value: nothing to differentiate
            return torch.zeros(0, dtype=torch.float64, device=self.program.device)
        return members[0] if len(members) == 1 else torch.cat(members)


def _node_function(program: Program, node: fx.Node, varying: tuple[str, ...]) -> _NodeFunction:
    return _NodeFunction(program, node, varying)


@dataclass
class Mixed:
    """Per sample: node values and tangents (projected), output cross term, site terms."""

    values: torch.Tensor  # (samples, nodes)
    tangent_u: torch.Tensor  # (samples, nodes)
    tangent_v: torch.Tensor
    output_cross: torch.Tensor  # (samples,)
    site_local: torch.Tensor  # (samples, sites)
    operand_tangents: torch.Tensor  # (samples, operands): max |tangent| along u or v
    operand_keys: list[str]  # the columns of operand_tangents
    candidate_evidence: torch.Tensor  # (samples, candidates): see analyzer.empirical.products


def measure_mixed(
    program: Program,
    keys: list[str],
    probes: list[SiteProbe],
    project: Projector,
    samples: Samples,
    batcher: Any,
    task: Any = None,
    candidates: list[Candidate] = (),  # type: ignore[assignment]
    candidate_probes: dict[str, SiteProbe] | None = None,
) -> Mixed:
    """The nested ``jvp`` pass (see the module doc); ``keys`` are the watched values,
    the last one being ``"output"``. ``candidates`` are multiplying nodes analyze did not
    publish (:mod:`analyzer.empirical.products`); ``candidate_probes`` re-run the
    ``local`` ones."""
    candidate_probes = candidate_probes or {}
    operand_keys = list(
        dict.fromkeys(
            [k for p in probes for k in (*p.varying, *p.operand_keys)]
            + [k for c in candidates for k in c.factors]
            + [k for p in candidate_probes.values() for k in p.varying]
        )
    )
    captured_keys = frozenset(keys) | frozenset(operand_keys) | {p.key for p in probes}
    count = len(program.sources)

    def per_sample(*stacked: torch.Tensor) -> tuple[torch.Tensor, ...]:
        point, u, v = stacked[:count], stacked[count : 2 * count], stacked[2 * count :]

        def captured(*x: torch.Tensor) -> tuple[Any, ...]:
            found: dict[str, Any] = {}
            output = program.run(x, found.__setitem__, captured_keys)
            found["output"] = output
            projections = torch.stack([_projection(project, k, found.get(k)) for k in keys])
            operands = tuple(_operand(found.get(k), x) for k in operand_keys)
            return projections, operands

        def first(*x: torch.Tensor) -> Any:
            return jvp(captured, x, u)

        (primal, along_u), (along_v, mixed) = jvp(first, point, v)
        projections, operands = primal
        tangent_u, operands_u = along_u
        tangent_v, operands_v = along_v
        position = {k: i for i, k in enumerate(operand_keys)}
        local = []
        for probe in probes:
            at = [operands[position[k]] for k in probe.varying]
            tu = [operands_u[position[k]] for k in probe.varying]
            tv = [operands_v[position[k]] for k in probe.varying]
            local.append(_local_mixed(probe, project, at, tu, tv))
        sizes = [
            torch.maximum(_amax(operands_u[position[k]]), _amax(operands_v[position[k]]))
            for k in operand_keys
        ]
        evidence = []
        for candidate in candidates:
            if candidate.test == "contraction":
                evidence.append(torch.stack([sizes[position[k]] for k in candidate.factors]).amin())
            elif candidate.test == "rank":
                assert candidate.factor_of is not None
                pick = [position[k] for k in candidate.factors]
                pair_u = candidate.factor_of([operands_u[i] for i in pick])
                pair_v = candidate.factor_of([operands_v[i] for i in pick])
                evidence.append(rank_evidence(pair_u, pair_v))
            else:
                probe = candidate_probes[candidate.node.name]
                at = [operands[position[k]] for k in probe.varying]
                tu = [operands_u[position[k]] for k in probe.varying]
                tv = [operands_v[position[k]] for k in probe.varying]
                evidence.append(_local_mixed(probe, project, at, tu, tv))
        empty = projections.new_zeros(0)
        return (
            projections,
            tangent_u,
            tangent_v,
            mixed[0][-1],
            torch.stack(local) if local else empty,
            torch.stack(sizes) if sizes else empty,
            torch.stack(evidence) if evidence else empty,
        )

    values, tu, tv, cross, local, sizes, evidence = batcher(
        per_sample, *samples.points, *samples.u, *samples.v, task=task
    )
    return Mixed(values, tu, tv, cross, local, sizes, operand_keys, evidence)


def _amax(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.abs().amax() if tensor.numel() else tensor.new_zeros(())


def _operand(value: Any, x: tuple[torch.Tensor, ...]) -> torch.Tensor:
    tensor = main_tensor(value)
    if tensor is None or not is_real_valued(tensor):
        return x[0].new_zeros(())
    return tensor


DIFFERENCE_STEP = 1e-3  # of the tangents, which are scaled to each source's own size


def _local_mixed(probe: SiteProbe, project: Projector, at, tu, tv) -> torch.Tensor:
    if not at or not probe.real_valued:
        return torch.zeros((), dtype=torch.float64, device=project.device)
    if _by_differences(probe):  # nested jvp of a finite difference is not a second derivative
        h = DIFFERENCE_STEP

        def shifted(s: float, t: float) -> torch.Tensor:
            return probe.function(
                *(a + (s * h) * u + (t * h) * v for a, u, v in zip(at, tu, tv, strict=True))
            )

        # the central mixed difference: exact for a bilinear product at any step, and
        # exactly zero for an op that is pointwise (u and v have disjoint supports)
        second = (shifted(1, 1) - shifted(1, -1) - shifted(-1, 1) + shifted(-1, -1)) / (4 * h * h)
        return project(probe.key, second)

    def along_u(*operands: torch.Tensor) -> torch.Tensor:
        return jvp(probe.function, tuple(operands), tuple(tu))[1]

    second = jvp(along_u, tuple(at), tuple(tv))[1]
    return project(probe.key, second)


def _by_differences(probe: SiteProbe) -> bool:
    """Whether the probe's node runs through finite differences (first order only)."""
    function = probe.function
    if not isinstance(function, _NodeFunction):
        return False
    fallback = function.program.fallbacks.get(function.node)
    return fallback is not None and fallback.how == "finite differences"


def measure_degrees(
    program: Program,
    keys: list[str],
    project: Projector,
    samples: Samples,
    cap: int,
    batcher: Any,
    task: Any = None,
) -> torch.Tensor:
    """``(samples, cap + 2, nodes)``: projected derivatives of orders ``0 … cap + 1``."""
    count = len(program.sources)
    watched = frozenset(keys)

    def per_sample(*stacked: torch.Tensor) -> torch.Tensor:
        point, direction = stacked[:count], stacked[count:]

        def along_line(t: torch.Tensor) -> torch.Tensor:
            x = tuple(p + t * d for p, d in zip(point, direction, strict=True))
            found: dict[str, Any] = {}
            found["output"] = program.run(x, found.__setitem__, watched)
            return torch.stack([_projection(project, k, found.get(k)) for k in keys])

        # G_k(t) = (f, f', …, f^(k)); one jvp of G_k gives G_{k+1}
        def series(order: int) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
            if order == 0:
                return lambda t: (along_line(t),)
            lower = series(order - 1)

            def higher(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
                primal, tangent = jvp(lower, (t,), (torch.ones_like(t),))
                return (*primal, tangent[-1])

            return higher

        t0 = point[0].new_zeros((), dtype=torch.float64)
        return torch.stack(series(cap + 1)(t0))

    return batcher(per_sample, *samples.points, *samples.lines, task=task)


def moved_by_integer_inputs(program: Program, project: Projector, seed: int) -> set[str]:
    """Nodes whose value changes when each integer input's entries are shuffled (the same
    values, so indices stay in range) with the continuous sources held at the example:
    dependence on the integer inputs, which no derivative sees. Empty when the model has
    no integer input, or cannot run on the shuffled one."""
    from analyzer.frontend.dialect import InputKind

    inputs = [
        (i, n) for i, n in enumerate(program.graph.nodes)
        if n.op == "placeholder" and program.traced.input_kinds.get(n.name) is InputKind.INPUT
        and isinstance(program.placeholder_args[_position(program, n)], torch.Tensor)
        and not is_real_valued(program.placeholder_args[_position(program, n)])
        and program.placeholder_args[_position(program, n)].numel() > 1
    ]  # fmt: skip
    if not inputs:
        return set()
    generator = torch.Generator().manual_seed(seed + 1)
    shuffled = dict(
        (node, _shuffle(program.placeholder_args[_position(program, node)], generator))
        for _, node in inputs
    )
    sources = dict(zip(program.sources, program.source_values, strict=True))
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    try:
        with torch.no_grad():
            program.run_with(sources, before.__setitem__, None)
            program.run_with({**shuffled, **sources}, after.__setitem__, None)
    except Exception:  # the model rejects the shuffled input: nothing to compare
        return set()
    moved = set()
    for key, value in before.items():
        if "." in key or key not in after:
            continue
        try:
            first, second = _projection(project, key, value), _projection(project, key, after[key])
        except (AssertionError, RuntimeError):
            continue
        same = bool(first == second) or bool(torch.isnan(first) and torch.isnan(second))
        if not same and not bool(torch.isclose(first, second, rtol=1e-12, atol=0.0)):
            moved.add(key)
    return moved


def _position(program: Program, node: fx.Node) -> int:
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    return placeholders.index(node)


def _shuffle(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flat = tensor.reshape(-1)
    order = torch.randperm(flat.numel(), generator=generator).to(flat.device)
    shuffled = flat[order]
    if torch.equal(shuffled, flat):  # a constant tensor (an all-ones mask): nothing to move
        return tensor
    return shuffled.reshape(tensor.shape)
