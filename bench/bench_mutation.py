"""Mutation testing of the core with mutmut: each module's functions are mutated one small
change at a time (an operator, a constant, a comparison, a string) and run against a fast
selection of the tests meant to catch them; prints the score per module (killed out of
killed + survived, equivalent mutants left out) and the survivors.

    .venv/bin/python bench/bench_mutation.py                     # every module below
    .venv/bin/python bench/bench_mutation.py specs html          # some of them
    .venv/bin/python bench/bench_mutation.py specs --only parse_input_spec   # some functions
    .venv/bin/python bench/bench_mutation.py cost --only leading_term,crossovers
    .venv/bin/python bench/bench_mutation.py --list              # the modules and their tests
    .venv/bin/python bench/bench_mutation.py specs --diffs 20    # each survivor's diff, up to 20
    .venv/bin/python bench/bench_mutation.py --planted           # the issue's planted bugs
    .venv/bin/python bench/bench_mutation.py classify --work W --recheck   # survivors again
    .venv/bin/python bench/bench_mutation.py expand --work W --recheck --select "pooled"

Each module runs in its own copy of the repository (``--work``, default a temporary folder)
whose ``[tool.mutmut]`` section is rewritten for it: ``only_mutate`` the module, the test
selection below. mutmut runs, per mutant, only the selected tests that reach the mutated
function (it records which in a first pass). The copy keeps mutmut's ``mutants/`` folder,
so ``cd <work>/<module> && mutmut browse`` shows every mutant afterwards.

``--planted`` applies, one at a time, the six plausible bugs the default suite once missed
(issue 23) and runs the test that now catches each; it exits 1 if one goes unnoticed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-p", "no:cacheprovider", "-q", "-x", "-m", "not slow", "--no-header"]


@dataclass(frozen=True)
class Target:
    """A module to mutate and the tests (paths, then pytest options) that should kill it."""

    path: str
    tests: tuple[str, ...]
    options: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()  # mutate only these (the ones that carry decisions)


# a timing bound: mutmut's trampolines slow every call, so it fails on the original code
NO_TIMING = (
    "--deselect",
    "tests/passes/test_scaling.py::test_100k_node_graph_is_analysed_in_linear_time",
)

PASSES_TESTS = ("tests/passes", "tests/property", "tests/test_analysis.py")

MODULES = {
    "specs": Target("analyzer/frontend/specs.py", ("tests/frontend/test_specs.py",)),
    "html": Target(
        "analyzer/render/html.py",
        ("tests/render/test_escaping.py", "tests/render/test_html.py"),
        (),
        ("_header", "_verdict", "_safe_json", "_graph_section", "html_page", "index_page"),
    ),
    "sections": Target(
        "analyzer/render/sections.py",
        ("tests/render/test_escaping.py", "tests/render/test_html.py"),
        (),
        ("_chip", "_ident", "_snippet", "_source_cell", "_paths_html", "_sites_section"),
    ),
    "cost": Target(
        "analyzer/symbolic/cost.py",
        ("tests/symbolic/test_cost.py",),
        (
            "-k",
            "leading or crossover or attention or two_dimensions or fixed_dimension or absent "
            "or unfused or recurrent_layer or (zoo_formulas and (gru or elman_rnn))",
        ),
        ("leading_term", "crossovers", "_split", "_contraction_parts"),
    ),
    "verdicts": Target(
        "analyzer/empirical/verdicts.py",
        ("tests/empirical/test_validate.py",),
        (
            "-k",
            "nested_degree or cap or tolerance or over_approximation or soundness or too_low "
            "or dropped_site or cross_terms or self_products or integer_inputs or piecewise_affine",
        ),
    ),
    "checks": Target(
        "analyzer/empirical/checks.py",
        ("tests/empirical/test_validate.py", "analyzer/empirical/checks.py"),
        ("-k", "autograd or tolerance or vmap_and_loop or dropped_site or Samples"),
        ("measure_degrees", "_by_differences", "_real_output", "_operand_nodes"),
    ),
    "transfer": Target(
        "analyzer/passes/transfer_core.py",
        ("tests/passes", "tests/property", "tests/test_analysis.py"),
        NO_TIMING,
    ),
    "registry": Target(
        "analyzer/passes/registry.py", ("tests/passes", "tests/test_analysis.py"), NO_TIMING
    ),
    "sites": Target(
        "analyzer/passes/sites.py", ("tests/passes", "tests/test_analysis.py"), NO_TIMING
    ),
    "classify": Target(
        "analyzer/passes/classify.py",
        (
            "tests/passes/test_primitive_oracle.py",
            "tests/passes/test_classify.py",
            "tests/test_analysis.py",
            "tests/passes/test_registry.py",
            "tests/passes/test_transposes.py",
        ),
    ),
    "expand": Target(
        "analyzer/symbolic/expand.py",
        ("tests/symbolic/test_expand.py",),
        # the 12 s bilinear zoo instance and the transformer's softmax refusal left out
        ("-k", "not (polynomial_zoo_models and bilinear) and not softmax_of_large"),
    ),
    # the passes' rules and sites (issue 23); a mutant runs only the tests that reach it
    **{
        name: Target(f"analyzer/passes/{name}.py", PASSES_TESTS, NO_TIMING)
        for name in (
            "transfer_families",
            "family_sites",
            "alignment",
            "witness",
            "operands",
            "op_arguments",
        )
    },
    "kinks": Target("analyzer/passes/transfer.py", PASSES_TESTS, NO_TIMING),
}

EQUIVALENT: dict[str, str] = {
    "analyzer.frontend.specs.x_parse_input_spec__mutmut_25": (
        "dims.replace('XX XX', ''): int() ignores the spaces the original removes"
    ),
    "analyzer.empirical.verdicts.x_nested_degree__mutmut_16": (
        "scale over 1 … k+1: when derivative k+1 is the largest, it exceeds tolerance·itself "
        "and tolerance·max(1 … k) alike; otherwise the maximum is the same"
    ),
    "analyzer.frontend.specs.x_parse_input_spec__mutmut_53": (
        "torch.randint(upper, shape) is randint(high=upper, size=shape): the same draw"
    ),
    **{
        f"analyzer.empirical.checks.x_measure_degrees__mutmut_{n}": reason
        for n, reason in (
            (2, "watched = None: run() then observes every node; only `keys` are read back"),
            (22, "run(…, None): every node observed; only `keys` are read back"),
            (11, "zip(…, strict=None): point and direction both hold one tensor per source"),
            (14, "zip(…) without strict: point and direction both hold one tensor per source"),
            (15, "zip(…, strict=False): point and direction both hold one tensor per source"),
            (64, "batcher(…, task=None): the task only advances a progress display"),
            (68, "batcher(…) without task: the task only advances a progress display"),
        )
    },
    # symbolic cost (issue 23)
    "analyzer.symbolic.cost.x_leading_term__mutmut_4": (
        "expression == 1 for == 0: a constant (0 or 1) read as a Poly is its one term, itself"
    ),
    **{
        f"analyzer.symbolic.cost.x_leading_term__mutmut_{n}": (
            "zip(…, strict=…): a Poly over `symbols` gives monomials of exactly that length"
        )
        for n in (15, 18, 19)
    },
    "analyzer.symbolic.cost.x_crossovers__mutmut_7": (
        "`and` for `or`: sympy.solve for a symbol absent from the difference finds no root, "
        "the same [] as the shortcut"
    ),
    "analyzer.symbolic.cost.x_crossovers__mutmut_9": (
        "difference == 1 for == 0: a constant difference has no free symbol, so the second "
        "test takes the same branch"
    ),
    # symbolic expansion (issue 23)
    "analyzer.symbolic.expand.xǁ_Expanderǁ__init____mutmut_4": (
        "self.progress = None: the interpreter never reads it (expand_traced reports progress)"
    ),
    "analyzer.symbolic.expand.xǁ_Expanderǁ__init____mutmut_6": (
        "task = '' for None: expand_traced sets the task before the first node runs"
    ),
    **{
        f"analyzer.symbolic.expand.xǁ_Expanderǁrun_node__mutmut_{n}": (
            "call_method misspelt: every frontend lowers to aten call_function nodes (fx through "
            "make_fx), so no call_method node reaches the expander"
        )
        for n in (12, 13)
    },
    # the page's escaping (issue 23)
    **{
        f"analyzer.render.html.x__safe_json__mutmut_{n}": (
            "\\u003C for \\u003c (or E for e): JSON reads hex digits in either case, the same "
            "character, and the page still holds no < or >"
        )
        for n in (25, 28)
    },
    "analyzer.render.html.x__verdict__mutmut_74": (
        "</SPAN> for </span>: HTML end tags are case-insensitive, the browser reads one page"
    ),
    **{
        f"analyzer.render.sections.x__paths_html__mutmut_{n}": (
            "zip(…, strict=None) or without strict: not strict either, as strict=False"
        )
        for n in (4, 7)
    },
    "analyzer.render.sections.x__sites_section__mutmut_76": (
        "items[1] for items[0] where every item has one op and one source (uniform) and a "
        "fold holds at least two"
    ),
    **{
        f"analyzer.render.sections.x__sites_section__mutmut_{n}": (
            "short_source(None) is short_source(''): it reads `source or ''`"
        )
        for n in (81, 83)
    },
    **{
        f"analyzer.render.sections.x__sites_section__mutmut_{n}": (
            "the title's default: read only when the place is not empty, which needs a source"
        )
        for n in (92, 95)
    },
    # the passes' rules and sites (issue 23)
    "analyzer.passes.transfer_families.x__entry_product__mutmut_5": (
        "prod, cumprod, det, logdet: their tensor is always a graph node at args[0]"
    ),
    "analyzer.passes.transfer_families.x__entry_product__mutmut_7": (
        "prod, cumprod, det, logdet: their tensor is always a graph node at args[0]"
    ),
    "analyzer.passes.transfer_families.x__entry_product__mutmut_20": (
        "det's matrices are square: shape[-2] == shape[-1]"
    ),
    "analyzer.passes.family_sites.x__entry_product_sites__mutmut_6": (
        "every ENTRY_PRODUCT op has one tensor operand: [:2] == [:1]"
    ),
    "analyzer.passes.family_sites.x__entry_product_sites__mutmut_8": (
        "node_sites sees continuous nodes only; an entry product is one when its operand is"
    ),
    "analyzer.passes.family_sites.x__split_gate_sites__mutmut_2": (
        "_entry_product_sites does not read entry"
    ),
    "analyzer.passes.transfer_core.x__select_top__mutmut_3": (
        "_relu reads neither entry nor facts"
    ),
    "analyzer.passes.transfer_core.x__select_top__mutmut_5": (
        "_relu reads neither entry nor facts"
    ),
    "analyzer.passes.op_arguments.x_scatter_reduction__mutmut_9": (
        "the default is only compared with products, amax, amin: any other name adds"
    ),
    "analyzer.passes.op_arguments.x_scatter_reduction__mutmut_12": (
        "the default is only compared with products, amax, amin: any other name adds"
    ),
    "analyzer.passes.op_arguments.x_scatter_reduction__mutmut_13": (
        "the default is only compared with products, amax, amin: any other name adds"
    ),
    "analyzer.passes.op_arguments.x_grid_mode__mutmut_2": (
        "aten's grid samplers always pass interpolation_mode 0, 1 or 2: the default is never read"
    ),
    "analyzer.passes.op_arguments.x_grid_mode__mutmut_4": (
        "aten's grid samplers always pass interpolation_mode 0, 1 or 2: the default is never read"
    ),
    "analyzer.passes.op_arguments.x_grid_mode__mutmut_11": (
        "aten's grid samplers always pass interpolation_mode 0, 1 or 2: the default is never read"
    ),
    "analyzer.passes.op_arguments.x_grid_mode__mutmut_12": (
        "aten's grid samplers always pass interpolation_mode 0, 1 or 2: the default is never read"
    ),
    "analyzer.passes.op_arguments.x_norm_is_piecewise_linear__mutmut_7": (
        "no order given: 2, 3 or None alike are not 1 or ±∞ (matrix_norm always gives one)"
    ),
    "analyzer.passes.op_arguments.x_norm_is_piecewise_linear__mutmut_19": (
        "no order given: 2, 3 or None alike are not 1 or ±∞ (matrix_norm always gives one)"
    ),
}
"""Mutants that behave exactly as the original, with the reason; left out of the score."""


@dataclass
class Outcome:
    """mutmut's verdict on every mutant of one module."""

    name: str
    statuses: dict[str, str] = field(default_factory=dict)  # mutant → killed, survived, …
    seconds: float = 0.0
    copy: Path | None = None

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.statuses.values())

    @property
    def score(self) -> float | None:
        counts = self.counts
        killed = counts["killed"] + counts["timeout"]
        total = killed + counts["survived"]
        return killed / total if total else None

    @property
    def survivors(self) -> list[str]:
        return sorted(m for m, s in self.statuses.items() if s == "survived")


