"""The command line: summaries, JSON, progress, and every bad-input case as one paragraph
and an exit code, with no traceback and no file left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from analyzer.cli import main
from analyzer.errors import AnalyzerError

GOOD_FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 8), nn.Linear(64, 8)

        def forward(self, x):
            return self.a(x) * torch.sigmoid(self.b(x))

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)

        def forward(self, x, scale=None):
            return self.a(x) * scale

    def build():
        return Net(), (torch.randn(2, 16, 64),)

    def with_kwargs():
        return Masked(), (torch.randn(2, 8),), {"scale": torch.randn(2, 8)}

    def broken():
        class Broken(nn.Module):
            def forward(self, x):
                raise ValueError("the model's own complaint")
        return Broken(), (torch.randn(2, 3),)

    def dict_input():
        class Dict(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 4)

            def forward(self, d):
                return self.a(d["x"]) * d["y"]
        return Dict(), ({"x": torch.randn(2, 4), "y": torch.randn(2, 4)},)

    def branching():
        class Branching(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 4)

            def forward(self, x):
                if x.sum() > 0:  # data-dependent: export fails, torch logs its reasons
                    return self.a(x) * x
                return self.a(x)
        return Branching(), (torch.ones(2, 4),)

    instance = Net()
    not_a_model = 42
    """
)
LLAMA = ["--config", "num_hidden_layers=1", "--config", "hidden_size=32",
         "--config", "intermediate_size=64", "--config", "num_attention_heads=2",
         "--config", "num_key_value_heads=1", "--config", "vocab_size=100"]  # fmt: skip


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_models.py"
    path.write_text(GOOD_FACTORY)
    return path


def one_paragraph(stderr: str) -> str:
    """The error message: present, one paragraph, no traceback."""
    assert "Traceback" not in stderr
    assert "analyzer: error: " in stderr, stderr
    message = stderr[stderr.index("analyzer: error: ") :].strip()
    assert "\n\n" not in message and message.count("analyzer: error:") == 1
    return " ".join(message.split())


