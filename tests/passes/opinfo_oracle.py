"""PyTorch's OpInfo database as an independent oracle for the registry's rules.

Each OpInfo sample (float64, CPU) becomes a plain function of its tensors; the tool's own
``trace()`` and analysis give a claim (dependence, degree, piecewise flag, sites), and a
float64 numeric oracle on the same Python call checks it:

* ``static`` / ``discrete``: the output does not move (or moves only by jumps) along a
  random line through the float inputs;
* ``degree``: the (d+1)-th finite difference along random lines vanishes;
* ``piecewise``: a claim of smoothness has no kink or jump on a random line (fourth
  against second differences at two resolutions);
* ``site``: two float arguments whose mixed second derivative is non-zero and whose
  2×2 Hessian along random directions has full rank are multiplied: the graph must hold
  a site;
* ``pointwise``: a graph of ops flagged pointwise changes, when one input entry moves,
  only the output entries that broadcasting maps it to.

Known exceptions are listed in :data:`EXCEPTIONS`, each with its reason.

>>> from torch.testing._internal.common_methods_invocations import op_db
>>> case = next(iter(cases_of(next(o for o in op_db if o.name == "mul"), 1)))
>>> result = check_case(case)
>>> result.violations, "aten.mul" in result.known
([], True)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils._pytree as pytree

from analyzer.analysis import analyze_traced
from analyzer.frontend.dialect import op_name
from analyzer.frontend.tracing import trace
from analyzer.passes.facts import Dependence
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for

EXCEPTIONS: dict[tuple[str, str], str] = {
    # (OpInfo name, check) -> why the numeric oracle and the tool's taxonomy disagree on
    # purpose. A check of "*" skips every numeric check of that OpInfo.
    ("nn.functional.dropout", "*"): "draws random numbers (the oracle needs a function)",
    # Poles: the kink check's long line carries an entry across a point where the function
    # is infinite (outside its domain); the tool's "smooth" means smooth where defined.
    **{
        (name, "piecewise"): f"a pole: {where} crosses it"
        for name, where in (
            ("tan", "tan at π/2 + kπ: an entry near it"),
            ("reciprocal", "1/x at 0: an entry near zero"),
            ("addcdiv", "t1/t2 at t2 = 0: divisor entries of 0.09 and 0.52 within the line's ±0.8"),
            ("lgamma", "log|Γ| at 0, −1, …: an entry near them"),
            ("digamma", "ψ at 0, −1, …: an entry near them"),
            ("polygamma", "ψ⁽ⁿ⁾ at 0, −1, …: an entry near them"),
            ("special.polygamma", "ψ⁽ⁿ⁾ at 0, −1, …: an entry near them"),
            ("div", "x/y at y = 0: a divisor entry near zero"),
            ("true_divide", "x/y at y = 0: a divisor entry near zero"),
            ("__rdiv__", "c/x at x = 0: an entry near zero"),
            ("logit", "log(x/(1 − x)) at 0 and 1: an entry near them"),
            ("triangular_solve", "A⁻¹b where a diagonal entry of A crosses 0"),
            ("linalg.tensorsolve", "A⁻¹b where A turns singular"),
            ("cov", "Σw·(x − μ)² / Σw at Σw = 0: aweights near zero"),
            ("corrcoef", "cov/√(var·var) where a row's variance nears zero"),
            ("mvlgamma", "log Γ_p at (p − 1)/2: an entry of 0.34 for p = 1"),
        )
    },
    # Dense switches: piecewise-linear claims whose pieces are shorter than the degree
    # check's window (every window of 0.1 crosses a switch), so differences see the jumps.
    ("frac", "degree"): "x − ⌊x⌋: entries cross integers densely along the line",
    ("sort", "degree"): "sorted values: hundreds of entries trade places along the line",
    ("msort", "degree"): "sorted values: hundreds of entries trade places along the line",
    ("topk", "degree"): "the k largest: entries trade places along the line",
    ("grid_sampler_2d", "degree"): "bilinear (degree 3 = image·x·y per cell): 260 grid "
    "points cross pixel cells and the padding border densely along the line",
    ("nn.functional.grid_sample", "degree"): "as grid_sampler_2d: grid points cross pixel "
    "cells densely",
    ("grid_sampler_3d", "degree"): "as grid_sampler_2d, in three dimensions (degree 4)",
    ("nn.functional.max_pool3d", "degree"): "the maximum of each window switches densely",
    # Smooth turns narrower than the kink check's grid (1/64 of the line), seen as kinks
    ("nn.functional.layer_norm", "piecewise"): "two entries normalised: ±d/√(d² + 10⁻⁵) "
    "turns over within 0.003 of d = 0, finer than the grid",
    ("logcumsumexp", "piecewise"): "entries up to 10⁴: log(eᵃ + eᵇ) turns over within O(1) "
    "of a = b while the line spans thousands",
    ("special.bessel_j0", "piecewise"): "analytic; torch's Cephes code joins two "
    "approximations at |x| = 5, and a sample near 4.8 crosses the seam",
    ("special.bessel_j1", "piecewise"): "as bessel_j0: two approximations joined at |x| = 5",
    # Not functions of their inputs alone
    ("nn.functional.multi_head_attention_forward", "piecewise"): "a sample trains with "
    "dropout_p = 0.5 (random draws)",
    # Sums of functions of differences: the anchor a enters ‖a − p‖ and ‖a − n‖, so the
    # Hessian in (a, p) has full rank with no product of a and p; the tool's convention
    # (a − b)·(a − b) is no site, so a distance of differences is none either.
    ("nn.functional.triplet_margin_loss", "site"): "‖a − p‖ − ‖a − n‖: a sum of functions "
    "of differences (the anchor in both) fools the Hessian-rank test",
    ("nn.functional.triplet_margin_with_distance_loss", "site"): "d(a, p) − d(a, n) "
    "(swap: min with d(p, n)): a sum of functions of differences fools the Hessian-rank test",
    ("hypot", "site"): "√(a² + b²): a function of a·a + b·b, no product of a and b; its "
    "curvature gives the Hessian full rank",
    ("logaddexp", "site"): "log(eᵃ + eᵇ) is a function of a − b plus b; where neither shape "
    "broadcasts into the other the test moves a and b along different directions",
}
"""The one place where an oracle disagreement is accepted, with its reason."""

# OpInfos that draw random numbers or whose samples are not functions of their inputs
RANDOM_HINTS = ("dropout", "rand", "normal", "bernoulli", "multinomial", "uniform",
                "empty", "poisson", "exponential", "cauchy", "geometric", "log_normal")  # fmt: skip


SLOW_CALL = 0.05  # seconds: a sample whose one call takes longer is traced, not probed


@dataclass
class Case:
    """One OpInfo sample as a function of its tensors."""

    opinfo: Any
    index: int
    function: Callable[..., Any]
    tensors: list[torch.Tensor]

    @property
    def label(self) -> str:
        variant = f".{self.opinfo.variant_test_name}" if self.opinfo.variant_test_name else ""
        return f"{self.opinfo.name}{variant}[{self.index}]"


@dataclass
class Result:
    """What one case exercised and what the oracle found."""

    case: str
    exercised: set[str] = field(default_factory=set)
    known: set[str] = field(default_factory=set)
    verified: set[str] = field(default_factory=set)  # checks that ran and passed
    violations: list[str] = field(default_factory=list)
    skipped: str | None = None
    numeric: bool = False  # whether the numeric oracle ran (a deterministic float function)


def float64_opinfos() -> list[Any]:
    """Every OpInfo of ``op_db`` that supports float64 on the CPU."""
    from torch.testing._internal.common_methods_invocations import op_db

    return [o for o in op_db if torch.float64 in o.supported_dtypes("cpu")]


def cases_of(opinfo: Any, limit: int) -> Iterator[Case]:
    """Up to ``limit`` samples of ``opinfo`` as cases."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples = opinfo.sample_inputs("cpu", torch.float64, requires_grad=False)
            for index, sample in enumerate(samples):
                if index >= limit:
                    break
                case = _case(opinfo, index, sample)
                if case is not None:
                    yield case
    except Exception:  # an OpInfo whose sample generator fails on this build: no case
        return


