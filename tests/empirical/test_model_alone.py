"""``validate`` of a model no frontend can trace: the model alone is measured by its values,
with no claim to compare (``analyzer/empirical/model_alone.py``); a model that fails on its
own inputs stays an error."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import analyzer
from analyzer.empirical.model_alone import NO_GRAPH, validate_model_alone
from analyzer.errors import TraceError, UntraceableError
from analyzer.render.validation import render_validation

MODELS = """
import io
import torch
from torch import nn


class Serialised(nn.Module):
    def forward(self, x):
        buffer = io.BytesIO()
        torch.save(x.detach(), buffer)
        buffer.seek(0)
        return x * torch.load(buffer)


class Broken(Serialised):
    def forward(self, x):
        return super().forward(x) @ torch.ones(5)


def serialised():
    return Serialised(), (torch.randn(2, 3),)


def broken():
    return Broken(), (torch.randn(2, 3),)
"""


def _copied(value: torch.Tensor) -> torch.Tensor:
    """``value`` through torch.save and torch.load: no frontend follows it."""
    buffer = io.BytesIO()
    torch.save(value.detach(), buffer)
    buffer.seek(0)
    return torch.load(buffer)


class SerialisedCube(nn.Module):
    """x · load(save(x²)) = x³ entrywise, the square made where no frontend can follow."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _copied(x * x)


class FailsOnItsInputs(nn.Module):
    """The escape above, then a product of mismatched shapes: the model cannot run."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * _copied(x)) @ torch.ones(5)


@pytest.fixture(scope="module")
def report() -> analyzer.ValidationReport:
    return analyzer.validate(SerialisedCube(), (torch.randn(2, 3),), samples=3, device="cpu")


def test_an_untraceable_model_is_measured_alone(report: analyzer.ValidationReport) -> None:
    assert report.degree_empirical == "3"  # read from the model's values, not a constant
    assert "model's own values" in report.degree_method
    assert not report.compared and not report.agree and not report.sound
    assert report.verdict.startswith("not compared: the model could not be traced: could not")
    assert "export:" in report.untraced and "real:" in report.untraced  # every reason
    assert report.sites == [] and report.checked_nodes == 0 and not report.graph_checked


def test_its_json_and_text_say_nothing_was_compared(report: analyzer.ValidationReport) -> None:
    document = report.to_json()
    assert document["compared"] is False and document["untraced"] == report.untraced
    assert document["agree"] is False and document["sound"] is False
    assert document["degree"]["static"] is None and document["degree"]["empirical"] == "3"
    assert document["verdict"] == report.verdict and document["frontend"] == "none"
    assert document["graph_fidelity"]["note"] == NO_GRAPH
    text = render_validation(report)
    assert "degree       static none empirical 3" in text
    for check in ("dependence", "sites", "unlisted", "transposes", "cross-entry", "graph"):
        assert f"{check:<12} {NO_GRAPH}" in text, check
    assert "verdict      not compared: the model could not be traced" in text
    assert "agree" not in text.replace("not compared", "")


def test_a_model_that_fails_on_its_inputs_stays_an_error() -> None:
    with pytest.raises(TraceError) as raised:
        analyzer.validate(FailsOnItsInputs(), (torch.randn(2, 3),), samples=2, device="cpu")
    assert not isinstance(raised.value, UntraceableError)


def test_only_a_model_that_runs_is_untraceable() -> None:
    """Both layers, each on its own: trace tells the two failures apart, and the model-alone
    run refuses a model that fails at its example inputs."""
    with pytest.raises(UntraceableError):
        analyzer.trace(SerialisedCube(), (torch.randn(2, 3),))
    with pytest.raises(TraceError) as raised:
        analyzer.trace(FailsOnItsInputs(), (torch.randn(2, 3),))
    assert not isinstance(raised.value, UntraceableError)
    with pytest.raises(TraceError, match="the model alone could not be measured either"):
        validate_model_alone(FailsOnItsInputs(), (torch.randn(2, 3),), {}, untraced="none")


def test_cli_prints_the_model_alone_and_exits_3(run_cli, tmp_path: Path) -> None:
    models = tmp_path / "escaping.py"
    models.write_text(MODELS)
    out = tmp_path / "v.json"
    argv = ["validate", f"{models}:serialised", "--samples", "2", "--device", "cpu"]
    code, stdout, stderr = run_cli(*argv, "--json", str(out))
    assert code == 3, stderr
    assert "degree       static none empirical 2" in stdout
    assert f"dependence   {NO_GRAPH}" in stdout
    assert "verdict      not compared: the model could not be traced: could not trace" in stdout
    assert "No static claim was checked: the report is of the model alone (exit 3)" in stderr
    document = json.loads(out.read_text())
    assert document["compared"] is False and document["agree"] is False
    assert document["degree"] == {**document["degree"], "static": None, "empirical": "2"}
    assert document["verdict"].startswith("not compared: the model could not be traced")

    broken = tmp_path / "broken.json"
    argv = ["validate", f"{models}:broken", "--samples", "2", "--device", "cpu"]
    code, stdout, stderr = run_cli(*argv, "--json", str(broken))
    said = " ".join(stderr.split())  # the message as one line, whatever the wrapping
    assert code == 3 and "broken fails on its example inputs (RuntimeError" in said
    assert "No frontend traces it either: could not trace" in said
    assert "not compared" not in stdout and not broken.exists()
