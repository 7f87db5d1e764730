"""The seed suite's mutation suite: faults that each claim or caveat must catch.

A mutation changes the tool or a claim's construction in place (a registry entry, a
pass's result, a construction's function), applied with pytest's ``MonkeyPatch`` so that
it is undone afterwards. Each names the seed claims, parts or caveats (by id) whose
result must then be *not as expected*. ``tests/claims/test_mutations.py`` runs each one
and ``bench/bench_claims_mutations.py`` prints the score (caught / total).

>>> [m.name for m in MUTATIONS][:2]
['relu nets also gate', 'LSTM/GRU registered as ReLU RNNs']
>>> sorted({t.split(".")[0] for m in MUTATIONS for t in m.targets})
['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Mutation:
    """A fault, where it is applied, and which seed results (by id) must catch it."""

    name: str
    targets: tuple[str, ...]
    apply: Callable[[Any], None]  # takes a pytest MonkeyPatch


def _wrap(monkeypatch: Any, target: str, change: Callable[..., Any]) -> None:
    """Replace the function at ``target`` ("module.name") by ``change(original, *args)``."""
    module_name, _, name = target.rpartition(".")
    module = __import__(module_name, fromlist=[name])
    original = getattr(module, name)
    monkeypatch.setattr(module, name, functools.partial(change, original))


# --- the analysis ---------------------------------------------------------------------


def _relu_also_gates(monkeypatch: Any) -> None:
    def change(original: Any, *args: Any) -> list[str]:
        found = original(*args)
        return sorted({*found, "gating"}) if "relu" in found else found

    _wrap(monkeypatch, "analyzer.analysis.circuit_class", change)


def _gated_cells_as_relu_rnns(monkeypatch: Any) -> None:
    from analyzer.passes.registry import REGISTRY

    relu_rnn = REGISTRY["aten.rnn_relu"]
    for name in ("aten.lstm", "aten.gru", "aten.lstm_cell", "aten.gru_cell",
                 "aten._thnn_fused_lstm_cell", "aten._thnn_fused_gru_cell",
                 "aten.mkldnn_rnn_layer"):  # fmt: skip
        monkeypatch.setitem(REGISTRY, name, relu_rnn)


def _drop_sites(kind: str) -> Callable[[Any], None]:
    def apply(monkeypatch: Any) -> None:
        def change(original: Any, *args: Any) -> list[Any]:
            return [site for site in original(*args) if site.kind != kind]

        _wrap(monkeypatch, "analyzer.analysis.input_products", change)

    return apply


def _softmax_as_relu(monkeypatch: Any) -> None:
    def change(original: Any, *args: Any) -> list[str]:
        found = original(*args)
        return sorted({"relu" if c == "normalization" else c for c in found})

    _wrap(monkeypatch, "analyzer.analysis.circuit_class", change)


def _static_transposes_dynamic(monkeypatch: Any) -> None:
    from analyzer.frontend.dialect import op_name
    from analyzer.passes.registry import TRANSPOSE_OPS
    from analyzer.passes.transposes import DynamicTranspose

    def change(original: Any, traced: Any, facts: Any, sites: Any) -> list[Any]:
        found = original(traced, facts, sites)
        known = {t.node for t in found}
        extra = [DynamicTranspose(node, False, False) for node in traced.op_nodes()
                 if op_name(node) in TRANSPOSE_OPS and node not in known]  # fmt: skip
        return found + extra

    _wrap(monkeypatch, "analyzer.analysis.dynamic_transposes", change)


def _gating_dropped(monkeypatch: Any) -> None:
    def change(original: Any, *args: Any) -> list[str]:
        return [c for c in original(*args) if c != "gating"]

    _wrap(monkeypatch, "analyzer.analysis.circuit_class", change)


# --- the claims' constructions --------------------------------------------------------


def _dual_form_weight_decay(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s2_backprop

    decayed = functools.partial(torch.optim.SGD, weight_decay=1e-11)
    monkeypatch.setattr(s2_backprop.torch.optim, "SGD", decayed)


def _zero_feedback(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s2_backprop

    monkeypatch.setattr(
        s2_backprop, "feedback_matrix",
        lambda generator: torch.zeros(s2_backprop.OUTPUTS, s2_backprop.HIDDEN, dtype=torch.float64),
    )  # fmt: skip


def _softplus_kinks(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s1_feedforward

    monkeypatch.setattr(s1_feedforward, "ACTIVATION", torch.nn.functional.softplus)


def _yarotsky_teeth_off(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s1_feedforward

    original = s1_feedforward.Tooth.forward
    monkeypatch.setattr(s1_feedforward.Tooth, "forward", lambda self, x: 1.001 * original(self, x))


def _keys_not_orthonormal(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s4_fast_weights

    def keys(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
        drawn = torch.randn(n, d, generator=generator, dtype=torch.float64)
        return torch.nn.functional.normalize(drawn, dim=-1)

    monkeypatch.setattr(s4_fast_weights, "memory_keys", keys)


def _icl_step_size_off(monkeypatch: Any) -> None:
    def change(original: Any, context: Any, test: Any, w_k: Any, w_q: Any, w_v: Any,
               projection: Any) -> Any:  # fmt: skip
        return original(context, test, w_k, w_q, w_v, projection * (1 + 1e-6))

    _wrap(monkeypatch, "analyzer.claims.seed.s5_icl.linear_self_attention", change)


def _softmax_is_linear(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s5_icl

    monkeypatch.setattr(s5_icl, "softmax_scores", lambda scores: scores)


def _untied_values(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s6_hopfield

    def untied(patterns: torch.Tensor, state: torch.Tensor, beta: float) -> torch.Tensor:
        value = torch.eye(len(patterns), dtype=patterns.dtype)
        value[0, 1] = 0.5  # a value projection other than the identity
        return value @ patterns @ torch.softmax(beta * patterns.T @ state, dim=0)

    monkeypatch.setattr(s6_hopfield, "hopfield_update", untied)


def _hopfield_beta_ignored(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s6_hopfield

    def change(original: Any, patterns: Any, state: Any, beta: float) -> Any:
        return original(patterns, state, 1.0)

    monkeypatch.setattr(s6_hopfield, "hopfield_update",
                        functools.partial(change, s6_hopfield.hopfield_update))  # fmt: skip


class _ShiftedReLU(torch.nn.ReLU):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x - 1.5)


def _trained_like_sparsity(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s7_brain

    monkeypatch.setattr(s7_brain, "ACTIVATION", _ShiftedReLU)


def _smooth_relu_net(monkeypatch: Any) -> None:
    from analyzer.claims.seed import s8_enrich

    monkeypatch.setattr(s8_enrich, "ACTIVATION", torch.nn.functional.softplus)


MUTATIONS: list[Mutation] = [
    Mutation("relu nets also gate", ("S1",), _relu_also_gates),
    Mutation("LSTM/GRU registered as ReLU RNNs", ("S1.recurrent", "S7"), _gated_cells_as_relu_rnns),
    Mutation("ReLU replaced by softplus in the kinks caveat", ("S1.kinks",), _softplus_kinks),
    Mutation("Yarotsky's tooth map scaled by 1.001", ("S1.yarotsky",), _yarotsky_teeth_off),
    Mutation("dual-form SGD with weight decay 1e-11", ("S2",), _dual_form_weight_decay),
    Mutation("contraction sites dropped", ("S2", "S3", "S8.static"), _drop_sites("contraction")),
    Mutation("zero feedback matrix", ("S2.feedback_alignment",), _zero_feedback),
    Mutation("normalization sites dropped", ("S3", "S6", "S7"), _drop_sites("normalization")),
    Mutation("softmax classified as relu", ("S3.softmax",), _softmax_as_relu),
    Mutation("static transposes counted as dynamic", ("S3.transpose",),
             _static_transposes_dynamic),
    Mutation("fast-weight keys not orthonormal", ("S4",), _keys_not_orthonormal),
    Mutation("in-context step size off by 1e-6", ("S5",), _icl_step_size_off),
    Mutation("softmax scores replaced by linear ones", ("S5.softmax",), _softmax_is_linear),
    Mutation("Hopfield update ignores β", ("S6",), _hopfield_beta_ignored),
    Mutation("tied values contradicted (a value projection)", ("S6.tied",), _untied_values),
    Mutation("gating class dropped", ("S7",), _gating_dropped),
    Mutation("random weights made trained-sparse (ReLU shifted by 1.5)", ("S7.sparsity",),
             _trained_like_sparsity),
    Mutation("ReLU net made smooth (softplus)", ("S8",), _smooth_relu_net),
    Mutation("gating sites dropped", ("S1.recurrent",), _drop_sites("gating")),
]  # fmt: skip
"""Every mutation of the seed suite, with the results that must catch it."""


def seed_claim(claim_id: str) -> Any:
    """The seed claim, part or caveat called ``claim_id`` (``"S1.recurrent"``)."""
    from analyzer.claims.seed import seed_suite

    def walk(claims: list[Any]) -> Any:
        for item in claims:
            if item.id == claim_id:
                return item
            found = walk([*item.parts, *item.caveats])
            if found is not None:
                return found
        return None

    found = walk(seed_suite())
    if found is None:
        raise KeyError(f"no seed claim, part or caveat {claim_id!r}")
    return found


def caught(mutation: Mutation, claim_id: str, *, examples: int = 10, seed: int = 0) -> tuple[
        bool, str]:  # fmt: skip
    """Run the seed result ``claim_id`` under ``mutation``: whether it is no longer as
    expected, and its verdict in words."""
    from _pytest.monkeypatch import MonkeyPatch

    from analyzer.claims.runner import run_claim

    with MonkeyPatch.context() as monkeypatch:
        mutation.apply(monkeypatch)
        result = run_claim(seed_claim(claim_id), examples=examples, seed=seed, device="cpu")
    lines = result.unexpected()
    return not result.as_expected, (lines[0] if lines else f"{result.verdict}, as expected")
