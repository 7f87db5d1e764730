"""The mutation suite: each mutation of analyzer.claims.mutations makes the seed claims,
parts or caveats it targets not as expected (bench/bench_claims_mutations.py scores it).
Family targets draw and validate models (10 to 30 s each): those runs are marked slow."""

from __future__ import annotations

import pytest

from analyzer.claims.mutations import MUTATIONS, seed_claim
from analyzer.claims.runner import run_claim

FAMILY_TARGETS = {"S1", "S1.recurrent", "S3", "S7", "S8.static"}
CASES = [
    pytest.param(
        mutation,
        target,
        id=f"{target}: {mutation.name}",
        marks=[pytest.mark.slow] if target in FAMILY_TARGETS else [],
    )
    for mutation in MUTATIONS
    for target in mutation.targets
]


def test_every_claim_and_caveat_has_a_mutation() -> None:
    from analyzer.claims.seed import seed_suite

    targeted = {t for m in MUTATIONS for t in m.targets}
    for item in seed_suite():
        assert item.id in targeted, item.id
        for caveat in item.caveats:
            assert caveat.id in targeted, caveat.id


@pytest.mark.parametrize(("mutation", "target"), CASES)
def test_the_mutation_is_caught(monkeypatch, mutation, target) -> None:
    item = seed_claim(target)
    mutation.apply(monkeypatch)
    result = run_claim(item, examples=10, device="cpu")
    assert not result.as_expected, f"{mutation.name} slipped through {target}: {result.verdict}"
