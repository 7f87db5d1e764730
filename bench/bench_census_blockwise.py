"""Block-wise validation of the 80-layer Llama shape at hidden size 512, here and on a Ray
cluster: the same verdicts, and the ratio of the times.

    .venv/bin/python bench/bench_census_blockwise.py                  # one block per structure
    .venv/bin/python bench/bench_census_blockwise.py --all-blocks --layers 8
    .venv/bin/python bench/bench_census_blockwise.py --address auto   # a running cluster

The model is built on the meta device and streamed (one block's random weights at a
time); each validated block is a model of the input the example produces there. With one
block per structure both executors validate the same single block (the cluster adds its
start-up); ``--all-blocks`` gives the cluster one task per layer to run in parallel.
"""

from __future__ import annotations

import argparse
import os
import time

SHAPE = {
    "hidden_size": 512, "intermediate_size": 1408, "num_attention_heads": 8,
    "num_key_value_heads": 8, "vocab_size": 1024,
}  # fmt: skip


def main() -> None:
    import torch

    from analyzer.blockwise_ray import validate_blockwise_ray
    from analyzer.empirical.blockwise import validate_blockwise
    from analyzer.frontend.hf import build_hf_model, inputs_on

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=80)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--all-blocks", action="store_true", help="every layer, not one")
    parser.add_argument("--address", help="a running Ray cluster (default: a local one)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local cluster")
    options = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    torch.manual_seed(0)
    built = build_hf_model("llama", {**SHAPE, "num_hidden_layers": options.layers}, seq_len=16)
    inputs = inputs_on(built.module, built.inputs, "cpu")
    blocks = "all" if options.all_blocks else "distinct"
    common = {"example_kwargs": inputs, "model": "hf:llama", "device": "cpu",
              "samples": options.samples, "blocks": blocks}  # fmt: skip

    started = time.perf_counter()
    local = validate_blockwise(built.module, (), **common)
    here = time.perf_counter() - started
    local_verdicts = {b.path: (b.report.agree, b.report.sound) for b in local.blocks}
    print(f"local: {here:.1f} s, {len(local.blocks)} block(s), agree {local.agree}")

    init = {} if options.address else {"num_cpus": options.cpus}
    started = time.perf_counter()
    remote = validate_blockwise_ray(built.module, (), address=options.address, init=init, **common)
    there = time.perf_counter() - started
    remote_verdicts = {b.path: (b.report.agree, b.report.sound) for b in remote.blocks}
    print(f"ray:   {there:.1f} s, {len(remote.blocks)} block(s), agree {remote.agree}, "
          f"{len(remote.failures)} failed")  # fmt: skip
    print(f"ray / local: {there / here:.2f}")
    print(f"same verdicts: {local_verdicts == remote_verdicts} ({local_verdicts})")


if __name__ == "__main__":
    main()
