"""The seed's claims S1–S8 (docs/claims.md), made precise and checked: ``analyzer claims``.

>>> [c.id for c in seed_suite()]
['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']
"""

from __future__ import annotations

from analyzer.claims.core import Claim


def seed_suite() -> list[Claim]:
    """The eight seed claims, each with its parts and measured caveats."""
    from analyzer.claims.seed.s1_feedforward import s1_feedforward
    from analyzer.claims.seed.s2_backprop import s2_backprop
    from analyzer.claims.seed.s3_transformers import s3_transformers
    from analyzer.claims.seed.s4_fast_weights import s4_fast_weights
    from analyzer.claims.seed.s5_icl import s5_icl
    from analyzer.claims.seed.s6_hopfield import s6_hopfield
    from analyzer.claims.seed.s7_brain import s7_brain
    from analyzer.claims.seed.s8_enrich import s8_enrich

    return [
        s1_feedforward, s2_backprop, s3_transformers, s4_fast_weights,
        s5_icl, s6_hopfield, s7_brain, s8_enrich,
    ]  # fmt: skip


SUITES = {"seed": seed_suite}
"""Built-in suites by the name ``analyzer claims --suite`` takes."""
