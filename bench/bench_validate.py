"""Speed of ``analyzer validate``, every ratio in one run (issue 12).

    .venv/bin/python bench/bench_validate.py             # zoo ratios, block-wise Llama, GPU/CPU
    .venv/bin/python bench/bench_validate.py --gpt2      # also GPT-2 (2 layers, and small)
    .venv/bin/python bench/bench_validate.py --threads 1 # on a shared, busy machine

Ratios, each measured in this run on the same machine:

* loop / vmap — the same checks looping over samples in Python (target >= 5x);
* nested jvp / interpolation — the degree check by nested ``jvp`` (``2^(k+1)`` cost) against
  interpolating first derivatives along each line (verdicts must be equal);
* 64 / 8 samples — how the time grows with the batch (GPU target: < 1.5x on GPT-2 small);
* CPU / GPU — GPT-2 small (124M parameters, sequence 128) on both (target >= 10x, GPU
  < 8 s), only where CUDA is present;
* block-wise — an 80-layer Llama at hidden size 512 validated block by block (CPU target
  < 180 s), against validating two of its blocks' worth of model whole.

Each timing is a whole ``validate`` call (trace, analyse, run, differentiate), after one
warm-up call. Timings on a shared machine are provisional.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from analyzer.empirical.blockwise import validate_blockwise
from analyzer.empirical.validate import validate
from analyzer.frontend.zoo import build_zoo_model


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def gpt2(layers: int | None = None, sequence: int = 128) -> tuple[torch.nn.Module, dict]:
    from transformers import AutoConfig, AutoModel

    extra = {} if layers is None else {"n_layer": layers}
    config = AutoConfig.for_model("gpt2", use_cache=False, **extra)
    torch.manual_seed(0)
    model = AutoModel.from_config(config).eval()
    return model, {"input_ids": torch.randint(0, config.vocab_size, (1, sequence))}


def llama(layers: int, hidden: int, sequence: int = 64) -> tuple[torch.nn.Module, dict]:
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(
        "llama", num_hidden_layers=layers, hidden_size=hidden, intermediate_size=hidden * 2,
        num_attention_heads=8, num_key_value_heads=4, vocab_size=1000, use_cache=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModel.from_config(config).eval()
    return model, {"input_ids": torch.randint(0, config.vocab_size, (1, sequence))}


def line(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<52} {seconds:8.2f} s  {note}")


def zoo_ratios(device: str, samples: int) -> None:
    name = "transformer_block"
    torch.manual_seed(0)
    module, args = build_zoo_model(name)
    common = {"device": device, "model": name}
    validate(module, args, samples=2, **common)  # warm-up: imports, kernels
    print(f"zoo:{name} on {device}")
    vmapped, fast = timed(lambda: validate(module, args, samples=samples, **common))
    looped, slow = timed(lambda: validate(module, args, samples=samples, batched=False, **common))
    assert fast.agree == slow.agree
    line(f"vmap, {samples} samples", vmapped)
    line(f"loop, {samples} samples", looped, f"loop/vmap {looped / vmapped:5.1f}x (>= 5x)")
    few, _ = timed(lambda: validate(module, args, samples=8, **common))
    line("vmap, 8 samples", few, f"{samples}/8 samples {vmapped / few:5.2f}x")
    interpolated, a = timed(
        lambda: validate(module, args, samples=8, degree_method="interpolation", **common)
    )
    nested, b = timed(lambda: validate(module, args, samples=8, degree_method="nested", **common))
    assert (a.degree_empirical, a.agree) == (b.degree_empirical, b.agree)
    line("degree by interpolation, 8 samples", interpolated)
    line("degree by nested jvp, 8 samples", nested,
         f"nested/interpolation {nested / interpolated:5.1f}x, same verdicts")  # fmt: skip


def gpt2_figures(devices: list[str]) -> None:
    model, ids = gpt2(layers=2)
    print("GPT-2, 2 layers at full width (hidden 768, sequence 128), 8 samples")
    results = {}
    for method in ("interpolation", "nested"):
        seconds, report = timed(
            lambda m=method: validate(
                model, (), example_kwargs=ids, samples=8, device="cpu", degree_method=m
            )
        )
        results[method] = (seconds, report)
        first, degree = (
            report.seconds_by_check[k] for k in ("dependence_sites_cross_entry", "degree")
        )
        note = f"agree={report.agree} (dependence/sites/cross {first:.1f} s, degree {degree:.1f} s)"
        line(f"cpu, degree by {method}", seconds, note)
    ratio = results["nested"][0] / results["interpolation"][0]
    print(f"  nested/interpolation {ratio:5.1f}x (CPU target for the whole call: < 60 s)")
    model, ids = gpt2()
    print("GPT-2 small (124M parameters, sequence 128)")
    times = {}
    for device in devices:
        for count in (8, 64) if device.startswith("cuda") else (8,):
            validate(model, (), example_kwargs=ids, samples=2, device=device)  # warm-up
            seconds, report = timed(
                lambda d=device, c=count: validate(
                    model, (), example_kwargs=ids, samples=c, device=d
                )
            )
            times[(device, count)] = seconds
            line(f"{device}, {count} samples", seconds,
                 f"agree={report.agree} peak {report.peak_memory_gib:.2f} GiB")  # fmt: skip
    if ("cuda", 8) in times:
        print(f"  cpu/gpu {times[('cpu', 8)] / times[('cuda', 8)]:5.1f}x (>= 10x); "
              f"gpu 64/8 samples {times[('cuda', 64)] / times[('cuda', 8)]:4.2f}x (< 1.5x); "
              f"gpu {times[('cuda', 8)]:.1f} s (< 8 s)")  # fmt: skip
    else:
        print(f"  cpu {times[('cpu', 8)]:.1f} s (target < 240 s); GPU figures: no CUDA here, "
              "not measured")  # fmt: skip


def blockwise_figures(device: str, layers: int, hidden: int) -> None:
    model, ids = llama(layers, hidden)
    print(f"Llama, {layers} layers at hidden {hidden} (sequence 64), block-wise on {device}")
    seconds, result = timed(
        lambda: validate_blockwise(model, (), example_kwargs=ids, samples=8, device=device)
    )
    note = f"{len(result.blocks)} distinct block(s), agree={result.agree} (CPU target < 180 s)"
    line("block-wise, 8 samples", seconds, note)
    small, small_ids = llama(2, hidden)
    whole, report = timed(
        lambda: validate(small, (), example_kwargs=small_ids, samples=8, device=device)
    )
    line("the same model cut to 2 layers, validated whole", whole,
         f"agree={report.agree}; block-wise covers {layers} layers in "
         f"{seconds / whole:4.2f}x that time")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--gpt2", action="store_true", help="also time GPT-2 (minutes on a CPU)")
    parser.add_argument("--layers", type=int, default=80, help="block-wise Llama depth")
    parser.add_argument("--hidden", type=int, default=512, help="block-wise Llama width")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch intra-op threads (1 on a shared machine: busy threads spin and thrash)",
    )  # fmt: skip
    options = parser.parse_args()
    if options.threads is not None:
        torch.set_num_threads(options.threads)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""))  # fmt: skip
    zoo_ratios(device, options.samples)
    blockwise_figures(device, options.layers, options.hidden)
    if options.gpt2:
        gpt2_figures(["cuda", "cpu"] if device == "cuda" else ["cpu"])
    elif device == "cpu":
        print("GPU/CPU and 8/64 samples on GPT-2 small: no CUDA here, not measured "
              "(--gpt2 times the CPU side)")  # fmt: skip


if __name__ == "__main__":
    main()