def _case(opinfo: Any, index: int, sample: Any) -> Case | None:
    structure = (sample.input, sample.args, sample.kwargs)
    leaves, spec = pytree.tree_flatten(structure)
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
    if not positions:
        return None
    tensors = [leaves[i].detach().clone() for i in positions]
    if any(t.is_sparse or t.layout != torch.strided or t.is_quantized for t in tensors):
        return None
    op = opinfo.op

    def function(*values: torch.Tensor) -> Any:
        filled = list(leaves)
        for position, value in zip(positions, values, strict=True):
            filled[position] = value
        first, args, kwargs = pytree.tree_unflatten(filled, spec)
        return op(first, *args, **kwargs)

    return Case(opinfo, index, function, tensors)


class _Wrapped(torch.nn.Module):
    def __init__(self, function: Callable[..., Any]) -> None:
        super().__init__()
        self.function = function

    def forward(self, *values: torch.Tensor) -> Any:
        return self.function(*values)


def _output_eps(value: Any) -> float:
    """The coarsest rounding among an output's floating tensors (float64 when none)."""
    eps = [
        torch.finfo(leaf.dtype).eps
        for leaf in pytree.tree_leaves(value)
        if isinstance(leaf, torch.Tensor) and (leaf.is_floating_point() or leaf.is_complex())
    ]
    return max(eps, default=torch.finfo(torch.float64).eps)


