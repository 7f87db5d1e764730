"""``analyzer analyze hf:llama --training`` (2 layers) against the same command without
``--training``: the whole command in fresh processes, best of ``--repeat``.

Target (issue 9): ratio < 3.

    .venv/bin/python bench/bench_training.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMAND = [sys.executable, "-m", "analyzer.cli", "analyze", "hf:llama", "--config",
           "num_hidden_layers=2", "--quiet"]  # fmt: skip


def seconds(extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*COMMAND, *extra], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    forward = min(seconds([]) for _ in range(options.repeat))
    training = min(seconds(["--training"]) for _ in range(options.repeat))
    print(f"hf:llama, 2 layers, best of {options.repeat}, fresh processes")
    print(f"  analyze               {forward:6.1f} s")
    print(f"  analyze --training    {training:6.1f} s")
    print(f"  ratio training/plain  {training / forward:6.2f}   (target < 3)")


if __name__ == "__main__":
    main()
