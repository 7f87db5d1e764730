"""The degree of the model itself, by finite differences of its values along lines.

Every other measurement differentiates the traced graph. Where that graph is not the
model — a value read into Python or numpy and frozen into a constant, a write the
recording missed, a number read by ``.item()`` that sets a random draw — the model is
run at ``cap + 2`` equally spaced points of each sample line and the differences of its
values are read (:func:`analyzer.empirical.lines.value_degrees`). Values need no
derivative, so this sees through whatever autograd cannot follow.

A kink (``max``, ``%``, a leaky ReLU's sign) between two points of a line makes every
difference large. The model cannot be frozen at the line's centre as the graph is, so
each line is read at several spans (:data:`MODEL_SPANS`) and the smallest reading that
the span can *resolve* is kept: a span ``s`` with spacing ``h`` resolves degree ``k``
when a term of order ``k + 1`` would still stand out of the tolerance and of the
rounding of the values (``hᵏ`` against them, the model's least precise dtype counted).
Readings a span cannot resolve are lower bounds only (``≥ k``). With ``seed``, torch's
generators are seeded for every call, so a model that draws random numbers draws the
same ones along the line.

>>> import torch
>>> from analyzer.empirical.fidelity import Reference
>>> reference = Reference(lambda r: (r[0] * torch.remainder(r[0].sum(), 1.0),))
>>> x = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
>>> read_lines(reference, [0], (x,), (torch.ones_like(x),), cap=4)
'2'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.fx as fx

from analyzer.empirical.execute import Program
from analyzer.empirical.fidelity import Fidelity, Reference
from analyzer.empirical.graphs import bitcasts
from analyzer.empirical.lines import RELATIVE_TOLERANCE, value_degrees
from analyzer.empirical.randomness import random_ops
from analyzer.frontend.dialect import InputKind, is_floating, op_name
from analyzer.frontend.escaping import READ_OPS

MODEL_SPANS = (4.0, 1.0, 0.125, 1 / 64, 1 / 512)
"""Spans of the lines, in root-mean-squares of each input: large first (a smooth
function's small high-order terms show at the largest; kinks send the reading down)."""
KINK_RATIO = 0.25  # differences shrinking slower per order: the line crossed a kink
MARGIN = 10.0  # how far above tolerance and rounding an order must stand to be resolved


def degree_from_values(
    program: Program,
    reference: Reference | str,
    fidelity: Fidelity,
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    cap: int,
    seed: int,
) -> tuple[str, str] | None:
    """``(degree, method)`` of the output read from values along the sample lines, where
    derivatives of the graph cannot be trusted; ``None`` where they can (or nothing could
    be read):

    * the graph reinterprets a varying value's bits as integers (:func:`bitcasts`):
      the model's values are read (the graph's, when the model cannot be run);
    * the graph may compute another function than the model (:func:`not_the_model`):
      the model's values, with its random draws seeded when the graph draws any.
    """
    blind = bitcasts(program.graph, program.varying)
    model = None if isinstance(reference, str) else reference
    positions = model_positions(program) if model is not None else None
    if blind:
        if model is None or positions is None:
            model, positions = graph_reference(program), list(range(len(program.sources)))
            whose = "graph"
        else:
            whose = "model"
        degree = read_lines(model, positions, points, lines, cap)
        why = (
            f"autograd cannot follow {blind[0].name}, a reinterpretation of floating-point "
            "bits as integers"
        )
        return None if degree is None else (degree, _method(whose, why))
    if model is None or positions is None or not not_the_model(program, fidelity):
        return None
    randomness = bool(random_ops(program.graph, program.traced.graph_module))
    degree = read_lines(model, positions, points, lines, cap, seed if randomness else None)
    why = (
        "the traced graph is not the model: it reads values out of torch and draws random "
        "numbers, seeded alike at every point"
        if randomness
        else "the traced graph is not the model: see graph fidelity"
    )
    return None if degree is None else (degree, _method("model", why))


def _method(whose: str, why: str) -> str:
    spans = len(MODEL_SPANS)
    return f"differences of the {whose}'s own values along the lines, at {spans} spans ({why})"


def not_the_model(program: Program, fidelity: Fidelity) -> bool:
    """Whether the graph may compute another function than the model: it disagrees with
    the model (unless only booleans or counts left it: frozen control flow, a region in
    which the graph is right), or it could not be compared because it draws random
    numbers and a floating-point value left it (a number that may set a draw)."""
    floating, reads = _reads(program.graph)
    if fidelity.mismatched:
        return floating or not reads
    return floating and bool(random_ops(program.graph, program.traced.graph_module))


def _reads(graph: fx.Graph) -> tuple[bool, bool]:
    """Whether a floating-point value left the graph (``.item()``, ``.numpy()``…, read by
    a frontend that ran the model), and whether any value did."""
    reads = [
        n for n in graph.nodes
        if n.op == "call_function" and op_name(n) in READ_OPS and not n.users
    ]  # fmt: skip
    floating = any(
        isinstance(r.args[0], fx.Node) and is_floating(r.args[0]) for r in reads if r.args
    )
    return floating, bool(reads)


def read_lines(
    reference: Reference,
    positions: Sequence[int],
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    cap: int,
    seed: int | None = None,
) -> str | None:
    """The model's degree along the sample lines: the largest over samples of each
    line's resolved reading, ``inf`` above ``cap``, ``≥ k`` when some line's reading is a
    lower bound only; ``None`` when no line could be read (the model failed, or its
    output changed shape, at every span). ``positions[i]`` is the model's input leaf the
    ``i``-th source replaces; ``points`` and ``lines`` are stacked over samples."""
    found, bounded, read = 0.0, False, False
    for sample in range(len(points[0]) if points else 0):
        reading = _sample_reading(reference, positions, points, lines, sample, cap, seed)
        if reading is None:
            continue
        read = True
        found, bounded = max(found, reading[0]), bounded or not reading[1]
    if not read:
        return None
    if found > cap:
        return "inf"
    return f"≥ {int(found)}" if bounded else str(int(found))


def _sample_reading(
    reference: Reference,
    positions: Sequence[int],
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    sample: int,
    cap: int,
    seed: int | None,
) -> tuple[float, bool] | None:
    """``(degree, resolved)`` of one sample's line: read at the largest span, and at
    shorter ones only while the differences behind the reading do not shrink with their
    order (a kink or a jump between two points, :func:`kinked`) — a smooth function's
    reading stands, whatever a shorter span, blind to its small high-order terms, would
    read."""
    result = None
    for span in MODEL_SPANS:
        values = _values_along(reference, positions, points, lines, sample, cap, span, seed)
        if values is None:
            continue
        degree = _reading(values, cap, reference.epsilon)
        if math.isnan(degree):
            continue
        ok = resolved(degree, span, cap, reference.epsilon)
        if result is None or ok:
            result = (degree, ok)
        if not kinked(values, degree):
            break
    return result


def kinked(values: torch.Tensor, degree: float) -> bool:
    """Whether the differences of ``(points, entries)`` values that made a reading of
    ``degree`` (``inf``: every order) shrink slowly with their order: by less than
    :data:`KINK_RATIO` per order on average from the first to some higher one (a kink
    placed symmetrically among the points may cancel the top one alone). A kink or a
    jump between two points keeps them large (they grow like binomial coefficients); a
    smooth function's shrink like ``(a·h)ᵏ``, and a span short enough to miss its
    high-order terms is never tried. Readings 0 and 1 have no kink in them.

    >>> t = torch.linspace(-1, 1, 6, dtype=torch.float64)
    >>> kinked((t + 0.1).abs()[:, None], math.inf), kinked((0.5 * t).exp()[:, None], math.inf)
    (True, False)
    """
    if degree < 2:
        return False
    top = len(values) - 1 if degree == math.inf else int(degree)
    differences = values
    sizes = []
    for _ in range(top):
        differences = differences[1:] - differences[:-1]
        sizes.append(float(differences.abs().amax()) if differences.numel() else 0.0)
    if not sizes[0] > 0:
        return False
    shrinking = [(size / sizes[0]) ** (1 / order) for order, size in enumerate(sizes[1:], 1)]
    return max(shrinking) >= KINK_RATIO


def model_positions(program: Program) -> list[int] | None:
    """Per source of ``program``, the position of the model's input leaf it stands for;
    ``None`` when a source is not a model input (perturbed at an embedding's output)."""
    inputs = [
        n for n in program.graph.nodes
        if n.op == "placeholder" and program.traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    position = {node: i for i, node in enumerate(inputs)}
    if any(source not in position for source in program.sources):
        return None
    return [position[s] for s in program.sources]


def graph_reference(program: Program) -> Reference:
    """The graph itself as a :class:`Reference` whose ``i``-th input leaf is the ``i``-th
    source (for a model that cannot be run apart from its graph)."""
    count = len(program.sources)

    def call(replaced: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return program.outputs(tuple(replaced[i] for i in range(count)))

    return Reference(call)


def resolved(degree: float, span: float, cap: int, epsilon: float) -> bool:
    """Whether a line of ``span`` (``cap + 2`` points) would have shown a term of order
    ``degree + 1``: its difference, ``hᵏ`` of the first, stands :data:`MARGIN` above the
    relative tolerance and the rounding of values computed at ``epsilon``.

    >>> resolved(2, 1 / 64, 4, 2.2e-16), resolved(4, 1 / 64, 4, 2.2e-16)
    (True, False)
    """
    if degree == 0 or degree == math.inf:
        return True
    k = int(degree)
    spacing = span / (cap + 1)
    rounding = 64 * 2 ** (k + 2) * epsilon / spacing
    return spacing**k >= MARGIN * max(RELATIVE_TOLERANCE, rounding)


def _reading(values: torch.Tensor, cap: int, epsilon: float) -> float:
    """The degree of one line's ``(cap + 2, entries)`` values: the largest over entries."""
    degrees, _ = value_degrees(values.unsqueeze(0), cap, epsilon)
    finite = [d for d in degrees if not math.isnan(d)]
    return max(finite) if finite else math.nan


def _values_along(
    reference: Reference,
    positions: Sequence[int],
    points: tuple[torch.Tensor, ...],
    lines: tuple[torch.Tensor, ...],
    sample: int,
    cap: int,
    span: float,
    seed: int | None,
) -> torch.Tensor | None:
    """``(cap + 2, entries)``: the model's outputs, flattened, at ``cap + 2`` points
    spanning ``span / 2`` either side of the sample point along its line; ``None`` when
    the model fails or its outputs change shape along the line."""
    offsets = (torch.arange(cap + 2, dtype=torch.float64) - (cap + 1) / 2) / (cap + 1) * span
    rows = []
    for t in offsets.tolist():
        replaced = {
            i: p[sample] + t * d[sample] for i, p, d in zip(positions, points, lines, strict=True)
        }
        try:
            with torch.no_grad():
                outputs = reference(replaced, seed)
        except Exception:  # outside the model's domain, say: this line is not read
            return None
        rows.append(torch.cat([_flat(o) for o in outputs]) if outputs else torch.zeros(0))
    if len({row.shape for row in rows}) != 1:
        return None
    return torch.stack(rows)


def _flat(value: torch.Tensor) -> torch.Tensor:
    value = value.detach()
    if value.is_complex():
        value = torch.view_as_real(value.resolve_conj())
    return value.reshape(-1).to(device="cpu", dtype=torch.float64)
