"""Fused RNN, LSTM and GRU layers in ``expand``, through their step-by-step
decomposition: the exact output, at random rational inputs, equals torch's own layer in
float64 (to 1e-9)."""

from __future__ import annotations

import pytest
import torch

from analyzer.symbolic.expand import degree_agrees
from tests.symbolic.test_windows import check_against_torch


class Layer(torch.nn.Module):
    """The output sequence of a recurrent layer."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.RNN(2, 2, batch_first=True), (1, 2, 2)),
        (torch.nn.RNN(2, 2, nonlinearity="relu", num_layers=2), (2, 1, 2)),
        (torch.nn.GRU(2, 2, batch_first=True), (1, 2, 2)),
        (torch.nn.GRU(2, 1, bidirectional=True, bias=False), (2, 2)),
        (torch.nn.LSTM(2, 2, batch_first=True), (1, 2, 2)),
        (torch.nn.LSTM(1, 2, proj_size=1, bidirectional=True, batch_first=True), (1, 2, 1)),
    ],
    ids=["rnn_tanh", "rnn_relu_2_layers", "gru", "gru_bidirectional_unbatched", "lstm",
         "lstm_projected_bidirectional"],
)  # fmt: skip
def test_recurrent_layers_match_torch(layer: torch.nn.Module, shape: tuple) -> None:
    torch.manual_seed(0)
    result = check_against_torch(Layer(layer.eval()), shape)
    name = type(layer).__name__.lower()
    op = {"rnn": "rnn_relu" if getattr(layer, "nonlinearity", "") == "relu" else "rnn_tanh"}.get(
        name, name
    )
    if op == "rnn_relu":
        assert result.piecewise and result.degree == 1
    else:
        assert not result.polynomial and result.degree == float("inf")
    assert result.non_polynomial == [f"{op} (aten.{op})"] and degree_agrees(result)


def test_a_long_recurrence_is_refused_with_its_sizes(run_cli) -> None:
    """Each step reads every entry of the last state through every gate: the zoo's LSTM
    (hidden 16, 6 steps) would write out ~6.9e10 terms. A clear refusal, not a hang."""
    code, _, err = run_cli("expand", "zoo:lstm", "--quiet")
    message = " ".join(err.split())
    assert code == 2, err
    assert "lstm (aten.lstm: 6 steps, hidden size 16)" in message and "--max-terms" in message
