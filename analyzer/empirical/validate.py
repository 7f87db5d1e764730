"""The empirical backend: check every static claim by differentiating the real model.

DESIGN.md §4. The traced, decomposed graph runs as a function of its continuous
sources (:mod:`analyzer.empirical.execute`) in float64, and ``torch.func`` batches every check
over samples with ``vmap``:

* **dependence** — forward-mode AD (``jvp``) from random source tangents, of a random
  linear projection of every node's value (zero exactly when the node's tangent is, almost
  surely; no activation is kept, so memory stays that of one forward pass). A non-zero
  tangent at a node called
  ``static``/``discrete`` is a *violation*; a ``continuous`` node whose tangent is always
  zero is *unconfirmed* (allowed: the static pass over-approximates).
* **degree** — derivatives ``d^k/dt^k y(x0 + t·u)`` by nested ``jvp`` up to a cap; the
  empirical degree is the smallest ``k`` whose next derivative vanishes at every sample.
* **sites** — a site is *confirmed* when its operands have non-zero tangents and a random
  projection of its value has a non-zero mixed second derivative along two directions.
* **cross-entry terms** — ``∂²s/∂xᵢ∂xⱼ`` for sampled pairs ``i ≠ j`` of a random
  projection ``s`` of the output, from Hessian-vector products.

>>> from analyzer.frontend.zoo import build_zoo_model
>>> report = validate(*build_zoo_model("linear_attention"), samples=4)
>>> report.agree, report.degree_empirical
(True, '3')
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch.func import grad, jvp, vmap

from analyzer.analysis import Analysis, analyze_traced
from analyzer.empirical.execute import SourceProgram
from analyzer.errors import SpecError
from analyzer.frontend.tracing import trace
from analyzer.passes.facts import INF, Dependence, format_degree

SCHEMA = "analyzer.validation/1"
RELATIVE_TOLERANCE = 1e-8  # float64: a vanishing derivative is ~1e-16 of its scale


@dataclass
class SiteCheck:
    node: str
    kind: str
    module: str
    operands_vary: bool
    mixed_derivative: float

    @property
    def confirmed(self) -> bool:
        return self.operands_vary and self.mixed_derivative > 0


@dataclass
class ValidationReport:
    """The measurements and verdicts of one validation (``to_json`` is the schema)."""

    model: str
    device: str
    dtype: str
    samples: int
    max_degree: int
    degree_static: str
    degree_empirical: str
    derivative_norms: list[float]
    checked_nodes: int
    violations: list[str]
    unconfirmed: list[str]
    sites: list[SiteCheck]
    cross_pairs: int
    cross_nonzero: int
    cross_max: float
    seconds: float
    batching: str
    analysis: Analysis = field(repr=False)

    @property
    def degree_agrees(self) -> bool:
        return self.degree_static == self.degree_empirical

    @property
    def agree(self) -> bool:
        """No violation, the degrees equal, every site confirmed."""
        return not self.violations and self.degree_agrees and all(s.confirmed for s in self.sites)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "device": self.device,
            "dtype": self.dtype,
            "agree": self.agree,
            "degree": {
                "static": self.degree_static,
                "empirical": self.degree_empirical,
                "max_degree": self.max_degree,
                "derivative_norms": self.derivative_norms,
            },
            "dependence": {
                "nodes": self.checked_nodes,
                "violations": len(self.violations),
                "unconfirmed": len(self.unconfirmed),
                "violation_nodes": self.violations,
                "unconfirmed_nodes": self.unconfirmed,
            },
            "products": [
                {
                    "node": s.node,
                    "kind": s.kind,
                    "module": s.module,
                    "confirmed": s.confirmed,
                    "operands_vary": s.operands_vary,
                    "mixed_derivative": s.mixed_derivative,
                }
                for s in self.sites
            ],
            "cross_entry": {
                "pairs": self.cross_pairs,
                "nonzero": self.cross_nonzero,
                "max_abs": self.cross_max,
            },
            "samples": self.samples,
            "batching": self.batching,
            "seconds": round(self.seconds, 3),
        }


def default_device() -> str:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def exact_arithmetic() -> Iterator[None]:
    """TF32 off while validating: it breaks exact identities at ~1e-3 on NVIDIA GPUs."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def validate(
    module: torch.nn.Module,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int = 64,
    seed: int = 0,
    batched: bool = True,
    frontend: str = "auto",
) -> ValidationReport:
    """Validate the static analysis of ``module`` empirically (see the module doc).

    The model is moved to ``device`` (default :func:`default_device`) in float64 —
    also on a GPU, where exactness is what makes "vanishes" and "non-zero" verdicts
    trustworthy — traced, decomposed to core aten, analysed, and checked.
    """
    if samples < 1:
        raise SpecError(f"samples must be at least 1, not {samples}")
    if not 1 <= max_degree <= 8:
        raise SpecError(f"max_degree must be between 1 and 8, not {max_degree}")
    if pairs < 0:
        raise SpecError(f"pairs must be non-negative, not {pairs}")
    device = device or default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"device {device!r} was asked for, but CUDA is not available here")
    started = time.perf_counter()
    module, args, kwargs = _materialise(module, example_args, example_kwargs or {}, device)
    with exact_arithmetic():
        traced = trace(
            module, args, example_kwargs=kwargs, model=model, frontend=frontend, decompose=True
        )
        analysis = analyze_traced(traced)
        program = SourceProgram.of(traced, analysis.facts)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        runner = _Batched(batched)
        tangent_max = _dependence(program, analysis, samples, generator, runner)
        degree, norms = _degree(program, samples, max_degree, generator, runner)
        sites = _sites(program, analysis, tangent_max, samples, generator, runner)
        cross = _cross_entry(program, pairs, generator, runner)
    checked = list(tangent_max)
    facts = analysis.facts
    violations = [
        n.name for n in checked
        if facts[n].dependence is not Dependence.CONTINUOUS and tangent_max[n] > 0
    ]  # fmt: skip
    unconfirmed = [n.name for n in checked if facts[n].is_continuous and tangent_max[n] == 0]
    return ValidationReport(
        model=model,
        device=str(program.source_values[0].device) if program.source_values else device,
        dtype="float64",
        samples=samples,
        max_degree=max_degree,
        degree_static=_capped(analysis.output_fact.degree, max_degree),
        degree_empirical=degree,
        derivative_norms=norms,
        checked_nodes=len(checked),
        violations=violations,
        unconfirmed=unconfirmed,
        sites=sites,
        cross_pairs=cross[0],
        cross_nonzero=cross[1],
        cross_max=cross[2],
        seconds=time.perf_counter() - started,
        batching=runner.mode,
        analysis=analysis,
    )


