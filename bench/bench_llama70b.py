"""Whole-command time and peak memory of ``analyzer analyze hf:llama`` at the 70B shape,
against a bare ``torch.export`` of the same model in the same environment.

Each side runs in a fresh Python process (imports included), on the meta device.
Target (issue 2): ratio ≤ 1.3, peak memory < 2 GiB. The ratio of CPU seconds (user and
system, of the process's own threads) is printed beside the wall-clock one: on a shared
machine it moves far less with the other jobs' load.

    .venv/bin/python bench/bench_llama70b.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SHAPE = {
    "num_hidden_layers": 80, "hidden_size": 8192, "intermediate_size": 28672,
    "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
}  # fmt: skip

BASELINE = f"""
import resource, torch
from transformers import AutoConfig, AutoModel
config = AutoConfig.for_model("llama", use_cache=False, **{SHAPE!r})
with torch.device("meta"):
    model = AutoModel.from_config(config).eval()
ids = torch.randint(0, config.vocab_size, (1, 16), device="meta")
torch.export.export(model, (), {{"input_ids": ids}}, strict=False)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""

ANALYZER = f"""
import resource, sys
from analyzer.cli import main
args = ["analyze", "hf:llama", "--quiet", "--json", "/tmp/llama70b.json"]
for key, value in {SHAPE!r}.items():
    args += ["--config", f"{{key}}={{value}}"]
assert main(args) == 0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def timed(code: str) -> tuple[float, float, float]:
    """Wall seconds, peak resident MiB and CPU seconds of ``code`` in a fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak, cpu = done.stdout.strip().splitlines()[-1].split()
    return seconds, int(peak) / 1024, float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    baseline = [timed(BASELINE) for _ in range(options.repeat)]
    ours = [timed(ANALYZER) for _ in range(options.repeat)]
    best_base, best_ours = min(t for t, _, _ in baseline), min(t for t, _, _ in ours)
    cpu_base, cpu_ours = min(c for _, _, c in baseline), min(c for _, _, c in ours)
    peak = max(m for _, m, _ in ours)
    nodes = json.load(open("/tmp/llama70b.json"))["graph"]["nodes"]
    print(f"llama 70B shape ({nodes} nodes), best of {options.repeat}, fresh processes")
    print(
        f"  bare torch.export     {best_base:6.1f} s   cpu {cpu_base:6.1f} s   "
        f"peak {max(m for _, m, _ in baseline):6.0f} MiB"
    )
    print(
        f"  analyzer analyze      {best_ours:6.1f} s   cpu {cpu_ours:6.1f} s   peak {peak:6.0f} MiB"
    )
    print(f"  ratio analyzer/export {best_ours / best_base:6.2f}   (target <= 1.30)")
    print(f"  ratio of cpu seconds  {cpu_ours / cpu_base:6.2f}")
    print(f"  peak memory           {peak / 1024:6.2f} GiB (target < 2 GiB)")


if __name__ == "__main__":
    main()
