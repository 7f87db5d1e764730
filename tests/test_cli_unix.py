"""The command line as a Unix tool: a mistake ends in one paragraph on stderr and its exit
code, with none of torch's own log lines, and a reader that leaves early (``| head``)
ends the command quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

ANALYZER = [sys.executable, "-m", "analyzer"]


def _progress_or_error(stderr: str) -> list[str]:
    """stderr's lines other than progress (``step …``, ``step: done in``, ``failed after``)."""
    return [
        line
        for line in stderr.splitlines()
        if not (line.endswith("…") or ": done in " in line or ": failed after " in line)
    ]


def _one_paragraph(stderr: str) -> str:
    lines = _progress_or_error(stderr)
    assert lines and lines[0].startswith("analyzer: error: "), stderr
    assert all(not line.startswith("analyzer:") for line in lines[1:]), stderr
    text = "\n".join(lines)
    for noise in ("Traceback", "fake_tensor.py", "E1", "W1", "symbolic_shapes", "def forward"):
        assert noise not in text, (noise, stderr)
    return " ".join(lines)


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        # the forward fails on fake tensors: torch logs a traceback at ERROR level
        (["analyze", "zoo:mlp", "--input", "float32[1,4]"], 3, "same reduction"),
        # symbolic export guards: torch's guard text stays out, the conclusion is said
        (["cost", "zoo:convnet", "--dim", "x:2=H"], 2, "cannot keep x:2 (H) symbolic"),
        (["cost", "zoo:convnet", "--dim", "img:2=H"], 2, "no input is called 'img'"),
        (["analyze", "zoo:mlpp"], 2, "did you mean"),
    ],
)
def test_a_mistake_is_one_paragraph_and_its_exit_code(
    argv: list[str], code: int, said: str
) -> None:
    done = subprocess.run([*ANALYZER, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == code, done.stderr
    assert said in _one_paragraph(done.stderr)
    assert done.stdout == ""


def test_debug_shows_torchs_own_log_lines() -> None:
    argv = [*ANALYZER, "--debug", "analyze", "zoo:mlp", "--input", "float32[1,4]"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "fake_tensor.py" in done.stderr


@pytest.mark.parametrize(
    "argv", [["zoo"], ["analyze", "zoo:transformer_block"]], ids=["zoo", "analyze"]
)
@pytest.mark.parametrize("reader", [["head", "-1"], ["true"]], ids=["head", "closed"])
def test_a_reader_that_leaves_ends_the_command_quietly(argv: list[str], reader: list[str]) -> None:
    """``analyzer zoo | head -1``: the writer finds the pipe closed (always so with
    ``| true``, which reads nothing) and stops like a Unix tool, without a traceback or
    an "internal error"."""
    writer = subprocess.Popen(
        [*ANALYZER, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stderr is not None
    read = subprocess.run(reader, stdin=writer.stdout, capture_output=True, text=True)
    writer.stdout.close()  # only the reader holds the pipe's read end now
    stderr = writer.stderr.read()
    code = writer.wait(timeout=300)
    assert code in (0, 141), stderr
    assert _progress_or_error(stderr) == [] or all(
        not line.startswith("analyzer: error") and "Error" not in line
        for line in _progress_or_error(stderr)
    ), stderr
    assert "Traceback" not in stderr and "bug" not in stderr
    if reader[0] == "head":
        assert len(read.stdout.splitlines()) == 1


def test_validates_closing_line_speaks_words_not_json_keys(run_cli) -> None:
    """In-process: the wording is the command's, not the process's."""
    code, stdout, _ = run_cli("validate", "zoo:mlp", "--samples", "2", "--device", "cpu")
    closing = stdout.splitlines()[-1]
    assert code == 0 and closing.startswith("verdict"), stdout
    assert "dependence/sites/cross terms" in closing and "_" not in closing, closing


MODELS = """import torch
def build():
    return torch.nn.Linear(2, 2), (torch.randn(1, 2),)
class Net(torch.nn.Module):
    def forward(self, x):
        return x
"""


def test_spec_mistakes_name_what_to_give(run_cli, tmp_path) -> None:
    models = tmp_path / "models.py"
    models.write_text(MODELS)
    code, _, stderr = run_cli("analyze", str(models))
    assert code == 2 and f"{models}:build, {models}:Net" in " ".join(stderr.split())
    code, _, stderr = run_cli("analyze", f"{tmp_path}:build")
    assert code == 2 and "is a folder, not a Python file" in " ".join(stderr.split())
    assert "does not exist" not in stderr


def test_a_foreign_json_given_as_a_trace_names_its_schema(run_cli, tmp_path) -> None:
    analysis = tmp_path / "a.json"
    assert run_cli("-q", "analyze", "zoo:mlp", "--json", str(analysis))[0] == 0
    code, _, stderr = run_cli("analyze", str(analysis))
    assert code == 2 and "schema 'analyzer.analysis/1'" in stderr
