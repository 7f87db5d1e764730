"""The pytest plugin, run through pytester: claim files collected, one test per claim,
failures shown with their counterexample, and --analyzer-device given to tests."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest
import torch

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="module")
def _imported_before_pytester() -> None:
    """pytester's inline runs drop the modules imported during a run, and torch registers op
    libraries when some of its modules are first imported (twice is an error): trace and
    validate once here, so that those imports happen outside every inline run."""
    from analyzer.claims.model import Model
    from analyzer.testing.blocks import Block
    from analyzer.testing.strategies import Architecture

    Model.of(Architecture((Block("layernorm", 1, 1),), 1, 2, 1, 0), empirical=True, device="cpu")


CLAIMS = textwrap.dedent(
    """
    from analyzer.claims import claim, fails
    from analyzer.strategies import architectures

    @claim("ReLU nets are piecewise affine and have no input-by-input products",
           family=architectures(blocks=["linear", "relu"]), examples=5)
    def relu_nets_have_static_weights(model):
        assert not model.analysis.sites
        assert model.analysis.piecewise_affine

    @claim("recurrent nets are matmul and ReLU", expect=fails(site_kind="gating"), examples=20,
           family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))
    def recurrent_nets_are_relu_circuits(model):
        assert set(model.analysis.circuit_class) <= {"matmul", "relu"}

    @claim("gated nets have no gating site", examples=20,
           family=architectures(blocks=["linear", "lstm"]))
    def gated_nets_are_ungated(model):
        assert not model.analysis.sites, "a site"

    @gated_nets_are_ungated.caveat("a caveat runs under its claim", identity=True)
    def not_collected(check):
        pass
    """
)


def plugin_args() -> list[str]:
    """``-p analyzer.testing.plugin`` unless the entry point is installed (then pytest loads
    it already, and loading it twice is an error)."""
    installed = any(
        ep.value.startswith("analyzer.testing.plugin")
        for ep in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "analyzer.testing.plugin"]


def test_a_claim_file_is_collected_and_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_claims=CLAIMS)
    result = pytester.runpytest(*plugin_args(), "--analyzer-device", "cpu", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*my_claims.py::relu_nets_have_static_weights PASSED*",
        "*my_claims.py::recurrent_nets_are_relu_circuits PASSED*",
        "*my_claims.py::gated_nets_are_ungated FAILED*",
        "*claim 'gated_nets_are_ungated': fails, expected holds*",
        "*counterexample: a single LSTM layer, input 1, hidden 1: gating site at rnn*",
    ])  # fmt: skip
    assert "not_collected" not in result.stdout.str()


def test_claim_files_are_found_in_a_folder_and_marked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        claims_small=(
            "from analyzer.claims import claim\n"
            "@claim('an identity', identity=True, tolerance=0)\n"
            "def exact(check):\n"
            "    return 0.0\n"
        ),
        test_ordinary=(
            "from analyzer.claims import claim\n"
            "@claim('collected by its name', identity=True)\n"
            "def test_named_claim(check):\n"
            "    pass\n"
            "@claim('not a test name', identity=True)\n"
            "def helper_claim(check):\n"
            "    pass\n"
        ),
        helpers="x = 1\n",
    )
    result = pytester.runpytest(*plugin_args(), "-m", "claim", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*claims_small.py::exact PASSED*",
                                 "*test_ordinary.py::test_named_claim PASSED*"])  # fmt: skip


def test_the_device_option_reaches_tests_and_claims(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_device="def test_device(analyzer_device):\n"
                                    "    assert analyzer_device == 'cpu'\n")  # fmt: skip
    pytester.runpytest(*plugin_args(), "--analyzer-device", "cpu").assert_outcomes(passed=1)
    if not torch.cuda.is_available():
        bad = pytester.runpytest(*plugin_args(), "--analyzer-device", "cuda")
        bad.assert_outcomes(errors=1)
        bad.stdout.fnmatch_lines(["*CUDA is not available*"])


def test_a_claim_that_raises_reports_its_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        broken_claims=(
            "from analyzer.claims import claim\n"
            "@claim('broken', identity=True)\n"
            "def broken(check):\n"
            "    raise ZeroDivisionError('no')\n"
        )
    )
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*claim 'broken' raised: ZeroDivisionError: no*"])


CAVEAT_FAILS = (
    "from analyzer.claims import claim\n"
    "from analyzer.strategies import architectures\n"
    "@claim('ReLU nets have no product', family=architectures(blocks=['linear', 'relu']),\n"
    "       examples=3)\n"
    "def relu_nets(model):\n"
    "    assert not model.analysis.sites\n"
    "@relu_nets.caveat('arithmetic is odd', identity=True)\n"
    "def odd(check):\n"
    "    assert 1 + 1 == 3\n"
)


def test_a_caveat_that_fails_fails_the_test_with_its_assertion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(caveat_claims=CAVEAT_FAILS)
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*caveat odd: fails, expected holds*", "*assert 1 + 1 == 3*"])
    assert "torch.__trace" not in result.stdout.str()


def test_the_plugin_takes_confirmation_and_database_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        layer_claims=(
            "from analyzer.claims import claim, fails\n"
            "from analyzer.strategies import architectures\n"
            "@claim('layer norm has no product', family=architectures(blocks=['layernorm']),\n"
            "       expect=fails(site_kind='normalization'), examples=3)\n"
            "def layer_norm(model):\n"
            "    assert not model.analysis.sites\n"
        )
    )
    database = pytester.path / "examples-db"
    result = pytester.runpytest(
        *plugin_args(), "--analyzer-no-confirm", "--analyzer-database", str(database)
    )
    result.assert_outcomes(passed=1)
    assert database.is_dir() and any(database.rglob("*"))


def test_imported_claims_parts_and_caveats_are_not_collected_as_functions(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        mine=(
            "from analyzer.claims import claim\n"
            "@claim('an identity', identity=True)\n"
            "def test_main(check):\n"
            "    pass\n"
            "@test_main.caveat('a caveat', identity=True)\n"
            "def test_its_caveat(check):\n"
            "    pass\n"
        ),
        test_other="from mine import test_main\n",
    )
    result = pytester.runpytest(*plugin_args(), "test_other.py")
    result.assert_outcomes()  # nothing collected, nothing errs
    result = pytester.runpytest(*plugin_args(), "mine.py", "-v")
    result.assert_outcomes(passed=1)
