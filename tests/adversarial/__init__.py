"""Adversarial models with ground truth from an oracle independent of the tool.

``catalogue`` defines the cases (``cases_*`` modules, one per class of attack), ``oracle``
measures the truth on the Python model by finite differences, ``judge`` runs ``analyze`` and
``validate`` through the public API and compares, ``summary`` prints the verdicts::

    python -m pytest tests/adversarial -q
    python -m tests.adversarial.summary
"""
