"""The errors of the ``hf:`` builder, and transformers imported lazily.

Failures are told apart, because they call for different actions: an unknown type or
config field, or an override the config class rejects, is the user's (exit 2); a
missing package is the environment's (exit 2, naming it, as :class:`MissingPackageError`);
a default config or model that transformers itself cannot build, or a forward that fails
on every input plan, is exit 3 (:class:`TransformersError`).

>>> missing_package("bark", ImportError("No module named 'PIL'", name="PIL")).package
'PIL'
>>> first_line(ValueError("transformers cannot do it" + chr(10) + "and more"))
'transformers cannot do it'
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from analyzer.errors import SpecError, TraceError


class MissingPackageError(SpecError):
    """The model's code needs a Python package that is not installed (exit code 2)."""

    def __init__(self, message: str, package: str) -> None:
        super().__init__(message)
        self.package = package


class TransformersError(TraceError):
    """transformers itself failed: ``stage`` is ``"config"`` (the default config does not
    build), ``"model"`` (the model does not build from it), ``"no forward"`` (the model
    class has none) or ``"forward"`` (the forward fails on every input plan). Exit 3."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


_REQUIRES = re.compile(r"requires the (\S+) librar")


def missing_package(model_type: str, error: ImportError) -> MissingPackageError:
    """The error to raise when building or running ``model_type`` failed with ``error``:
    the package it names and the pip distribution that installs it."""
    found = _REQUIRES.search(str(error))
    package = getattr(error, "name", None) or (found.group(1) if found else None)
    package = (package or "an uninstalled package").split(".")[0]
    distribution = _DISTRIBUTIONS.get(package, package)
    said = first_line(error)
    if said.endswith(":"):  # "… You can install it with pip:" and the command on the next line
        said = said.rsplit(". ", 1)[0] + "."
    return MissingPackageError(
        f"hf:{model_type} needs the Python package {package!r}, which is not installed "
        f"(pip install {distribution}): {said}",
        package,
    )


# import names whose pip distribution is called otherwise
_DISTRIBUTIONS = {"PIL": "Pillow", "sklearn": "scikit-learn", "cv2": "opencv-python"}


def import_transformers() -> Any:
    """The transformers module, or a :class:`MissingPackageError` saying how to get it."""
    try:
        import transformers
    except ImportError as error:
        raise MissingPackageError(
            "hf: models need the transformers package: pip install 'analyzer[transformers]'",
            "transformers",
        ) from error
    return transformers


def first_line(error: BaseException) -> str:
    """The first non-blank line of ``error``'s message, cut at 300 characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else repr(error)
    return text if len(text) < 300 else text[:300] + "…"


def did_you_mean(name: str, choices: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or a list of a few.

    >>> did_you_mean("num_hiden_layers", ["num_hidden_layers", "hidden_size"])
    "; did you mean 'num_hidden_layers'?"
    """
    options = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not options:
        return ""
    shown = ", ".join(options[:12]) + (", …" if len(options) > 12 else "")
    return f"; it takes {shown}"
