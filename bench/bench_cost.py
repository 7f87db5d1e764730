"""Whole-command time of ``analyzer cost hf:llama --dim seq=N`` at the 70B shape (80
layers), against ``analyzer analyze`` on the same model, in the same environment.

Each command runs in a fresh Python process (imports included), on the meta device,
alternating so that a busy machine slows both alike; best of ``--repeat``. Wall time and
CPU time (user + system) are both reported: on a shared machine the CPU time is the
steadier figure. Target (issue 11): cost / analyze < 2.

    .venv/bin/python bench/bench_cost.py [--repeat 3] [--layers 80]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SHAPE = {
    "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64,
    "num_key_value_heads": 8, "vocab_size": 128256,
}  # fmt: skip


def command(kind: str, layers: int) -> list[str]:
    args = [sys.executable, "-m", "analyzer.cli"]
    if kind == "cost":
        args += ["cost", "hf:llama", "--dim", "seq=N", "--quiet"]
    else:
        args += ["analyze", "hf:llama", "--quiet"]
    for key, value in {**SHAPE, "num_hidden_layers": layers}.items():
        args += ["--config", f"{key}={value}"]
    return args


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args[3:5])} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=80)
    options = parser.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {"analyze": [], "cost": []}
    for _ in range(options.repeat):
        for kind in runs:
            runs[kind].append(timed(command(kind, options.layers)))
    wall = {k: min(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: min(c for _, c in v) for k, v in runs.items()}
    print(f"llama 70B shape, {options.layers} layers, best of {options.repeat}, fresh processes")
    for kind, label in (("analyze", "analyzer analyze"), ("cost", "analyzer cost --dim seq=N")):
        print(f"  {label:<29} {wall[kind]:6.1f} s wall  {cpu[kind]:6.1f} s CPU")
    print(
        f"  ratio cost/analyze            {wall['cost'] / wall['analyze']:6.2f}   wall"
        f"  {cpu['cost'] / cpu['analyze']:6.2f}   CPU   (target < 2)"
    )


if __name__ == "__main__":
    main()