def _capped(degree: float, cap: int) -> str:
    """A static degree above the measurable cap reads as ``inf``, as the measurement does."""
    return "inf" if degree == INF or degree > cap else format_degree(degree)


def _materialise(
    module: torch.nn.Module, args: Sequence[Any], kwargs: dict[str, Any], device: str
) -> tuple[torch.nn.Module, tuple[Any, ...], dict[str, Any]]:
    """On ``device`` in float64, with random weights if the model was built on meta."""
    if any(p.is_meta for p in module.parameters()) or any(b.is_meta for b in module.buffers()):
        module = module.to_empty(device=device)
        for submodule in module.modules():
            reset = getattr(submodule, "reset_parameters", None)
            if callable(reset):
                reset()
    module = module.to(device=device, dtype=torch.float64).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)  # derivatives are taken in the inputs only

    def move(value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return value
        if value.is_meta:
            raise SpecError("example inputs are on the meta device: build them on a real one")
        cast = torch.float64 if value.is_floating_point() else value.dtype
        return value.to(device=device, dtype=cast)

    return module, tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}


class _Batched:
    """Runs a per-sample function over stacked samples with ``vmap``, or a Python loop
    (``batched=False``: the baseline the benchmark compares against, and the fallback
    when an op has no batching rule)."""

    def __init__(self, batched: bool) -> None:
        self.mode = "vmap" if batched else "loop"

    def __call__(self, function: Callable[..., Any], *stacked: Any) -> Any:
        if self.mode == "vmap":
            try:
                return vmap(function, randomness="same")(*stacked)
            except RuntimeError as error:
                if "batching rule" not in str(error).lower():
                    raise
                self.mode = "loop (vmap unsupported by an op)"
        count = len(torch.utils._pytree.tree_leaves(stacked[0])[0])
        results = [
            function(*torch.utils._pytree.tree_map(lambda t, i=i: t[i], stacked))
            for i in range(count)
        ]
        return torch.utils._pytree.tree_map(lambda *xs: torch.stack(xs), *results)