def test_analyze_zoo_prints_summary_and_writes_json(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, stdout, _ = run_cli("analyze", "zoo:transformer_block", "--json", str(out))
    assert code == 0
    assert "primitive set  matmul, normalization, relu, transpose" in stdout
    assert "circuit class" not in stdout  # one word, everywhere
    assert "contraction" in stdout and "self_attn" in stdout
    assert "parameters     2,224" in stdout and "inputs         src float32[2, 6, 16]" in stdout
    assert "* piecewise: a ReLU-like kink" in stdout  # "(piecewise*)" is explained
    document = json.loads(out.read_text())
    assert (
        document["schema"] == "analyzer.analysis/1" and document["model"] == "zoo:transformer_block"
    )
    required = {"schema", "model", "frontend", "graph", "primitives", "circuit_class",
                "input_products", "dynamic_transposes", "degree", "piecewise_affine",
                "unknown_ops", "warnings", "mode", "metadata"}  # fmt: skip
    assert required <= set(document)
    site = document["input_products"][0]
    assert {"node", "op", "kind", "module", "operands", "paths"} <= set(site)


def test_the_json_records_how_to_reproduce_the_run(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "llama.json"
    code, _, _ = run_cli("analyze", "hf:llama", *LLAMA, "--seed", "7", "--json", str(out), "-q")
    assert code == 0
    metadata = json.loads(out.read_text())["metadata"]
    assert metadata["spec"] == "hf:llama" and metadata["seed"] == 7
    assert metadata["config"]["num_hidden_layers"] == 1 and len(metadata["config"]) == 6
    assert metadata["inputs"] == [{"name": "input_ids", "shape": [1, 16], "dtype": "int64"}]
    assert {"analyzer", "torch", "transformers", "python"} <= set(metadata["versions"])
    assert metadata["command"].startswith("analyzer analyze hf:llama --config")
    assert metadata["parameters"] == sum(metadata["parameters_by_module"][k]
                                         for k in ("embed_tokens", "layers", "norm"))  # fmt: skip
    assert metadata["parameters_by_module"]["layers.0.mlp"] == 3 * 32 * 64


def test_a_stored_trace_keeps_the_metadata(run_cli, tmp_path: Path) -> None:
    trace, out = tmp_path / "mlp.json", tmp_path / "again.json"
    assert run_cli("trace", "zoo:mlp", "--out", str(trace), "--seed", "3")[0] == 0
    assert run_cli("analyze", str(trace), "--json", str(out), "-q")[0] == 0
    metadata = json.loads(out.read_text())["metadata"]
    assert metadata["spec"] == "zoo:mlp" and metadata["seed"] == 3
    assert "analyzer trace zoo:mlp" in metadata["command"]


def test_factory_from_file(run_cli, models_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    code, stdout, _ = run_cli("analyze", f"{models_file}:build", "--json", str(out))
    assert code == 0 and "gating" in stdout
    assert json.loads(out.read_text())["circuit_class"] == ["gating", "matmul", "nonlinearity"]


def test_class_and_instance_with_input_spec(run_cli, models_file: Path) -> None:
    for name in ("Net", "instance"):
        code, stdout, _ = run_cli("analyze", f"{models_file}:{name}", "--input", "float32[2,16,64]")
        assert code == 0 and "gating" in stdout


def test_factory_with_keyword_inputs_and_kwarg_option(run_cli, models_file: Path) -> None:
    code, stdout, _ = run_cli("analyze", f"{models_file}:with_kwargs")
    assert code == 0 and "gating" in stdout and "scale" in stdout
    code, stdout, _ = run_cli(
        "analyze",
        f"{models_file}:Masked",
        "--input",
        "float32[2,8]",
        "--kwarg",
        "scale=float32[2,8]",
    )
    assert code == 0 and "gating" in stdout


def test_package_module_imports_from_the_current_folder(
    run_cli, models_file: Path, tmp_path: Path, monkeypatch
) -> None:
    package = tmp_path / "mypkg_cwd_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(GOOD_FACTORY)
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli("analyze", "mypkg_cwd_test.models:build", "--quiet")
    assert code == 0 and stdout == "" and stderr == ""  # --quiet: no summary, no progress
    assert str(tmp_path) not in sys.path  # the current folder was added for the import only


def test_analyse_alias_version_and_bare_help(run_cli, capsys) -> None:
    assert run_cli("analyse", "zoo:mlp", "-q")[0] == 0
    code, stdout, _ = run_cli()
    assert code == 0 and "usage: analyzer" in stdout and "report" in stdout
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and "analyzer 0." in capsys.readouterr().out


def test_help_texts_show_defaults_and_what_a_spec_may_be(capsys) -> None:
    for argv, needles, absent in [
        (
            ["validate", "--help"],
            ["(default: 16)", "(default: --samples)", "(default: 4)"],
            "FILE.json",
        ),
        (["trace", "--help"], ["package.module:NAME"], "stored trace"),
        (["analyze", "--help"], ["stored trace FILE.json", "(default: 0)"], None),
        (["zoo", "--help"], ["documented"], None),
    ]:
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert all(needle in text for needle in needles), (argv, text)
        assert absent is None or absent not in text, argv


BAD_INPUT = [
    (["analyze", "missing_file.py:build"], "missing_file.py"),
    (["analyze", "{file}:nothing_here"], "nothing_here"),
    (["analyze", "{file}:buil"], "did you mean 'build'"),
    (["analyze", "{file}:not_a_model"], "not_a_model"),
    (["analyze", "{file}:Net"], "--input"),
    (["analyze", "no_such_package_xyz.models:build"], "no_such_package_xyz"),
    (["analyze", "hf:not_a_model_type"], "not_a_model_type"),
    (["analyze", "hf:lama"], "did you mean 'llama'"),
    (["analyze", "hf:llama", "--config", "num_hidden_layers"], "num_hidden_layers"),
    (["analyze", "hf:llama", "--config", "no_such_field=3"], "no_such_field"),
    (["analyze", "hf:llama", "--config", "num_hiden_layers=3"], "did you mean 'num_hidden_layers'"),
    (["analyze", "hf:llama", "--config", "num_hidden_layers=abc"], "must be int"),
    (["analyze", "hf:llama", "--config", "hidden_size=1.5"], "must be int"),
    (["analyze", "hf:llama", "--input", "int64[1,4]"], "--kwarg"),
    (["analyze", "{file}:Net", "--input", "float32[2,x]"], "float32[2,x]"),
    (["analyze", "{file}:Net", "--input", "floaty[2]"], "floaty"),
    (["analyze", "{file}:Net", "--kwarg", "no-equals"], "--kwarg"),
    (["analyze", "zoo:nope"], "nope"),
    (["analyze", "zoo:mpl"], "did you mean 'mlp'"),
    (["analyze", "nospec"], "nospec"),
    (["analyze", "zoo:mlp", "--device", "gpu0"], "not a device torch knows"),
    (["validate", "zoo:mlp", "--device", "nonsense"], "not a device torch knows"),
    (["report", "zoo:mlp", "--device", "nonsense", "--out", "{tmp}/r"], "--device"),
]


@pytest.mark.parametrize(("argv", "needle"), BAD_INPUT)
def test_bad_input_exits_2_with_one_paragraph(
    run_cli, models_file: Path, tmp_path: Path, argv: list[str], needle: str
) -> None:
    out = tmp_path / "never.json"
    argv = [a.replace("{file}", str(models_file)).replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "analyze" or argv[0] == "validate":
        argv += ["--json", str(out)]
    code, _stdout, stderr = run_cli(*argv)
    assert code == 2, stderr
    assert needle in one_paragraph(stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_models.py"]  # nothing written


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("command", ["analyze", "validate", "trace", "report"])
def test_cuda_on_a_cpu_only_machine_says_so(run_cli, tmp_path: Path, command: str) -> None:
    out = ["--out", str(tmp_path / "x")] if command in ("trace", "report") else []
    code, _, stderr = run_cli(command, "zoo:mlp", "--device", "cuda", *out)
    assert code == 2 and "CUDA is not available here" in one_paragraph(stderr)
    assert "building" not in stderr  # checked before any work
    assert list(tmp_path.iterdir()) == []


def unwritable_targets(tmp_path: Path) -> list[tuple[str, str]]:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    targets = [(str(a_file / "out.json"), "is a file"), ("/proc/analyzer-out.json", "/proc")]
    if os.geteuid() != 0:  # root writes into read-only folders, so only others can test it
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        targets.append((str(locked / "out.json"), "cannot create files"))
    return targets


@pytest.mark.parametrize("option", [["analyze", "--json"], ["analyze", "--graphml"],
                                    ["trace", "--out"], ["report", "--out"],
                                    ["validate", "--json"], ["zoo", "--out"]])  # fmt: skip
def test_unwritable_outputs_fail_before_the_work(
    run_cli, tmp_path: Path, option: list[str]
) -> None:
    command, flag = option
    for target, needle in unwritable_targets(tmp_path):
        spec = [] if command == "zoo" else ["zoo:mlp"]
        before = sorted(tmp_path.rglob("*"))
        code, _, stderr = run_cli(command, *spec, flag, target)
        assert code == 2, (option, target, stderr)
        assert needle in one_paragraph(stderr) and flag in stderr
        assert "building" not in stderr and "analysing" not in stderr  # up front
        assert sorted(tmp_path.rglob("*")) == before  # no file left behind


def test_forward_that_raises_exits_3_with_its_message(
    run_cli, models_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never.json"
    code, _, stderr = run_cli("analyze", f"{models_file}:broken", "--json", str(out))
    assert code == 3
    message = one_paragraph(stderr)
    assert "the model's own complaint" in message
    assert "export:" in message and "real:" in message  # every frontend's reason
    assert not out.exists()


def test_validate_on_dict_inputs_agrees(run_cli, models_file: Path, tmp_path: Path) -> None:
    """``a(d["x"]) * d["y"]``: one gating site, degree 2, both confirmed."""
    out = tmp_path / "v.json"
    argv = ["validate", f"{models_file}:dict_input", "--samples", "2", "--pairs", "2"]
    code, stdout, stderr = run_cli(*argv, "--device", "cpu", "--json", str(out))
    assert code == 0 and "Traceback" not in stderr, stderr
    assert "degree       static 2    empirical 2" in stdout
    document = json.loads(out.read_text())
    assert document["agree"] is True
    assert [(p["kind"], p["confirmed"]) for p in document["products"]] == [("gating", True)]


def test_debug_shows_the_traceback_before_or_after_the_command(models_file: Path) -> None:
    """``--debug`` on either side of the command lets the error leave ``main``, so that
    Python prints its traceback (in-process: the real process's traceback and exit code are
    checked by ``test_cli_unix.py::test_debug_shows_torchs_own_log_lines``)."""
    for argv in (["--debug", "analyze", f"{models_file}:broken"],
                 ["analyze", f"{models_file}:broken", "--debug"]):  # fmt: skip
        with pytest.raises(AnalyzerError, match="the model's own complaint"):
            main(argv)


def test_torch_log_spam_stays_hidden_unless_debug(models_file: Path) -> None:
    spec = f"{models_file}:branching"
    quiet = subprocess.run([sys.executable, "-m", "analyzer.cli", "analyze", spec],
                           capture_output=True, text=True)  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert "symbolic_shapes" not in quiet.stderr and "def forward" not in quiet.stderr
    assert "frontend real" in quiet.stdout  # export failed; the reason is in the warnings
    loud = subprocess.run([sys.executable, "-m", "analyzer.cli", "--debug", "analyze", spec],
                          capture_output=True, text=True)  # fmt: skip
    assert loud.returncode == 0 and len(loud.stderr) > len(quiet.stderr)


def test_progress_lines_in_a_pipe(run_cli, tmp_path: Path) -> None:
    code, stdout, stderr = run_cli("report", "zoo:mlp", "--out", str(tmp_path / "r"))
    assert code == 0 and "primitive set  matmul, relu" in stdout  # report prints the summary
    lines = stderr.splitlines()
    for step in ("building zoo:mlp", "tracing zoo:mlp", "analysing", "drawing", "writing"):
        assert any(line.startswith(step) and line.endswith("…") for line in lines), step
        assert any(line.startswith(step) and " s" in line and "done in" in line for line in lines)
    last = lines[-1]  # the whole command's time, with the steps that took it
    assert last.startswith(f"wrote {tmp_path / 'r' / 'index.html'} in ")
    # the steps that took time are named (a warm process traces a small model in ms)
    assert last.endswith(" s") or last.endswith(" s)")
    assert "\r" not in stderr  # plain lines, no live bar, in a pipe


def test_quiet_silences_progress_everywhere(run_cli, tmp_path: Path) -> None:
    for argv in (["analyze", "zoo:mlp"], ["report", "zoo:mlp", "--out", str(tmp_path / "r")],
                 ["trace", "zoo:mlp", "--out", str(tmp_path / "t.json")]):  # fmt: skip
        for flag in (["--quiet"], ["-q"]):
            code, stdout, stderr = run_cli(*argv, *flag)
            assert code == 0 and stdout == "" and stderr == "", argv


def test_explore_without_model_explorer_says_how_to_install(run_cli, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "model_explorer", None)  # import fails
    code, _, stderr = run_cli("explore", "zoo:mlp")
    assert code == 4 and "pip install ai-edge-model-explorer" in one_paragraph(stderr)
    assert "building" not in stderr


def test_zoo_computes_the_verdicts_and_flags_a_difference(run_cli, monkeypatch) -> None:
    import dataclasses

    from analyzer.frontend import zoo

    entry = zoo.ZOO["mlp"]
    wrong = dataclasses.replace(entry.verdict, degree="2")
    monkeypatch.setitem(zoo.ZOO, "mlp", dataclasses.replace(entry, verdict=wrong))
    code, stdout, stderr = run_cli("zoo")
    assert code == 0
    assert "differs from the documented verdict: degree 1 (documented: 2)" in stdout
    assert "1 differ from the documented verdicts" in stdout
    assert "hypernetwork" in stdout and "analysing the zoo" in stderr


def test_zoo_out_writes_reports(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "my-reports"
    code, stdout, _ = run_cli("zoo", "--out", str(out))
    assert code == 0 and "every verdict matches the documented one" in stdout
    index = (out / "index.md").read_text()
    assert f"`analyzer zoo --out {out}`" in index  # the --out it was given
    assert "| [mlp](mlp/index.html) | matmul, relu |" in index
    assert 'href="lstm/index.html"' in (out / "index.html").read_text()
    lstm = json.loads((out / "lstm" / "analysis.json").read_text())
    assert lstm["circuit_class"] == ["gating", "matmul", "nonlinearity"]


def test_a_missing_python_package_is_named_with_its_install_command(
    run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package the command needs but the environment lacks (here hypothesis, which the
    claims draw their families with) is exit 4 with the pip command, not an internal error;
    a missing module the tool does not know of stays an internal error (exit 5)."""
    import analyzer.claims.loading

    def missing(name: str):
        def load(path):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        return load

    monkeypatch.setattr(analyzer.claims.loading, "load_claims", missing("hypothesis"))
    code, _, err = run_cli("claims", "some_claims.py")
    assert code == 4, err
    assert "needs the Python package 'hypothesis'" in err and "pip install" in err
    monkeypatch.setattr(analyzer.claims.loading, "load_claims", missing("left_pad"))
    code, _, err = run_cli("claims", "some_claims.py")
    assert code == 5 and "internal error" in err
