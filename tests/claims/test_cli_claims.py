"""``analyzer claims``: the user's claim files, the outputs, --strict and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

FILE = """
from analyzer.claims import claim, fails
from analyzer.strategies import architectures

@claim("ReLU nets are piecewise affine and have no input-by-input products",
       family=architectures(blocks=["linear", "conv", "relu", "maxpool", "residual"]))
def relu_nets_have_static_weights(model):
    assert not model.analysis.sites
    assert model.analysis.piecewise_affine

@claim("recurrent nets are matmul and ReLU", expect=fails(site_kind="gating"),
       family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))
def recurrent_nets_are_relu_circuits(model):
    assert set(model.analysis.circuit_class) <= {"matmul", "relu"}
"""

WRONG = """
from analyzer.claims import claim

@claim("one plus one is three", identity=True, tolerance=0.0)
def wrong(check):
    return 1 + 1 - 3
"""


@pytest.fixture
def claims_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_claims.py"
    path.write_text(FILE)
    return path


def test_a_claim_file_runs_and_writes_json_and_a_report(run_cli, claims_file, tmp_path) -> None:
    out, report = tmp_path / "claims.json", tmp_path / "report"
    code, stdout, stderr = run_cli(
        "claims", str(claims_file), "--examples", "5", "--device", "cpu",
        "--json", str(out), "--report", str(report),
    )  # fmt: skip
    assert code == 0, stderr
    assert "relu_nets_have_static_weights" in stdout and "holds" in stdout
    assert (
        "counterexample [confirmed empirically]: a single LSTM layer, input 1, hidden 1: "
        "gating site at rnn"
    ) in stdout
    assert "[1/2] relu_nets_have_static_weights: holds (" in stderr
    # One line per claim in a log (captured stderr is no terminal): no claim's own task lines.
    assert [line for line in stderr.splitlines() if "relu_nets_have_static_weights" in line] == [
        line for line in stderr.splitlines() if line.startswith("[1/2] ")
    ]
    assert sum("recurrent_nets_are_relu_circuits" in line for line in stderr.splitlines()) == 1
    document = json.loads(out.read_text())
    assert document["schema"] == "analyzer.claims/1" and document["device"] == "cpu"
    assert [c["verdict"] for c in document["claims"]] == ["holds", "fails"]
    assert (report / "index.html").is_file() and (report / "claims.json").is_file()


def test_strict_exits_1_when_a_verdict_is_not_expected(run_cli, tmp_path) -> None:
    path = tmp_path / "wrong_claims.py"
    path.write_text(WRONG)
    assert run_cli("claims", str(path), "--device", "cpu")[0] == 0
    code, stdout, _ = run_cli("claims", str(path), "--device", "cpu", "--strict")
    assert code == 1 and "no (holds)" in stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["claims", "missing.py"], "does not exist"),
        (["claims", "--examples", "0"], "--examples 0"),
        (["claims", "--seed", "-2"], "--seed -2"),
        (["claims", "--device", "meta"], "meta"),
        (["claims", "--json", "/no/such/folder/c.json"], "does not exist"),
    ],
)
def test_bad_input_exits_2_before_running(run_cli, argv, message) -> None:
    code, _, stderr = run_cli(*argv)
    assert code == 2 and message in stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_exits_2(run_cli) -> None:
    code, _, stderr = run_cli("claims", "--device", "cuda")
    assert code == 2 and "CUDA is not available" in stderr


def test_a_report_path_that_is_a_file_is_refused(run_cli, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, stderr = run_cli("claims", "--report", str(blocker))
    # the message is wrapped to the terminal's width: a long temporary path moves the break
    assert code == 2 and "give a folder" in " ".join(stderr.split())


CAVEATS = """
from analyzer.claims import claim
from analyzer.strategies import architectures

@claim("ReLU nets have no product", family=architectures(blocks=["linear", "relu"]), examples=3)
def relu_nets(model):
    assert not model.analysis.sites

@relu_nets.caveat("arithmetic is odd", identity=True)
def odd(check):
    assert 1 + 1 == 3

@relu_nets.caveat("a caveat that raises", identity=True)
def raising(check):
    raise KeyError("oops")
"""


def test_a_failing_or_raising_caveat_fails_strict_everywhere(run_cli, tmp_path) -> None:
    path = tmp_path / "caveat_claims.py"
    path.write_text(CAVEATS)
    out, report = tmp_path / "claims.json", tmp_path / "report"
    code, stdout, stderr = run_cli(
        "claims", str(path), "--device", "cpu", "--strict", "--json", str(out),
        "--report", str(report),
    )  # fmt: skip
    assert code == 1, stderr
    assert "caveat odd: fails, expected holds" in stdout and "assert 1 + 1 == 3" in stdout
    assert "caveat raising: error, expected holds" in stdout and "KeyError" in stdout
    assert "some verdicts not as expected" in stdout
    (document,) = json.loads(out.read_text())["claims"]
    assert document["as_expected"] is False and document["own_as_expected"] is True
    assert any("1 + 1 == 3" in line for line in document["unexpected"])
    page = (report / "index.html").read_text()
    assert "not as expected" in page and "assert 1 + 1 == 3" in page and "KeyError" in page
    code, _, _ = run_cli("claims", str(path), "--device", "cpu")
    assert code == 0  # without --strict the run itself succeeded
