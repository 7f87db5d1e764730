"""Writing result files atomically: a file appears whole, or not at all.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.json"
>>> write_json_atomic(target, {"a": 1}); target.read_text()
'{\\n  "a": 1\\n}\\n'
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from analyzer.errors import SpecError


def check_writable(path: str | Path, what: str = "output path") -> Path:
    """``path`` as a :class:`Path` if a file can be written there, else :class:`SpecError`
    naming ``what`` (an option such as ``--json``) and the path."""
    target = Path(path)
    if target.is_dir():
        raise SpecError(f"{what} {str(target)!r} is a directory; give a file name")
    if not target.parent.exists():
        raise SpecError(f"{what} {str(target)!r}: the folder {str(target.parent)!r} does not exist")
    return target


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    target = check_writable(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; results are shared
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json_atomic(path: str | Path, document: Any) -> None:
    """Write ``document`` as indented, key-sorted-as-given JSON, atomically."""
    write_text_atomic(path, json.dumps(document, indent=2) + "\n")
