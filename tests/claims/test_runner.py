"""Running claims: verdicts, shrunk counterexamples, errors, identities, the JSON."""

from __future__ import annotations

import json

import pytest
import torch

from analyzer.claims.core import claim, fails
from analyzer.claims.runner import SCHEMA, run_claim, run_claims
from analyzer.errors import SpecError
from analyzer.progress import RecordingProgress
from analyzer.strategies import architectures

RELU_BLOCKS = ["linear", "conv", "relu", "maxpool", "residual"]
RECURRENT_BLOCKS = ["linear", "relu", "rnn", "lstm", "gru"]


def relu_claim():
    @claim("ReLU nets are piecewise affine and have no input-by-input products",
           family=architectures(blocks=RELU_BLOCKS))  # fmt: skip
    def relu_nets_have_static_weights(model):
        assert not model.analysis.sites
        assert model.analysis.piecewise_affine

    return relu_nets_have_static_weights


def recurrent_claim():
    @claim("recurrent nets are matmul and ReLU", expect=fails(site_kind="gating"),
           family=architectures(blocks=RECURRENT_BLOCKS))  # fmt: skip
    def recurrent_nets_are_relu_circuits(model):
        assert set(model.analysis.circuit_class) <= {"matmul", "relu"}

    return recurrent_nets_are_relu_circuits


def test_a_true_claim_holds_over_every_example() -> None:
    result = run_claim(relu_claim(), examples=10, device="cpu")
    assert (result.verdict, result.as_expected, result.counterexample) == ("holds", True, None)
    assert result.examples == 10
    static = result.evidence["static"]
    assert static["truth_checked"] == 10 and static["truth_disagreements"] == []
    assert set(static["degrees"]) == {"1"}


@pytest.fixture(scope="module")
def recurrent_run():
    """The recurrent claim's failing run (seed 0), shared: the shrink test reads it and the
    same-seed test compares a second run with it."""
    return run_claim(recurrent_claim(), examples=30, seed=0, device="cpu")


def test_the_recurrent_claim_shrinks_to_a_single_gated_cell(recurrent_run) -> None:
    result = recurrent_run
    assert (result.verdict, result.as_expected) == ("fails", True)
    found = result.counterexample
    drawn = found.analysis.model
    assert drawn.startswith("drawn:")
    blocks = eval_blocks(found.drawn)
    assert len(blocks) == 1 and blocks[0].kind in ("lstm", "gru")
    assert (blocks[0].d_in, blocks[0].d_out) == (1, 1)
    assert found.description == "a single LSTM layer, input 1, hidden 1: gating site at rnn"
    assert "gating" in found.assertion  # pytest's rewritten assert names the extra classes
    assert found.to_json()["analysis"]["schema"] == "analyzer.analysis/1"
    assert result.evidence["shrink_steps"] > 0


def eval_blocks(drawn: str):
    from analyzer.testing.blocks import Block
    from analyzer.testing.strategies import Architecture

    return eval(drawn, {"Architecture": Architecture, "Block": Block}).blocks


def test_the_same_seed_gives_the_same_counterexample(recurrent_run) -> None:
    second = run_claim(recurrent_claim(), examples=30, seed=0, device="cpu")
    assert recurrent_run.counterexample.drawn == second.counterexample.drawn
    assert recurrent_run.evidence["shrink_steps"] == second.evidence["shrink_steps"]


def test_a_claim_that_raises_is_an_error_not_a_failure() -> None:
    @claim("a buggy claim", family=architectures(blocks=["linear"]))
    def buggy(model):
        raise ValueError("the claim itself is broken")

    result = run_claim(buggy, examples=5, device="cpu")
    assert result.verdict == "error" and not result.as_expected
    assert "ValueError: the claim itself is broken" in result.error
    assert result.counterexample is not None  # the model it raised on, shrunk
    assert result.counterexample.description.startswith("a single linear layer")


def test_a_failed_assertion_message_is_kept() -> None:
    @claim("every net has a site", family=architectures(blocks=["linear", "relu"]))
    def sites(model):
        assert model.analysis.sites, f"no site in {model.analysis.circuit_class}"

    result = run_claim(sites, examples=5, device="cpu")
    assert result.verdict == "fails"
    assert result.counterexample.assertion.startswith("no site in")
    assert result.counterexample.description.startswith("a single linear layer, 1 → 1 features")