def _copy_repository(target: Target, name: str, work: Path) -> Path:
    copy = work / name
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    for item in ("analyzer", "tests"):
        shutil.copytree(ROOT / item, copy / item, ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)
    section = {
        "source_paths": ["analyzer"],
        "only_mutate": [target.path],
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": FAST + list(target.options),
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in section.items()]
    (copy / "pyproject.toml").write_text(text.rstrip() + "\n\n[tool.mutmut]\n" + "\n".join(lines))
    return copy


def _mutant_function(mutant: str) -> str:
    """``analyzer.m.x_name__mutmut_3`` → ``name``; a method ``xǁClassǁname`` → ``Class.name``."""
    function = mutant.split("__mutmut_")[0].rsplit(".", 1)[-1]
    if "ǁ" in function:
        return ".".join(function.split("ǁ")[1:])
    return function.removeprefix("x_")


def run_module(name: str, work: Path, only: tuple[str, ...], children: int) -> Outcome:
    """``mutmut run`` on one module in its own copy (only the functions ``only`` names, else
    the module's own list, else every function); the statuses from its ``.meta`` file."""
    target = MODULES[name]
    copy = _copy_repository(target, name, work)
    dotted = target.path.removesuffix(".py").replace("/", ".")
    only = only or target.functions
    patterns = [f"{dotted}.*{function}__mutmut_*" for function in only]
    started = time.perf_counter()
    with open(copy / "mutmut.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *patterns],
            cwd=copy,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            # one torch thread: a forked mutant whose parent started torch's thread pool
            # can hang on a futex
            env={**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"},
        )
    outcome = Outcome(name, seconds=time.perf_counter() - started, copy=copy)
    meta = copy / "mutants" / (target.path + ".meta")
    if not meta.exists():
        print(f"{name}: mutmut wrote no results; see {copy / 'mutmut.log'}", file=sys.stderr)
        return outcome
    log = (copy / "mutmut.log").read_text(errors="replace")
    if "failed to collect stats" in log or "FAILED" in log.split("Running mutation testing")[0]:
        tail = "\n".join(log.strip().splitlines()[-6:])
        print(
            f"{name}: the tests fail on the unmutated code under mutmut:\n{tail}", file=sys.stderr
        )
    _read_statuses(outcome, meta, only)
    return outcome


def _read_statuses(outcome: Outcome, meta: Path, only: tuple[str, ...]) -> None:
    from mutmut.stats import status_by_exit_code

    codes = json.loads(meta.read_text())["exit_code_by_key"]
    for mutant, code in codes.items():
        if only and _mutant_function(mutant).rsplit(".", 1)[-1] not in only:
            continue
        outcome.statuses[mutant] = (
            "equivalent" if mutant in EQUIVALENT else status_by_exit_code[code]
        )


def recheck(
    name: str, work: Path, only: tuple[str, ...], children: int = 2, select: str = ""
) -> Outcome:
    """The survivors of an earlier run in ``work`` (and the mutants no test reached) run
    again against the tests as they are now (copied into mutmut's folder), as mutmut runs a
    mutant: its name in ``MUTANT_UNDER_TEST``, the module's test selection (``select``, a
    pytest ``-k`` expression, narrows it to the new tests: a survivor they do not kill stays
    one); ``children`` at once; the new verdicts go into the ``.meta`` file. For killing
    survivors with new tests without mutating everything again."""
    target = MODULES[name]
    copy = work / name
    mutants = copy / "mutants"
    meta = mutants / (target.path + ".meta")
    if not meta.exists():
        raise SystemExit(f"{name}: no earlier run in {copy}")
    shutil.rmtree(mutants / "tests")
    shutil.copytree(ROOT / "tests", mutants / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    document = json.loads(meta.read_text())
    codes = document["exit_code_by_key"]
    only = only or target.functions
    options = list(target.options)
    if select:
        if "-k" in options:
            index = options.index("-k")
            del options[index : index + 2]
        options += ["-k", select]
    started = time.perf_counter()
    pending = [
        mutant
        for mutant, code in codes.items()
        if code in (0, 33)  # survived, no tests
        and (not only or _mutant_function(mutant).rsplit(".", 1)[-1] in only)
        and mutant not in EQUIVALENT
    ]

    def rerun(mutant: str) -> int:
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", *FAST, *target.tests, *options],
            cwd=mutants,
            capture_output=True,
            check=False,
            env={**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(mutants)},
        )
        # 5: the narrowed selection holds no test that this run could use: no verdict
        return codes[mutant] if ran.returncode == 5 else ran.returncode

    with ThreadPoolExecutor(max_workers=children) as pool:
        for mutant, code in zip(pending, pool.map(rerun, pending), strict=True):
            codes[mutant] = code
    meta.write_text(json.dumps(document, indent=4))
    outcome = Outcome(name, seconds=time.perf_counter() - started, copy=copy)
    _read_statuses(outcome, meta, only)
    return outcome


def diff_of(outcome: Outcome, mutant: str) -> str:
    """mutmut's diff of one mutant against the original function."""
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant],
        cwd=outcome.copy,
        capture_output=True,
        text=True,
        check=False,
    )
    return shown.stdout.strip()