def _random_like(values: tuple[torch.Tensor, ...], count: int, generator: torch.Generator) -> tuple:
    return tuple(
        torch.randn((count, *v.shape), generator=generator, dtype=v.dtype).to(v.device)
        for v in values
    )


def _main_tensor(value: Any) -> torch.Tensor | None:
    """The floating tensor a node computes (the first one of a tuple: a fused norm's output)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value
    return None


class _Projector:
    """``sources -> [⟨value(n), r_n⟩ for n in nodes]`` with fixed random ``r_n``: a random
    linear functional of each node. Its derivatives are zero exactly when the node's are
    (almost surely), and it keeps no activation alive: memory stays one forward pass."""

    def __init__(self, program: SourceProgram, nodes: list[fx.Node], generator: torch.Generator):
        self.program = program
        # the trace recorded every value's shape and dtype: no run is needed to size r_n
        recorded = {n: _main_tensor(n.meta.get("val")) for n in nodes}
        self.nodes = [n for n in nodes if recorded[n] is not None]
        self.watched = frozenset(self.nodes)
        device = program.source_values[0].device if program.source_values else "cpu"
        self.weights = {
            n: torch.randn(recorded[n].shape, generator=generator, dtype=recorded[n].dtype).to(
                device
            )
            for n in self.nodes
        }

    def __call__(self, *sources: torch.Tensor) -> torch.Tensor:
        found: dict[fx.Node, torch.Tensor] = {}

        def observe(node: fx.Node, value: Any) -> None:
            found[node] = (_main_tensor(value) * self.weights[node]).sum()

        self.program.run(sources, observe, self.watched)
        return torch.stack([found[n] for n in self.nodes])


def _dependence(program, analysis, samples, generator, runner) -> dict[fx.Node, float]:
    """Largest |tangent projection| per node over random source tangents."""
    nodes = [n for n in program.traced.graph.nodes if n.op != "output"]
    project = _Projector(program, nodes, generator)
    if not project.nodes:
        return {}

    def first_order(*tangents: torch.Tensor) -> torch.Tensor:
        return jvp(project, program.source_values, tangents)[1]

    maxima = runner(first_order, *_random_like(program.source_values, samples, generator))
    largest = maxima.detach().abs().amax(dim=0).tolist()
    return dict(zip(project.nodes, largest, strict=True))


def _flat_output(program: SourceProgram) -> Callable[..., torch.Tensor]:
    def output(*sources: torch.Tensor) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in program.outputs(sources)])

    return output


def _degree(program, samples, cap, generator, runner) -> tuple[str, list[float]]:
    """Smallest k whose derivative k+1 vanishes at every sample, up to ``cap``."""
    if not program.sources:
        return "0", []
    output = _flat_output(program)

    def derivatives(*point_and_direction: torch.Tensor) -> tuple[torch.Tensor, ...]:
        count = len(point_and_direction) // 2
        point, direction = point_and_direction[:count], point_and_direction[count:]

        def along_line(t: torch.Tensor) -> torch.Tensor:
            return output(*(p + t * d for p, d in zip(point, direction, strict=True)))

        # G_k(t) = (f, f', …, f^(k)); one jvp of G_k gives G_{k+1}
        def series(order: int) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
            if order == 0:
                return lambda t: (along_line(t),)
            lower = series(order - 1)

            def higher(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
                primal, tangent = jvp(lower, (t,), (torch.ones_like(t),))
                return (*primal, tangent[-1])

            return higher

        t0 = point[0].new_zeros(())
        return tuple(d.abs().amax() for d in series(cap + 1)(t0))

    offsets = _random_like(program.source_values, samples, generator)
    points = tuple(v + o for v, o in zip(program.source_values, offsets, strict=True))
    directions = _random_like(program.source_values, samples, generator)
    norms = [float(n.detach().amax()) for n in runner(derivatives, *points, *directions)]
    for k in range(cap + 1):
        scale = max(norms[: k + 1])
        if norms[k + 1] <= RELATIVE_TOLERANCE * max(scale, 1.0):
            return str(k), norms
    return "inf", norms


def _sites(program, analysis, tangent_max, samples, generator, runner) -> list[SiteCheck]:
    """Mixed second derivative of a random projection of each site, along u and v."""
    sites = analysis.sites
    if not sites:
        return []
    project = _Projector(program, [s.node for s in sites], generator)
    position = {node: i for i, node in enumerate(project.nodes)}

    def mixed(*point_and_directions: torch.Tensor) -> torch.Tensor:
        count = len(point_and_directions) // 3
        point = point_and_directions[:count]
        u, v = point_and_directions[count : 2 * count], point_and_directions[2 * count :]

        def first(*x: torch.Tensor) -> torch.Tensor:
            return jvp(project, x, u)[1]

        return jvp(first, point, v)[1]

    u = _random_like(program.source_values, samples, generator)
    v = _random_like(program.source_values, samples, generator)
    points = tuple(x.expand(samples, *x.shape) for x in program.source_values)
    measured = runner(mixed, *points, *u, *v).detach().abs().amax(dim=0)
    checks = []
    for site in sites:
        vary = all(tangent_max.get(o, 0.0) > 0 for o in site.operands)
        value = float(measured[position[site.node]].detach()) if site.node in position else 0.0
        checks.append(
            SiteCheck(site.node.name, site.kind, analysis.module_of(site.node), vary, value)
        )
    return checks


def _cross_entry(program, pairs, generator, runner) -> tuple[int, int, float]:
    """Sampled second derivatives ∂²s/∂xᵢ∂xⱼ, i ≠ j, of a random projection s."""
    sizes = [v.numel() for v in program.source_values]
    total = sum(sizes)
    if pairs == 0 or total < 2:
        return 0, 0, 0.0
    output = _flat_output(program)
    flat0 = torch.cat([v.reshape(-1) for v in program.source_values])
    weight = torch.randn(output(*program.source_values).shape, generator=generator,
                         dtype=flat0.dtype).to(flat0.device)  # fmt: skip

    def scalar(flat: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(flat, sizes)
        sources = tuple(
            p.reshape(v.shape) for p, v in zip(pieces, program.source_values, strict=True)
        )
        return (output(*sources) * weight).sum()

    first = torch.randint(0, total, (pairs,), generator=generator)
    shift = torch.randint(1, total, (pairs,), generator=generator)
    second = (first + shift) % total  # never equal to first
    basis = torch.zeros(pairs, total, dtype=flat0.dtype, device=flat0.device)
    basis[torch.arange(pairs), second.to(flat0.device)] = 1.0

    def column(e: torch.Tensor) -> torch.Tensor:
        return jvp(grad(scalar), (flat0,), (e,))[1]

    hessian_columns = runner(column, basis)
    entries = hessian_columns[torch.arange(pairs), first.to(flat0.device)].abs()
    scale = max(float(hessian_columns.abs().amax()), 1.0)
    nonzero = int((entries > RELATIVE_TOLERANCE * scale).sum())
    return pairs, nonzero, float(entries.amax()) if math.isfinite(float(entries.amax())) else 0.0
