"""``census --executor ray``: on a local Ray cluster of two workers, a killed worker is a
``crash``, a task past its deadline a ``timeout``, and a store half-filled by one executor is
finished by the other."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch

from analyzer.census import CensusOptions, run_census
from analyzer.census_ray import RayExecutor, connect
from analyzer.progress import RecordingProgress
from tests.programs import need_module
from tests.test_census import standin

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ray():
    """The ray package: a skip without it, a failure in CI (whose set-up installs it)."""
    return need_module("ray")


@pytest.fixture(scope="module")
def cluster(ray):
    """A local Ray cluster of two workers (this machine's two cores)."""
    connect(ray, None, {"num_cpus": 2})
    yield
    ray.shutdown()


@pytest.mark.timeout(120)
def test_a_type_runs_on_ray_and_the_local_pool_resumes_its_store(ray, tmp_path) -> None:
    """The default suite's Ray smoke test: one worker, one type (about 10 s on two idle cores)."""
    connect(ray, None, {"num_cpus": 1})
    try:
        options = CensusOptions(workers=1, timeout=60, reports=False)
        document = run_census(tmp_path, ["vit"], options, analyse=standin, executor=RayExecutor())
    finally:
        ray.shutdown()
    assert document["models"]["vit"]["status"] == "analysed"
    assert (tmp_path / "results" / "vit.json").is_file()
    progress = RecordingProgress()
    again = run_census(tmp_path, ["vit"], options, resume=True, progress=progress, analyse=standin)
    assert runs(progress) == 0 and again["models"]["vit"] == document["models"]["vit"]


def runs(progress: RecordingProgress) -> int:
    """How many types the census ran (not resumed)."""
    return next(e[2] for e in progress.events if e[:2] == ("start", "census"))


@pytest.mark.slow  # about 4 min on two cores shared with a dozen other processes
def test_ray_records_crash_and_timeout_and_resumes_the_local_store(cluster, tmp_path) -> None:
    options = CensusOptions(workers=2, timeout=20, reports=False)
    first = run_census(tmp_path, ["vit", "t5"], options, analyse=standin)  # the local pool
    types = ["bert", "gpt2", "vit", "t5", "clip"]
    progress = RecordingProgress()
    document = run_census(
        tmp_path, types, options, resume=True, progress=progress, analyse=standin,
        executor=RayExecutor(),
    )  # fmt: skip
    assert runs(progress) == 3  # vit and t5 came from the local pool's store
    models = document["models"]
    assert models["vit"] == first["models"]["vit"]
    assert models["bert"]["category"] == "timeout"  # sleeps 600 s: its worker killed
    assert "Ray worker was killed" in models["bert"]["error"]
    assert models["gpt2"]["category"] == "crash"  # os._exit: the worker died
    assert models["clip"]["status"] == "analysed"
    notes = [e[1] for e in progress.events if e[0] == "note"]
    assert notes[0] == "resuming: 2 of 5 types already done"
    assert notes[-1].startswith("[3/3]") and "2 failed" in notes[-1]

    # and back: the local pool finishes the store the Ray executor wrote
    progress = RecordingProgress()
    again = run_census(
        tmp_path, [*types, "llama"], options, resume=True, progress=progress, analyse=standin
    )
    assert runs(progress) == 1
    assert again["models"]["gpt2"] == models["gpt2"] and again["models"]["llama"]["nodes"] == 1


def test_the_cli_without_ray_exits_4(run_cli, tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ModuleNotFoundError
    code, _, err = run_cli("census", "--types", "gpt2", "--out", str(tmp_path), "--executor", "ray")
    assert code == 4 and "pip install 'ray[default]'" in err


class SlowInFloat64(torch.nn.Module):
    """A linear layer that hangs when validated (float64), not when recorded (float32)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float64 and not isinstance(x, torch._subclasses.FakeTensor):
            time.sleep(600)
        return torch.relu(self.linear(x))


TIMINGS = ("seconds", "seconds_by_check", "memory_budget_gib", "peak_memory_gib")


def untimed(document: dict) -> dict:
    """A block's validation document less what the clock and the machine's memory set."""
    return {k: v for k, v in document.items() if k not in TIMINGS}


def text_untimed(text: str) -> str:
    return re.sub(r"\d+\.\d+ s", "_ s", text)


@pytest.mark.slow
def test_blockwise_on_ray_matches_the_local_run_and_reports_a_stuck_block(cluster) -> None:
    from analyzer.blockwise_ray import validate_blockwise_ray
    from analyzer.empirical.blockwise import validate_blockwise
    from analyzer.render.validation import render_blockwise

    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
                                  for _ in range(3)])  # fmt: skip
    x = torch.randn(2, 4)
    local = validate_blockwise(stack, (x,), samples=2, blocks="all", device="cpu")
    remote = validate_blockwise_ray(stack, (x,), samples=2, blocks="all")
    # the same per-block results, the same document and the same text as the local run
    assert [b.path for b in remote.blocks] == [b.path for b in local.blocks] == ["0", "1", "2"]
    for here, there in zip(local.blocks, remote.blocks, strict=True):
        assert untimed(there.report.to_json()) == untimed(here.report.to_json())
        assert there.instances == here.instances
    document, expected = remote.to_json(), local.to_json()
    assert document["executor"] == "ray" and document["failed_blocks"] == []
    assert [untimed(b["validation"]) for b in document["blocks"]] == [
        untimed(b["validation"]) for b in expected["blocks"]
    ]
    assert {k: v for k, v in document.items() if k not in ("blocks", "executor",
            "failed_blocks", *TIMINGS)} == {k: v for k, v in expected.items()
            if k not in ("blocks", *TIMINGS)}  # fmt: skip
    assert text_untimed(remote.text()) == text_untimed(render_blockwise(local))
    assert remote.agree == local.agree and not remote.failures

    stuck = torch.nn.Sequential(SlowInFloat64(), SlowInFloat64())
    report = validate_blockwise_ray(stuck, (x,), samples=2, timeout=20)
    assert report.failures and report.failures[0]["outcome"] == "timeout"
    assert not report.agree and report.to_json()["failed_blocks"] == report.failures
    assert "0: timeout: no result within 20 s" in report.text()
    assert report.text().splitlines()[-1].startswith("verdict      NOT VALIDATED: 1 block(s)")


@pytest.mark.slow
def test_the_cli_on_ray_prints_and_writes_what_the_local_run_does(cluster, run_cli, tmp_path):
    config = [f"--config={k}={v}" for k, v in (("num_hidden_layers", 3), ("hidden_size", 32),
              ("intermediate_size", 64), ("num_attention_heads", 4), ("num_key_value_heads", 2),
              ("vocab_size", 100))]  # fmt: skip
    common = ["validate", "hf:llama", *config, "--blockwise", "--samples", "2"]
    outputs, texts = {}, {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.json"
        code, stdout, err = run_cli(*common, "--device", "cpu", "--executor", executor,
                                    "--json", str(out))  # fmt: skip
        assert code == 0, err
        outputs[executor], texts[executor] = json.loads(out.read_text()), text_untimed(stdout)
    local, remote = outputs["local"], outputs["ray"]
    assert remote["executor"] == "ray" and remote["failed_blocks"] == [] and remote["agree"]
    assert (
        [b["path"] for b in remote["blocks"]]
        == [b["path"] for b in local["blocks"]]
        == ["layers.0"]
    )
    assert [(b["instances"], untimed(b["validation"])) for b in remote["blocks"]] == [
        (b["instances"], untimed(b["validation"])) for b in local["blocks"]
    ]
    assert texts["ray"] == texts["local"] and "every block agrees" in texts["ray"]