def report(outcome: Outcome, diffs: int) -> None:
    counts = outcome.counts
    score = "n/a" if outcome.score is None else f"{100 * outcome.score:.1f}%"
    others = ", ".join(
        f"{k} {v}" for k, v in sorted(counts.items()) if k not in ("killed", "survived")
    )
    print(
        f"{outcome.name:10s} {MODULES[outcome.name].path:34s} score {score:>6s}  "
        f"killed {counts['killed'] + counts['timeout']}, survived {counts['survived']}"
        f"{', ' + others if others else ''}  ({outcome.seconds / 60:.1f} min)"
    )
    functions = sorted({_mutant_function(m) for m in outcome.statuses})
    print(f"    functions mutated: {', '.join(functions)}")
    by_function: dict[str, list[str]] = defaultdict(list)
    for mutant in outcome.survivors:
        by_function[_mutant_function(mutant)].append(mutant)
    for function, mutants in sorted(by_function.items()):
        numbers = ", ".join(m.rsplit("_", 1)[-1] for m in mutants)
        print(f"    survived in {function}: {len(mutants)} (mutants {numbers})")
    for mutant in sorted(m for m, s in outcome.statuses.items() if s == "equivalent"):
        print(f"    equivalent {mutant.rsplit('.', 1)[-1]}: {EQUIVALENT[mutant]}")
    for mutant in outcome.survivors[:diffs]:
        print(f"\n--- {mutant}\n{diff_of(outcome, mutant)}")


