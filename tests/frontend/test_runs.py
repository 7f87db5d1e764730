"""A model whose tensors are materialised is run once on its example inputs before any
verdict: a forward that fails (an input of the wrong dtype that fake tracing lets through)
is exit 3 with the model's own error, and a meta model is never run."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import analyzer
from analyzer.errors import TraceError
from analyzer.frontend.runs import check_forward_runs, materialised

GATED = textwrap.dedent(
    """
    import torch
    from torch import nn

    class GatedMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate, self.up, self.down = nn.Linear(16, 32), nn.Linear(16, 32), nn.Linear(32, 16)

        def forward(self, x):
            return self.down(torch.sigmoid(self.gate(x)) * self.up(x))
    """
)


class GatedMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(16, 32), nn.Linear(16, 32), nn.Linear(32, 16)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += type(x) is torch.Tensor  # a real run, not a tracer's fake one
        return self.down(torch.sigmoid(self.gate(x)) * self.up(x))


def _integers() -> torch.Tensor:
    return torch.randint(0, 5, (2, 8, 16))


def test_export_traces_the_wrong_dtype_but_eager_torch_refuses_it() -> None:
    """The premise: fake propagation lets it through, the model's own kernels do not."""
    model = GatedMLP()
    with warnings.catch_warnings(action="ignore"):
        torch.export.export(model, (_integers(),), strict=False)  # no error
    with pytest.raises(RuntimeError, match="same dtype"):
        model(_integers())


def test_analyze_refuses_inputs_the_model_cannot_run() -> None:
    with pytest.raises(TraceError) as refused, warnings.catch_warnings(action="ignore"):
        analyzer.analyze(GatedMLP(), (_integers(),))
    message = str(refused.value)
    assert "fails on its example inputs" in message and "mat1 and mat2" in message
    assert refused.value.exit_code == 3


def test_a_model_that_runs_is_run_once_and_left_as_it_was() -> None:
    model = GatedMLP()
    x = torch.randn(2, 8, 16)
    before = x.clone()
    state = torch.random.get_rng_state()
    with warnings.catch_warnings(action="ignore"):
        result = analyzer.analyze(model, (x,))
    assert model.calls == 1
    assert torch.equal(x, before) and torch.equal(torch.random.get_rng_state(), state)
    assert result.circuit_class == ["gating", "matmul", "nonlinearity"]


def test_a_meta_model_is_never_run() -> None:
    model = GatedMLP().to("meta")
    args = (torch.empty(2, 8, 16, device="meta"),)
    assert not materialised(model, args, {})
    check_forward_runs(model, args, {}, "meta model")
    assert model.calls == 0


def test_the_cli_exits_3_with_the_models_error(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "gated.py"
    path.write_text(GATED)
    out = tmp_path / "never.json"
    code, stdout, stderr = run_cli(
        "analyze", f"{path}:GatedMLP", "--input", "int64[2,8,16]", "--json", str(out)
    )
    assert code == 3
    assert "primitive set" not in stdout and not out.exists()
    message = " ".join(stderr[stderr.index("analyzer: error: ") :].split())
    assert "mat1 and mat2 must have the same dtype" in message
    assert "Traceback" not in stderr and "\n\n" not in stderr.strip()
    code, stdout, _ = run_cli("analyze", f"{path}:GatedMLP", "--input", "float32[2,8,16]")
    assert code == 0 and "gating" in stdout


def test_the_run_leaves_written_parameters_and_buffers_as_they_were() -> None:
    class Writer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(4))
            self.register_buffer("cache", torch.zeros(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                self.w.copy_(x.mean(0))
            self.cache.copy_(x[0] * self.w)  # with autograd: the buffer would require grad
            return x * self.w + self.cache

    model = Writer()
    check_forward_runs(model, (torch.randn(3, 4),), {}, "writer")
    assert torch.equal(model.w, torch.zeros(4)) and torch.equal(model.cache, torch.zeros(4))
    assert model.w.requires_grad and not model.cache.requires_grad


def test_a_model_that_fails_and_cannot_be_traced_says_its_own_failure() -> None:
    """When no frontend traces a model that also fails on its inputs, the model's own
    failure is the error (a ForwardError): the census records it as such, not as a
    tracing problem that a validation would report as merely "not checked"."""
    from analyzer.errors import ForwardError
    from analyzer.frontend.tracing import trace

    class Refuses(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("tokens: 0, features: 9")

    with pytest.raises(ForwardError, match="tokens: 0, features: 9") as caught:
        trace(Refuses(), (torch.randn(1, 3),), model="refuses")
    assert isinstance(caught.value.__cause__, ValueError)
