"""Random fx graphs over registry ops: the analysis never crashes on them, and what it
calls static or discrete never moves when the real graph is differentiated."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from analyzer.analysis import analyze
from analyzer.empirical.validate import validate
from analyzer.errors import SpecError
from analyzer.passes.facts import INF
from analyzer.testing.opgraphs import OPS, OpGraph, build_op_graph, op_graphs


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(op_graphs())
def test_the_analysis_reads_every_drawn_graph(drawn: OpGraph) -> None:
    analysis = analyze(drawn.module, drawn.args)
    assert analysis.unknown_ops == [], drawn
    assert drawn.module(*drawn.args).shape == (drawn.size, drawn.size)


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(op_graphs(max_ops=4))
def test_static_contains_empirical_on_drawn_graphs(drawn: OpGraph) -> None:
    report = validate(drawn.module, drawn.args, samples=4, pairs=8, device="cpu").to_json()
    assert report["dependence"]["violations"] == 0, (drawn, report["dependence"])
    static, empirical = report["degree"]["static"], report["degree"]["empirical"]
    as_number = {"inf": INF}
    assert as_number.get(empirical, empirical and float(empirical)) <= as_number.get(
        static, static and float(static)
    ), (drawn, static, empirical)  # the static degree bounds the measured one


@pytest.mark.parametrize(
    ("options", "message"),
    [({"ops": ["nope"]}, "non-empty list"), ({"ops": "add"}, "non-empty list"),
     ({"max_ops": 0}, "max_ops"), ({"max_size": 17}, "max_size")],
)  # fmt: skip
def test_options_are_checked(options, message) -> None:
    with pytest.raises(SpecError, match=message):
        op_graphs(**options)


@pytest.mark.parametrize("name", list(OPS))
def test_every_op_builds_a_graph_the_analysis_reads(name: str) -> None:
    picks = tuple(range(OPS[name][0]))
    drawn = build_op_graph([(name, picks)], size=3, inputs=2, seed=0)
    assert drawn.ops == (name,)
    assert drawn.module(*drawn.args).shape == (3, 3)
    assert analyze(drawn.module, drawn.args).unknown_ops == []