# --- the planted bugs: each must be caught by the default suite ---------------------
PLANTED = [
    (
        "analyzer/passes/transfer_core.py",
        "Fact(joined.dependence, 2 * joined.degree, joined.piecewise)",
        "Fact(joined.dependence, joined.degree + 1, joined.piecewise)",
        "tests/passes/test_transfer.py",
        "square_reduction",
    ),
    (
        "analyzer/passes/registry_lookup.py",
        "return lookup(overload_name(node)) or lookup(op_name(node))",
        "return lookup(op_name(node))",
        "tests/passes/test_registry.py",
        "overload or relu_end",
    ),
    (
        "analyzer/symbolic/cost.py",
        "top = poly.total_degree()",
        "top = poly.degree()",
        "tests/symbolic/test_cost.py",
        "leading_term",
    ),
    (
        "analyzer/empirical/verdicts.py",
        "for k in range(1, cap + 1):",
        "for k in range(1, cap):",
        "tests/empirical/test_validate.py",
        "equal_to_the_cap",
    ),
    (
        "analyzer/frontend/loaded.py",
        "if high is not None and (dtype.is_floating_point or dtype.is_complex):",
        "if False:",
        "tests/frontend/test_specs.py",
        "bound_is",
    ),
    (
        "analyzer/render/sections.py",
        '<td title="{escape(source)}">',
        '<td title="{escape(source, quote=False)}">',
        "tests/render/test_html.py",
        "quotes",
    ),
]


