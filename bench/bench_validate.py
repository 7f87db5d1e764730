"""Speed of ``analyzer validate``: the vmapped path against a per-sample Python loop on
the same device (target >= 5x), and the GPU against the CPU on a GPT-2-small-sized model
(124M parameters, sequence 128; target >= 10x, whole validation < 30 s on an H100).

    .venv/bin/python bench/bench_validate.py                 # vmap vs loop (+ GPU if present)
    .venv/bin/python bench/bench_validate.py --gpt2-cpu      # also time GPT-2 small on CPU

Each timing is the whole ``validate`` call (trace, decompose, analyse, differentiate).
"""

from __future__ import annotations

import argparse
import time

import torch

from analyzer.empirical.validate import validate
from analyzer.frontend.zoo import build_zoo_model


def timed(**options) -> tuple[float, object]:
    started = time.perf_counter()
    report = validate(**options)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, report


def gpt2_small(sequence: int = 128):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model("gpt2", use_cache=False)  # 124M parameters
    torch.manual_seed(0)
    model = AutoModel.from_config(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, sequence))
    return model, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="transformer_block", help="zoo model for vmap/loop")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--gpt2-cpu", action="store_true", help="time GPT-2 small on the CPU")
    parser.add_argument("--gpt2-samples", type=int, default=8)
    options = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    module, args = build_zoo_model(options.model)
    common = {"example_args": args, "model": options.model, "device": device,
              "samples": options.samples}  # fmt: skip
    timed(module=module, **{**common, "samples": 2})  # warm-up: imports, kernels
    vmapped, fast = timed(module=module, **common)
    looped, slow = timed(module=module, **common, batched=False)
    assert fast.agree == slow.agree
    print(f"zoo:{options.model} on {device}, {options.samples} samples")
    ratio = looped / vmapped
    print(f"  vmap {vmapped:7.2f} s   loop {looped:7.2f} s   ratio loop/vmap {ratio:5.1f}x"
          "   (target >= 5x)")  # fmt: skip

    if torch.cuda.is_available() or options.gpt2_cpu:
        model, ids = gpt2_small()
        gpt = {"example_args": (), "example_kwargs": {"input_ids": ids}, "model": "gpt2-small",
               "samples": options.gpt2_samples}  # fmt: skip
        results = {}
        for where in (["cuda"] if torch.cuda.is_available() else []) + (
            ["cpu"] if options.gpt2_cpu or torch.cuda.is_available() else []
        ):
            seconds, report = timed(module=model, device=where, **gpt)
            results[where] = seconds
            print(
                f"  gpt2-small (124M, seq 128) on {where}: {seconds:7.1f} s, agree={report.agree}"
            )
        if "cuda" in results and "cpu" in results:
            ratio = results["cpu"] / results["cuda"]
            print(f"  ratio cpu/gpu {ratio:5.1f}x (target >= 10x); gpu {results['cuda']:.1f} s "
                  "(target < 30 s on an H100)")  # fmt: skip
    else:
        print("  GPU vs CPU on GPT-2 small: no CUDA device here, not measured")


if __name__ == "__main__":
    main()
