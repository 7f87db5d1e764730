"""Writing claims: options checked when the claim is written, measurements' semantics."""

from __future__ import annotations

import math

import pytest

from analyzer.claims.core import Check, Measurement, claim, fails, identity
from analyzer.errors import SpecError
from analyzer.strategies import architectures

FAMILY = architectures(blocks=["linear"])


def _body(model):
    pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give family="),
        ({"family": FAMILY, "identity": True}, "not both"),
        ({"family": [1, 2]}, "must be a hypothesis strategy"),
        ({"family": FAMILY, "expect": "maybe"}, "expect='maybe'"),
        ({"identity": True, "tolerance": -1}, "tolerance=-1"),
        ({"identity": True, "tolerance": True}, "tolerance=True"),
        ({"family": FAMILY, "examples": 0}, "examples=0"),
    ],
)
def test_bad_options_name_the_option(options, message) -> None:
    with pytest.raises(SpecError, match=message):
        claim("a statement", **options)(_body)


def test_the_statement_and_the_function_are_checked() -> None:
    with pytest.raises(SpecError, match="statement"):
        claim("  ", family=FAMILY)
    with pytest.raises(SpecError, match="must take one argument"):
        claim("two arguments", family=FAMILY)(lambda a, b: None)


def test_a_claim_keeps_what_it_was_given() -> None:
    @claim(
        "s",
        family=FAMILY,
        expect=fails(site_kind="gating"),
        sources="a paper",
        precise="p",
        examples=3,
    )
    def named(model):
        pass

    assert (named.id, named.kind, named.expect, named.sources, named.examples) == (
        "named", "family", fails(site_kind="gating"), ("a paper",), 3,
    )  # fmt: skip
    assert named.module == __name__

    @identity("an identity", tolerance=1e-9, id="I1")
    def measured(check):
        return 0.0

    assert (measured.id, measured.kind, measured.tolerance) == ("I1", "identity", 1e-9)


def test_parts_and_caveats_attach_to_their_claim() -> None:
    @claim("main", identity=True)
    def main(check):
        pass

    @main.part("a part", identity=True)
    def part(check):
        pass

    @main.caveat("a caveat", family=FAMILY, expect=fails(site_kind="gating"))
    def caveat(model):
        pass

    assert main.parts == [part] and main.caveats == [caveat]


@pytest.mark.parametrize(
    ("measurement", "within", "status"),
    [
        (Measurement("bound", 1e-13, 1e-12), True, "within"),
        (Measurement("bound", -2e-12, 1e-12), False, "out of tolerance"),
        (Measurement("figure", 0.771, 0.005, expected=0.77), True, "reproduced"),
        (Measurement("figure", 0.80, 0.005, expected=0.77), False, "not reproduced"),
        (Measurement("relative", 105.0, 0.1, expected=100.0, relative=True), True, "reproduced"),
        (
            Measurement("relative", 111.0, 0.1, expected=100.0, relative=True),
            False,
            "not reproduced",
        ),
        (Measurement("reported", 3.0), None, "reported"),
        (Measurement("absent", None, 1e-12, note="why"), None, "not measured"),
        (Measurement("nan", math.nan, 1.0), False, "out of tolerance"),
    ],
)
def test_measurement_status(measurement: Measurement, within, status: str) -> None:
    assert measurement.within is within
    assert measurement.status == status
    assert measurement.to_json()["status"] == status


def test_infinite_values_stay_valid_json() -> None:
    import json

    assert json.loads(json.dumps(Measurement("inf", math.inf).to_json()))["value"] == "inf"


def test_check_defaults_to_the_claims_tolerance_and_figures_do_not_decide() -> None:
    check = Check(device="cpu", seed=0, tolerance=1e-12)
    bound = check.measure("error", 2e-12)
    figure = check.measure("figure", 0.5, expected=0.77, tolerance=0.005)
    reported = check.measure("reported", 1.0, tolerance=None)
    assert (bound.tolerance, bound.decides, bound.within) == (1e-12, True, False)
    assert (figure.decides, figure.status) == (False, "not reproduced")
    assert (reported.decides, reported.status) == (False, "reported")
    assert check.generator(1).initial_seed() == 1