def _flat_output(value: Any) -> torch.Tensor | None:
    """Every tensor of an output, as one float64 vector (complex as pairs)."""
    parts = []
    for leaf in pytree.tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            leaf = leaf.detach()
            if leaf.is_complex():
                leaf = torch.view_as_real(leaf)
            parts.append(leaf.to(torch.float64).reshape(-1))
        elif isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            parts.append(torch.tensor([float(leaf)], dtype=torch.float64))
    return torch.cat(parts) if parts else None


class Probe:
    """The function restricted to its float inputs, projected to a number."""

    def __init__(self, case: Case, generator: torch.Generator) -> None:
        self.case = case
        self.floats = [i for i, t in enumerate(case.tensors) if t.is_floating_point()]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output_eps = _output_eps(case.function(*[t.clone() for t in case.tensors]))
        # a float32 input moved along the line rounds to float32 steps, whatever the output
        self.eps = max([output_eps] + [torch.finfo(case.tensors[i].dtype).eps for i in self.floats])
        self.rounding = self.eps / torch.finfo(torch.float64).eps  # 1 for float64 outputs
        out = self.raw(case.tensors)
        started = time.perf_counter()
        self.raw(case.tensors)
        self.seconds = time.perf_counter() - started  # one warm call: what a check costs
        self.weights = None if out is None else torch.randn(out.shape, generator=generator,
                                                             dtype=torch.float64)  # fmt: skip

    def raw(self, values: list[torch.Tensor]) -> torch.Tensor | None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _flat_output(self.case.function(*[v.clone() for v in values]))

    def at(self, moves: dict[int, torch.Tensor]) -> float:
        """The projected output with ``moves[i]`` added to tensor ``i``."""
        values = [t + moves[i] if i in moves else t for i, t in enumerate(self.case.tensors)]
        out = self.raw(values)
        if out is None or self.weights is None or out.shape != self.weights.shape:
            return math.nan
        return float((out * self.weights).sum())


