"""The ``analyzer`` command line: a thin layer over the Python API.

One module per command (``analyze``, ``report``, ``validate``, …), each with an
``add_parser`` and a ``run`` function; the options several commands share live in
:mod:`analyzer.cli.options`, the entry point and error handling in :mod:`analyzer.cli.main`.
"""

from analyzer.cli.main import main

__all__ = ["main"]
