"""Running a family claim: a hypothesis property over drawn models.

Every drawn model is built, analysed (and validated for an ``empirical=True`` claim),
compared with the truth its strategy built in, and handed to the claim's function:

* a failed assertion is **confirmed** (:mod:`analyzer.claims.confirm`) before it counts:
  the claim runs again on the model's analysis restricted to what ``validate`` confirms;
  if it then holds, the model is *rejected* as a static over-approximation, counted with
  the refuted facts, and the search goes on as if it had passed (``confirm=False`` turns
  this off);
* ``assume(...)`` discards an example (counted apart, never as a failure);
* a disagreement between the analysis and the truth is its own finding: after the run,
  hypothesis searches and shrinks the smallest drawn model that shows one.

>>> from analyzer.claims.core import claim
>>> from analyzer.strategies import architectures
>>> @claim("ReLU nets have no input-by-input product",
...        family=architectures(blocks=["linear", "relu"], max_depth=2))
... def relu_nets(model):
...     assert not model.analysis.sites
>>> run = FamilyRun(relu_nets, examples=5, seed=0, device="cpu")
>>> run.run().verdict
'holds'
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from analyzer.claims.core import DISAGREES, STATIC_ONLY, Claim
from analyzer.claims.model import Model

MAX_LISTED = 5


class Tally:
    """Evidence gathered over every example a family run drew."""

    def __init__(self) -> None:
        self.generated = 0
        self.discarded = 0  # assume() said no
        self.shrink_steps = 0
        self.failed = False
        self.classes: Counter[str] = Counter()
        self.site_kinds: Counter[str] = Counter()
        self.degrees: Counter[str] = Counter()
        self.truth_checked = 0
        self.truth_disagreeing = 0
        self.truth_disagreements: list[str] = []  # the first few, in words
        self.first_disagreeing: Any = None
        self.validated = 0
        self.agree = 0
        self.violations = 0
        self.cross_nonzero = 0
        self.rejected: dict[str, tuple[Any, str]] = {}  # drawn repr -> (drawn, why)

    def add(self, model: Model) -> None:
        if self.failed:
            self.shrink_steps += 1
            return
        self.generated += 1
        analysis = model.analysis
        self.classes[", ".join(analysis.circuit_class) or "(none)"] += 1
        self.site_kinds.update({site.kind for site in analysis.sites})
        self.degrees[analysis.degree] += 1
        if model.truth is not None and hasattr(model.truth, "disagreements"):
            self.truth_checked += 1
            found = model.truth.disagreements(analysis)
            self.truth_disagreeing += bool(found)
            if found and self.first_disagreeing is None:
                self.first_disagreeing = model.drawn
            if found and len(self.truth_disagreements) < MAX_LISTED:
                self.truth_disagreements.append(f"{model.description}: {'; '.join(found)}")
        if model.validation is not None:
            document = model.validation.to_json()
            self.validated += 1
            self.agree += bool(document["agree"])
            self.violations += document["dependence"]["violations"]
            self.cross_nonzero += document["cross_entry"]["nonzero"] > 0

    def discard(self) -> None:
        """An example ``assume()`` turned away: not an example of the claim."""
        if self.failed:
            return
        self.generated -= 1
        self.discarded += 1

    def reject(self, model: Model, refuted: list[str]) -> None:
        why = "; ".join(refuted) or "validate confirmed nothing the claim failed on"
        self.rejected.setdefault(repr(model.drawn), (model.drawn, f"{model.description}: {why}"))

    def evidence(self) -> dict[str, Any]:
        static = {
            "primitive_sets": dict(self.classes.most_common()),
            "models_with_site_kind": dict(sorted(self.site_kinds.items())),
            "degrees": dict(sorted(self.degrees.items())),
            "truth_checked": self.truth_checked,
            "truth_disagreeing": self.truth_disagreeing,
            "truth_disagreements": list(self.truth_disagreements),
        }
        empirical = None
        if self.validated:
            empirical = {
                "validated": self.validated,
                "agree": self.agree,
                "dependence_violations": self.violations,
                "models_with_cross_entry_terms": self.cross_nonzero,
            }
        return {
            "static": static,
            "empirical": empirical,
            "shrink_steps": self.shrink_steps,
            "discarded_by_assume": self.discarded,
            "rejected_static": len(self.rejected),
            "rejections": [why for _, why in list(self.rejected.values())[:MAX_LISTED]],
        }


class FamilyRun:
    """One run of a family claim (see the module doc); :meth:`run` gives its result."""

    def __init__(
        self,
        claim: Claim,
        *,
        examples: int | None,
        seed: int,
        device: str,
        deadline: float | None = None,
        confirm: bool = True,
        database: str | None = None,
    ) -> None:
        self.claim, self.examples, self.seed, self.device = claim, examples, seed, device
        self.deadline, self.confirm, self.database = deadline, confirm, database
        self.tally = Tally()
        self.last: dict[str, Any] = {}

    # --- the property ---------------------------------------------------------------

    def check(self, drawn: Any) -> None:
        """The hypothesis property: build, analyse, tally, run the claim, confirm."""
        from hypothesis.errors import UnsatisfiedAssumption

        claim, tally = self.claim, self.tally
        model = None
        try:
            model = Model.of(drawn, empirical=claim.empirical, device=self.device, seed=self.seed)
            tally.add(model)
            try:
                claim.function(model)
            except UnsatisfiedAssumption:
                tally.discard()
                raise
            except AssertionError as failed:
                if self.confirm and self._refuted(model, failed):
                    return  # a static over-approximation: not a counterexample
                raise
        except UnsatisfiedAssumption:
            raise
        except BaseException as failed:
            self.last.update(drawn=drawn, model=model, failed=failed)
            tally.failed = True
            raise

    def _refuted(self, model: Model, failed: AssertionError) -> bool:
        """Whether the claim holds once the analysis keeps only what ``validate`` confirms
        (then the model is rejected); the confirmed counterexample's refuted facts are kept."""
        from hypothesis.errors import UnsatisfiedAssumption

        from analyzer.claims.confirm import confirmed_model
        from analyzer.errors import AnalyzerError

        try:
            view, refuted = confirmed_model(model, self.device, self.seed)
        except AnalyzerError as failed:  # validate cannot run this model: keep the failure
            first = str(failed).splitlines()[0][:200]
            self.last["confirmation"] = f"not confirmed: validate could not run it ({first})"
            return False
        try:
            self.claim.function(view)
        except (AssertionError, UnsatisfiedAssumption):
            self.last["confirmation"] = "confirmed empirically"
            return False
        self.tally.reject(model, refuted)
        return True

    # --- the run --------------------------------------------------------------------

    def _settings(self, count: int) -> Any:
        from hypothesis import HealthCheck, Phase, Verbosity, settings
        from hypothesis.database import DirectoryBasedExampleDatabase

        base = self.claim.hypothesis_settings()
        options: dict[str, Any] = {
            "max_examples": count,
            "deadline": self.deadline,
            "report_multiple_bugs": False,
            "suppress_health_check": list(HealthCheck),
            "verbosity": Verbosity.quiet,
            "phases": (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
            "print_blob": False,
        }
        if self.database is not None:
            options["database"] = DirectoryBasedExampleDatabase(self.database)
        elif base is None or base.database is None or not _user_set(base, "database"):
            options["database"] = None
        if base is not None:
            if _user_set(base, "deadline") and self.deadline is None:
                options.pop("deadline")
            return settings(base, **options)
        return settings(**options)

    def count(self) -> int:
        from analyzer.claims.results import DEFAULT_EXAMPLES

        base = self.claim.hypothesis_settings()
        own = base.max_examples if base is not None and _user_set(base, "max_examples") else None
        return self.examples or self.claim.examples or own or DEFAULT_EXAMPLES

    def run(self) -> Any:
        from hypothesis import example, given
        from hypothesis import seed as seeded
        from hypothesis.reporting import with_reporter

        from analyzer.claims.results import ClaimResult

        started = time.perf_counter()
        claim = self.claim
        test = given(claim.family)(self.check)
        for value in reversed(claim.explicit_examples()):
            test = example(value)(test)
        test = self._settings(self.count())(test)
        if self.database is None:  # hypothesis keeps no database for a seeded test
            test = seeded(self.seed)(test)
        verdict, error, counterexample = "holds", None, None
        try:
            with with_reporter(lambda message: None):
                test()
        except AssertionError as failed:
            verdict = "fails"
            counterexample = self._counterexample(failed)
        except Exception as raised:
            failed = self.last.get("failed", raised)
            verdict, error = "error", _error_text(failed)
            if self.last.get("drawn") is not None:
                counterexample = self._counterexample(failed)
        if verdict == "holds" and self.tally.rejected:
            verdict = STATIC_ONLY
            counterexample = self._static_only()
        construction = self._construction()
        result = ClaimResult(
            claim, verdict, examples=self.tally.generated, seconds=0.0,
            counterexample=counterexample, evidence=self.tally.evidence(), error=error,
            check_verdict=verdict, construction=construction,
        )  # fmt: skip
        if construction is not None and verdict != "error":
            result.verdict = DISAGREES
        result.seconds = time.perf_counter() - started
        return result

    def _counterexample(self, failed: BaseException) -> Any:
        from analyzer.claims.results import Counterexample, assertion_text

        model: Model | None = self.last.get("model")
        drawn = self.last.get("drawn")
        blocks = _block_kinds(drawn)
        if model is None:  # it failed while being built or analysed
            described = getattr(drawn, "describe", None)
            words = described() if callable(described) else repr(drawn)
            return Counterexample(words, assertion_text(failed), repr(drawn), blocks=blocks)
        if not isinstance(failed, AssertionError):
            confirmation = ""
        elif self.confirm:
            confirmation = self.last.get("confirmation", "confirmed empirically")
        else:
            confirmation = "not checked (confirmation off)"
        return Counterexample(
            f"{model.description}: {model.findings()}", assertion_text(failed), repr(drawn),
            model.analysis, blocks=blocks, confirmation=confirmation,
        )  # fmt: skip

    def _static_only(self) -> Any:
        """The smallest rejected model, as the claim's static-only counterexample."""
        from analyzer.claims.results import Counterexample

        drawn, why = min(self.tally.rejected.values(), key=lambda item: len(repr(item[0])))
        model = Model.of(drawn)
        return Counterexample(
            f"{model.description}: {model.findings()}",
            f"fails only in the static analysis; validate refutes: {why.partition(': ')[2]}",
            repr(drawn), model.analysis, blocks=_block_kinds(drawn),
            confirmation="rejected: not confirmed empirically",
        )  # fmt: skip

    def _construction(self) -> Any:
        """When the analysis disagreed with a drawn model's truth: hypothesis' smallest
        model that shows a disagreement (a :class:`Construction`), else None."""
        if not self.tally.truth_disagreeing:
            return None
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as seeded
        from hypothesis.reporting import with_reporter

        from analyzer.claims.results import Construction, Counterexample

        found: dict[str, Any] = {}

        def agrees(drawn: Any) -> None:
            model = Model.of(drawn)
            differences = model.truth.disagreements(model.analysis)
            if differences:
                found.update(model=model, differences=differences)
                raise AssertionError("; ".join(differences))

        test = given(self.claim.family)(agrees)
        test = settings(
            max_examples=self.count(), database=None, deadline=None, report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
            phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False,
        )(test)  # fmt: skip
        try:
            with with_reporter(lambda message: None):
                seeded(self.seed)(test)()
        except AssertionError:
            pass
        if not found:  # this search drew none: the run's first one, unshrunk
            try:
                agrees(self.tally.first_disagreeing)
            except AssertionError:
                pass
        model = found["model"]
        counterexample = Counterexample(
            f"{model.description}: {model.findings()}",
            "the analysis finds " + "; ".join(found["differences"]), repr(model.drawn),
            model.analysis, blocks=_block_kinds(model.drawn), confirmation="",
        )  # fmt: skip
        return Construction(self.tally.truth_checked, self.tally.truth_disagreeing, counterexample)


def _user_set(base: Any, name: str) -> bool:
    """Whether ``@settings`` gave ``name`` itself (not inherited from hypothesis' defaults)."""
    from hypothesis import settings

    return getattr(base, name) != getattr(settings.default, name)


def _block_kinds(drawn: Any) -> list[str]:
    blocks = getattr(drawn, "blocks", None)
    if not blocks:
        return []
    kinds: list[str] = []

    def walk(items: Any) -> None:
        for block in items:
            kinds.append(block.kind)
            walk(getattr(block, "inner", ()))

    walk(blocks)
    return sorted(set(kinds))


def _error_text(raised: BaseException) -> str:
    from analyzer.claims.results import error_text

    return error_text(raised)