def _direction(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    scale = 0.05 * (float(tensor.abs().mean()) + 0.1) if tensor.numel() else 0.05
    return scale * torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _difference(values: list[float], order: int) -> float:
    return sum((-1) ** (order - k) * math.comb(order, k) * values[k] for k in range(order + 1))


def degree_exceeded(
    line: Callable[[float], float], degree: int, piecewise: bool, rounding: float = 1.0
) -> bool | None:
    """Whether the (d+1)-th differences along ``line`` are non-zero at three places (a
    higher degree), ``None`` when a value was not finite."""
    step = 0.1 if piecewise else 0.25
    order = degree + 1
    exceeded = 0
    for start in (-0.6, -0.1, 0.3):
        values = [line(start + k * step) for k in range(order + 1)]
        if not _finite(*values):
            return None
        scale = max(abs(v) for v in values) + 1e-9
        if abs(_difference(values, order)) > 1e-9 * rounding * 2**order * scale:
            exceeded += 1
    return exceeded == 3


def has_kink(
    line: Callable[[float], float], points: int = 129, rounding: float = 1.0
) -> bool | None:
    """Whether ``line`` is not smooth on [-1, 1]: its largest fourth difference shrinks
    as h⁴ (16× per halving) on a smooth function, at most as h² across a jump of the
    second derivative (huber), h across a kink, not at all across a jump."""
    values = [line(-1 + 2 * k / (points - 1)) for k in range(points)]
    if not _finite(*values):
        return None
    scale = max(abs(v) for v in values) + 1e-12

    def largest(series: list[float]) -> float:
        return max(abs(_difference(series[k : k + 5], 4)) for k in range(len(series) - 4))

    fine, middle, coarse = largest(values), largest(values[::2]), largest(values[::4])
    if middle < 1e-10 * rounding * scale:
        return False  # a cubic to rounding: nothing to see
    return middle < 6 * fine and coarse < 6 * middle


def moves_between(probe: Probe, first: int, second: int) -> bool | None:
    """Whether float arguments ``first`` and ``second`` are multiplied: a non-zero mixed
    derivative and a full-rank Hessian along directions that a sum a + b would share."""
    if probe.rounding > 1:
        return None  # second differences of a float32 output are rounding
    generator = torch.Generator().manual_seed(7 + first * 31 + second)
    a, b = probe.case.tensors[first], probe.case.tensors[second]
    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        shape = None
    if a.shape == b.shape:  # a + b moves along one direction: the same for both
        u = _direction(a, generator)
        w = u.clone()
    elif shape == a.shape:  # b broadcasts into a: a's move is b's, expanded
        w = _direction(b, generator)
        u = w.expand(a.shape).clone()
    elif shape == b.shape:
        u = _direction(a, generator)
        w = u.expand(b.shape).clone()
    else:
        u, w = _direction(a, generator), _direction(b, generator)

    def phi(s: float, t: float) -> float:
        return probe.at({first: s * u, second: t * w})

    def hessian(h: float) -> tuple[float, float, float, float]:
        center = phi(0, 0)
        ss = (phi(h, 0) - 2 * center + phi(-h, 0)) / h**2
        tt = (phi(0, h) - 2 * center + phi(0, -h)) / h**2
        st = (phi(h, h) - phi(h, -h) - phi(-h, h) + phi(-h, -h)) / (4 * h**2)
        return center, ss, tt, st

    center, ss, tt, st = hessian(1e-3)
    check = hessian(5e-4)
    if not _finite(center, ss, tt, st, *check):
        return None
    size = math.sqrt(ss**2 + tt**2 + 2 * st**2)
    if size < 1e-6 * (abs(center) + 1):
        return False
    if any(abs(a - b) > 0.1 * size for a, b in zip((ss, tt, st), check[1:], strict=True)):
        return None  # a kink or jump inside the stencil: second differences do not settle
    return abs(st) > 1e-3 * size and abs(ss * tt - st**2) > 1e-3 * size**2


def pointwise_broken(probe: Probe, generator: torch.Generator) -> str | None:
    """Which float input, moved at one entry, changes an output entry that broadcasting
    does not map it to (``None``: pointwise as claimed)."""
    base = probe.raw(probe.case.tensors)
    if base is None:
        return None
    for i in probe.floats:
        tensor = probe.case.tensors[i]
        if tensor.numel() == 0:
            continue
        k = int(torch.randint(tensor.numel(), (1,), generator=generator))
        move = torch.zeros_like(tensor).reshape(-1)
        move[k] = 1e-3 * (abs(float(tensor.reshape(-1)[k])) + 1)
        moved = probe.raw([t + move.reshape(t.shape) if j == i else t
                           for j, t in enumerate(probe.case.tensors)])  # fmt: skip
        if moved is None or moved.shape != base.shape:
            continue
        changed = (moved - base).abs() > 1e-12 * probe.rounding * (base.abs() + 1)
        marker = torch.zeros(tensor.numel(), dtype=torch.float64)
        marker[k] = 1
        out_shape = _first_output_shape(probe)
        if out_shape is None or math.prod(out_shape) != base.numel():
            continue
        try:
            allowed = marker.reshape(tensor.shape).expand(out_shape).reshape(-1) != 0
        except RuntimeError:
            return f"input {i} (shape {list(tensor.shape)}) does not broadcast to the output"
        if bool((changed & ~allowed).any()):
            return f"input {i} moved at one entry changed other output entries"
    return None


def _first_output_shape(probe: Probe) -> tuple[int, ...] | None:
    with torch.no_grad():
        out = probe.case.function(*[t.clone() for t in probe.case.tensors])
    if isinstance(out, torch.Tensor) and not out.is_complex():
        return tuple(out.shape)
    return None


def _deterministic(probe: Probe) -> bool:
    first, second = probe.raw(probe.case.tensors), probe.raw(probe.case.tensors)
    if first is None or second is None:
        return False
    return bool(torch.equal(torch.nan_to_num(first), torch.nan_to_num(second)))


def excepted(case: Case, check: str) -> bool:
    name = case.opinfo.name
    return (name, check) in EXCEPTIONS or (name, "*") in EXCEPTIONS


def check_case(case: Case, numeric: bool = True, slow_call: float = SLOW_CALL) -> Result:
    """Trace and analyse ``case``, then check the claim against the numeric oracle (unless
    one call of it takes longer than ``slow_call`` seconds)."""
    result = Result(case.label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = trace(_Wrapped(case.function), tuple(t.clone() for t in case.tensors))
            analysis = analyze_traced(traced)
    except Exception as error:  # not traceable (data-dependent output, no fake kernel...)
        result.skipped = f"trace: {type(error).__name__}"
        return result
    nodes = list(traced.op_nodes())
    for node in nodes:
        name = op_name(node)
        if not name.startswith("aten."):
            continue
        result.exercised.add(name)
        if entry_for(node) is not None:
            result.known.add(name)
    if not numeric or any(h in case.opinfo.name for h in RANDOM_HINTS) or excepted(case, "*"):
        return result
    generator = torch.Generator().manual_seed(1234 + case.index)
    try:
        probe = Probe(case, generator)
    except Exception as error:
        result.skipped = f"run: {type(error).__name__}"
        return result
    if probe.weights is None or not probe.floats or not _deterministic(probe):
        return result
    if probe.seconds > slow_call:
        result.skipped = "numeric: one call takes over 50 ms"
        return result
    result.numeric = True
    _numeric_checks(case, analysis, probe, nodes, result, generator)
    return result


def _numeric_checks(
    case: Case, analysis: Any, probe: Probe, nodes: list, result: Result, generator: Any
) -> None:
    fact = analysis.output_fact
    moves = {i: _direction(case.tensors[i], generator) for i in probe.floats}

    def line(t: float) -> float:
        return probe.at({i: t * m for i, m in moves.items()})

    ops = sorted(result.exercised)

    def record(check: str, broken: bool | None, detail: str) -> None:
        if broken is None:
            return
        if broken and not excepted(case, check):
            result.violations.append(f"{case.label} {check}: {detail} (ops: {', '.join(ops)})")
        elif not broken:
            result.verified.add(check)

    if fact.dependence is Dependence.STATIC:
        values = [line(t) for t in (-0.5, 0.0, 0.5)]
        if _finite(*values):
            moved = max(values) - min(values) > 1e-9 * probe.rounding * (abs(values[1]) + 1)
            record("static", moved, "claimed static, but the output moves")
        return
    if fact.dependence is Dependence.DISCRETE:
        h = 1e-9  # short: thousands of sorted entries cross densely along the line
        moved = [abs(line(t + h) - line(t)) for t in (-0.4, 0.1, 0.6)]
        if _finite(*moved):
            record("discrete", all(m > 1e-12 * probe.rounding for m in moved),
                   "claimed piecewise constant, but the output moves continuously")  # fmt: skip
        return
    if fact.degree != math.inf and fact.degree <= 6:
        exceeded = degree_exceeded(line, int(fact.degree), fact.piecewise, probe.rounding)
        record("degree", exceeded, f"claimed degree {int(fact.degree)}, the oracle sees more")
    if not fact.piecewise:  # a long line crosses more kinks; a short one stays in the domain
        kink = has_kink(lambda t: line(4 * t), rounding=probe.rounding)
        if kink is None:
            kink = has_kink(line, rounding=probe.rounding)
        record("piecewise", kink, "claimed smooth, the oracle sees a kink or jump")
    if not analysis.sites:
        for a in probe.floats:
            for b in probe.floats:
                if a < b:
                    record("site", moves_between(probe, a, b),
                           f"inputs {a} and {b} are multiplied, no site")  # fmt: skip
    computing = [n for n in nodes if _computes(n)]
    if computing and all((e := entry_for(n)) is not None and e.pointwise for n in computing):
        broken = pointwise_broken(probe, generator)
        record("pointwise", broken is not None, broken or "")


def _computes(node: Any) -> bool:
    entry = entry_for(node)
    if entry is None:
        return True
    return entry.rule not in (Rule.STRUCTURAL, Rule.STATIC)


UNCOVERED: dict[str, str] = {}
"""aten ops that OpInfo samples exercise and the registry leaves to the unknown-op worst
case, each with the reason."""


@dataclass
class Report:
    """A sweep's totals: which aten ops ran, which the registry knows, what was checked."""

    exercised: set[str] = field(default_factory=set)
    known: set[str] = field(default_factory=set)
    checks: int = 0  # numeric checks that ran and passed
    cases: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    verified_ops: set[str] = field(default_factory=set)  # known ops of a case that passed
    failed_ops: set[str] = field(default_factory=set)

    @property
    def coverage(self) -> float:
        return len(self.known) / len(self.exercised) if self.exercised else 1.0

    def add(self, result: Result) -> None:
        self.cases += 1
        self.exercised |= result.exercised
        self.known |= result.known
        self.checks += len(result.verified)
        self.violations += result.violations
        if result.skipped:
            self.skipped[result.skipped] = self.skipped.get(result.skipped, 0) + 1
        if result.violations:
            self.failed_ops |= result.known
        elif result.verified:
            self.verified_ops |= result.known
        self.verified_ops -= self.failed_ops


def sweep(
    names: list[str] | None,
    samples: int,
    progress: Callable[[str], None] | None = None,
    numeric: bool = True,
) -> Report:
    """Check up to ``samples`` samples of every float64 OpInfo (or those named); without
    ``numeric``, only trace them (which ops run, which the registry knows)."""
    report = Report()
    for opinfo in float64_opinfos():
        if names is not None and opinfo.name not in names:
            continue
        for case in cases_of(opinfo, samples):
            report.add(check_case(case, numeric))
        if progress is not None:
            progress(opinfo.name)
    return report