def test_an_empirical_claim_gets_the_validation() -> None:
    @claim("validation agrees on affine nets", family=architectures(blocks=["linear"]),
           empirical=True, examples=2)  # fmt: skip
    def agrees(model):
        assert model.validation.agree
        assert next(model.module.parameters()).dtype == torch.float32  # validate used a copy

    result = run_claim(agrees, device="cpu")
    assert result.verdict == "holds" and result.examples == 2
    assert result.evidence["empirical"]["validated"] == 2


def test_identities_measure_against_their_tolerance() -> None:
    @claim("exact", identity=True, tolerance=1e-12)
    def exact(check):
        return 1e-16

    @claim("inexact", identity=True, tolerance=1e-12)
    def inexact(check):
        return 1e-3

    @claim("no tolerance", identity=True)
    def untolerated(check):
        return 0.0

    @claim("asserts", identity=True)
    def asserting(check):
        assert 1 + 1 == 3, "arithmetic is broken"

    assert run_claim(exact).verdict == "holds"
    failed = run_claim(inexact)
    assert failed.verdict == "fails" and failed.measurements[0].status == "out of tolerance"
    errored = run_claim(untolerated)
    assert errored.verdict == "error" and "no tolerance" in errored.error
    assert run_claim(asserting).counterexample.assertion.startswith("arithmetic is broken")


def test_parts_decide_and_caveats_qualify() -> None:
    @claim("main", identity=True, tolerance=0.1)
    def main(check):
        return 0.0

    @main.caveat("a caveat", identity=True, tolerance=0.1)
    def caveat(check):
        return 0.0

    assert run_claim(main).verdict == "holds with caveat"

    @main.part("a failing part", identity=True, tolerance=0.1)
    def part(check):
        return 1.0

    result = run_claim(main)
    assert result.verdict == "fails"
    assert [p.verdict for p in result.parts] == ["fails"]
    assert [c.verdict for c in result.caveats] == ["holds"]


def test_the_report_is_the_claims_schema() -> None:
    progress = RecordingProgress()
    report = run_claims([relu_claim(), recurrent_claim()], examples=5, device="cpu",
                        progress=progress)  # fmt: skip
    document = json.loads(json.dumps(report.to_json()))
    assert document["schema"] == SCHEMA and document["device"] == "cpu"
    for entry in document["claims"]:
        assert {"id", "statement", "verdict", "expect", "examples", "counterexample", "evidence",
                "measurements", "sources", "seconds"} <= set(entry)  # fmt: skip
    failing = document["claims"][1]["counterexample"]
    assert set(failing) >= {"description", "assertion", "analysis"}
    started = [e[1] for e in progress.events if e[0] == "start"]
    assert started == ["claims"]  # the claims run silently: one note each, in a log one line
    notes = [e[1] for e in progress.events if e[0] == "note"]
    assert [n.split(" (")[0] for n in notes] == [
        "[1/2] relu_nets_have_static_weights: holds",
        "[2/2] recurrent_nets_are_relu_circuits: fails",
    ]
    assert report.as_expected


@pytest.mark.parametrize(
    ("options", "message"),
    [({"examples": 0}, "examples=0"), ({"seed": -1}, "seed=-1"), ({"device": "meta"}, "meta"),
     ({"device": "tpu"}, "use cpu or cuda"), ({"deadline": 0}, "deadline=0")],
)  # fmt: skip
def test_bad_run_options_name_the_option(options, message) -> None:
    with pytest.raises(SpecError, match=message):
        run_claims([relu_claim()], **options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_is_bad_input() -> None:
    with pytest.raises(SpecError, match="CUDA is not available"):
        run_claim(relu_claim(), device="cuda")


def test_the_runner_leaves_torch_threads_as_it_found_them() -> None:
    before = torch.get_num_threads()
    run_claim(relu_claim(), examples=1, device="cpu")
    assert torch.get_num_threads() == before


def test_disagreements_with_the_truth_are_counted_as_evidence() -> None:
    from hypothesis import strategies as st

    from analyzer.testing.strategies import Truth

    class Mislabelled:
        module = torch.nn.Linear(2, 2)
        args = (torch.randn(1, 2),)
        truth = Truth(frozenset({"relu"}), {}, 1, True)

        def describe(self) -> str:
            return "a linear layer said to be a ReLU"

    @claim("anything", family=st.just(Mislabelled()))
    def anything(model):
        pass

    static = run_claim(anything, device="cpu").evidence["static"]
    assert (static["truth_checked"], static["truth_disagreeing"]) == (1, 1)
    assert static["truth_disagreements"] == [
        "a linear layer said to be a ReLU: primitive set ['matmul'], built ['relu']"
    ]
