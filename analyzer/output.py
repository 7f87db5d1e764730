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
    naming ``what`` (an option such as ``--json``) and the path.

    The folder is probed by creating and removing a temporary file in it, so a read-only
    folder or file system (``/proc``) fails here, before any slow work, and not after it.
    """
    target = Path(path)
    if target.is_dir():
        raise SpecError(f"{what} {str(target)!r} is a directory; give a file name")
    parent = target.parent
    if not parent.exists():
        blocker = _file_above(parent)
        if blocker is not None:
            raise SpecError(f"{what} {str(target)!r}: {str(blocker)!r} is a file, not a folder")
        raise SpecError(f"{what} {str(target)!r}: the folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise SpecError(f"{what} {str(target)!r}: {str(parent)!r} is a file, not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise SpecError(f"{what} {str(target)!r} exists and is read-only")
    _probe(parent, what, target)
    return target


def check_writable_folder(path: str | Path, what: str = "output folder") -> Path:
    """``path`` as a :class:`Path` if a folder can be created (when missing) and written
    there, else :class:`SpecError`. Nothing is created: the nearest existing ancestor is
    probed instead, so a failed command leaves no empty folder behind."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise SpecError(f"{what} {str(target)!r} is a file; give a folder")
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise SpecError(f"{what} {str(target)!r}: {str(existing)!r} is a file, not a folder")
    _probe(existing, what, target)
    return target


def _file_above(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` when it is a file (``a.txt/x/y``)."""
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            return None if ancestor.is_dir() else ancestor
    return None


def _probe(folder: Path, what: str, target: Path) -> None:
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".analyzer-probe-")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SpecError(
            f"{what} {str(target)!r}: cannot create files in {str(folder)!r} "
            f"(the system says: {reason})"
        ) from None
    os.close(handle)
    Path(temporary).unlink(missing_ok=True)


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
