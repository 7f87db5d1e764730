"""Running claims: a family claim as a hypothesis property, an identity as measurements.

:func:`run_claim` returns a :class:`ClaimResult`: the verdict (``holds``, ``holds with
caveat``, ``fails``, or ``error`` when the claim raised something other than an
``AssertionError``), the examples run, the shrunk counterexample in words with its
analysis, the static and empirical evidence, the measurements with their tolerances, the
sources and the seconds. :func:`run_claims` runs several into one
:class:`ClaimsReport`, whose ``to_json`` is the ``analyzer.claims/1`` document.

>>> from analyzer.claims.core import claim, fails
>>> from analyzer.strategies import architectures
>>> @claim("recurrent nets are matmul and ReLU", expect=fails(site_kind="gating"),
...        family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))
... def recurrent_nets_are_relu_circuits(model):
...     assert set(model.analysis.circuit_class) <= {"matmul", "relu"}
>>> result = run_claim(recurrent_nets_are_relu_circuits, examples=20)
>>> result.verdict, result.as_expected, result.counterexample.description
('fails', True, 'a single LSTM layer, input 1, hidden 1: gating site at rnn')
>>> result.counterexample.confirmation
'confirmed empirically'
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from analyzer.claims.core import DISAGREES, STATIC_ONLY, Check, Claim
from analyzer.claims.results import (  # noqa: F401 (re-exported)
    DEFAULT_EXAMPLES,
    SCHEMA,
    ClaimResult,
    ClaimsReport,
    Construction,
    Counterexample,
    assertion_text,
    error_text,
)
from analyzer.empirical.validate import exact_arithmetic
from analyzer.errors import SpecError
from analyzer.progress import SILENT, Progress


def _check_options(examples: int | None, seed: int, deadline: float | None) -> None:
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int)
                                 or examples < 1):  # fmt: skip
        raise SpecError(f"examples={examples!r}: give a positive number of examples per claim")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed={seed!r}: give a non-negative int")
    if deadline is not None and not deadline > 0:
        raise SpecError(f"deadline={deadline!r}: give a positive number of milliseconds, or None")


def resolve_device(device: str | None) -> str:
    """``device`` checked (``cuda`` must be present), defaulting to cuda when present."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "meta":
        raise SpecError("device 'meta' cannot run a model: use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"device {device!r} was asked for, but CUDA is not available here")
    if not (device == "cpu" or device.startswith("cuda")):
        raise SpecError(f"device {device!r}: use cpu or cuda (cuda:N for one GPU)")
    return device


def run_claim(
    claim: Claim,
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    progress: Progress = SILENT,
    confirm: bool = True,
    database: str | None = None,
    weights: Any = None,
) -> ClaimResult:
    """Run ``claim`` (and its parts and caveats): ``examples`` drawn models per family
    (default: the claim's own, its ``@settings``' ``max_examples``, else
    :data:`DEFAULT_EXAMPLES`), hypothesis seeded by ``seed``, models validated and
    identities measured on ``device`` (default cuda when present), each example allowed
    ``deadline`` milliseconds (default: no limit). ``confirm`` (default on): a family
    counterexample counts only when ``validate`` confirms the static facts it fails on
    (:mod:`analyzer.claims.family`). ``database``: a folder where hypothesis keeps
    failing examples to replay first (default: none kept); hypothesis then draws
    unseeded (a seeded search keeps no database), and the database replays what failed.
    ``weights``: a checkpoint folder (or :class:`~analyzer.claims.weights.TrainedWeights`)
    whose trained weights the measurements that need them use (``check.weights``);
    without, they use random weights and say so."""
    from analyzer.claims.weights import trained_weights

    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    weights = trained_weights(weights)
    started = time.perf_counter()
    options = {"examples": examples, "seed": seed, "device": device, "deadline": deadline,
               "confirm": confirm, "database": database, "weights": weights}  # fmt: skip
    with (
        _one_thread(),
        progress.task(claim.id, total=1 + len(claim.parts) + len(claim.caveats)) as task,
    ):
        if claim.identity:
            result = _run_identity(claim, seed, device, started, weights)
        else:
            from analyzer.claims.family import FamilyRun

            result = FamilyRun(
                claim, examples=examples, seed=seed, device=device, deadline=deadline,
                confirm=confirm, database=database,
            ).run()  # fmt: skip
        task.advance()
        for into, extra, what in ((result.parts, claim.parts, "part"),
                                  (result.caveats, claim.caveats, "caveat")):  # fmt: skip
            for item in extra:
                progress.note(f"{claim.id}: {what} {item.id}")
                into.append(run_claim(item, **options))  # type: ignore[arg-type]
                task.advance()
    result.check_verdict = result.check_verdict or result.verdict
    result.verdict = _combined(result.verdict, [p.verdict for p in result.parts], result.caveats)
    result.seconds = time.perf_counter() - started
    return result


def _combined(own: str, parts: list[str], caveats: list[ClaimResult]) -> str:
    """A claim errs, disagrees with its construction, fails, or fails only statically when
    it or any part does (in that order); else it holds, with caveat when caveats qualify
    it. Caveats decide through :attr:`ClaimResult.as_expected`, not the verdict."""
    verdicts = [own, *parts]
    for worst in ("error", DISAGREES, "fails", STATIC_ONLY):
        if worst in verdicts:
            return worst
    return "holds with caveat" if caveats or "holds with caveat" in verdicts else "holds"


def run_claims(
    claims: Sequence[Claim],
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    progress: Progress = SILENT,
    confirm: bool = True,
    database: str | None = None,
    weights: Any = None,
) -> ClaimsReport:
    """Run every claim in order (options as :func:`run_claim`); one :class:`ClaimsReport`.
    A ``weights`` folder is loaded once, before any claim runs. ``progress`` gets one task,
    ``claims``, and one note per claim when it ends (``[2/7] ID: VERDICT (S s)``): a log
    shows one line per claim."""
    from analyzer.claims.weights import trained_weights

    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    weights = trained_weights(weights)
    started = time.perf_counter()
    results = []
    # One line per claim in a log: each claim runs silently and its verdict is the line
    # (a claim's own task, parts and caveats would print several each).
    with progress.task("claims", total=len(claims)) as task:
        for number, item in enumerate(claims, start=1):
            result = run_claim(
                item, examples=examples, seed=seed, device=device, deadline=deadline,
                confirm=confirm, database=database, weights=weights,
            )  # fmt: skip
            results.append(result)
            progress.note(
                f"[{number}/{len(claims)}] {item.id}: {result.verdict} ({result.seconds:.1f} s)"
            )
            task.advance()
    return ClaimsReport(
        results, device, examples, seed, time.perf_counter() - started, confirm=confirm,
        weights=weights,
    )  # fmt: skip


# --- identities ----------------------------------------------------------------------


def _run_identity(
    claim: Claim, seed: int, device: str, started: float, weights: Any = None
) -> ClaimResult:
    check = Check(device=device, seed=seed, tolerance=claim.tolerance, weights=weights)
    verdict, error, counterexample = "holds", None, None
    try:
        with exact_arithmetic():
            returned = claim.function(check)
        if returned is not None:
            if claim.tolerance is None:
                raise SpecError(
                    f"claim {claim.id!r} returned a measured error but has no tolerance: "
                    "give claim(..., tolerance=...) or record it with check.measure"
                )
            check.measure("error", float(returned))
    except AssertionError as failed:
        verdict = "fails"
        counterexample = Counterexample("the identity's own assertion", assertion_text(failed), "")
    except Exception as raised:  # a bug in the claim or the tool: an error, not a finding
        verdict, error = "error", error_text(raised)
    if verdict == "holds" and any(m.decides and m.within is False for m in check.measurements):
        verdict = "fails"
    return ClaimResult(
        claim, verdict, examples=1, seconds=time.perf_counter() - started,
        counterexample=counterexample, evidence=check.evidence,
        measurements=check.measurements, error=error,
    )  # fmt: skip


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Claims run tiny models, where starting CPU threads costs more than the arithmetic
    (5 to 20 times on a shared 2-core machine): one intra-op thread while they run."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