def planted(work: Path) -> int:
    """Apply each planted bug in a copy, run its tests; 1 when one goes unnoticed."""
    copy = work / "planted"
    missed = 0
    for path, old, new, tests, selection in PLANTED:
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(ROOT / "analyzer", copy / "analyzer")
        shutil.copytree(ROOT / "tests", copy / "tests")
        shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
        source = (copy / path).read_text()
        if source.count(old) != 1:
            print(f"{path}: the code changed, the planted bug no longer applies: {old!r}")
            missed += 1
            continue
        (copy / path).write_text(source.replace(old, new))
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", *FAST, tests, "-k", selection],
            cwd=copy,
            capture_output=True,
            text=True,
            check=False,
        )
        caught = ran.returncode == 1
        missed += not caught
        print(f"{path:32s} {new[:60]!r:64s} {'caught' if caught else 'MISSED'}")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)}")
    parser.add_argument(
        "--only", default="", help="mutate only these functions (names, comma-separated)"
    )
    parser.add_argument("--children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--diffs", type=int, default=0, help="print up to N survivors' diffs")
    parser.add_argument("--work", type=Path, help="where the copies go (default: a temp dir)")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    parser.add_argument("--planted", action="store_true", help="the issue's planted bugs")
    parser.add_argument(
        "--recheck", action="store_true", help="rerun an earlier run's survivors (in --work)"
    )
    parser.add_argument(
        "--select", default="", help="with --recheck: only the tests this -k expression picks"
    )
    options = parser.parse_args(argv)
    work = options.work or Path(tempfile.mkdtemp(prefix="analyzer-mutation-"))
    if options.list:
        for name, target in MODULES.items():
            print(f"{name:10s} {target.path:34s} {' '.join(target.tests + target.options)}")
        return 0
    if options.planted:
        return planted(work)
    unknown = [m for m in options.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    for name in options.modules or list(MODULES):
        only = tuple(f for f in options.only.split(",") if f)
        if options.recheck:
            report(recheck(name, work, only, options.children, options.select), options.diffs)
        else:
            report(run_module(name, work, only, options.children), options.diffs)
    print(f"\ncopies with mutmut's results: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
