"""Reading users' claim files: the claims a Python file defines, in the order it defines them.

A claim file is any Python file whose module-level names include :class:`Claim` objects
(functions decorated with ``@claim``). Parts and caveats attached to another claim are
run under it, not again on their own.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "my_claims.py"
>>> _ = path.write_text('''
... from analyzer.claims import claim
... @claim("one is one", identity=True, tolerance=0)
... def one(check):
...     return 1 - 1
... ''')
>>> [c.id for c in load_claims(path)]
['one']
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from analyzer.claims.core import Claim
from analyzer.errors import SpecError


def claims_in(module: ModuleType) -> list[Claim]:
    """The claims ``module`` defines at its top level, less those attached to another."""
    found = [
        v for v in vars(module).values() if isinstance(v, Claim) and v.module == module.__name__
    ]
    attached = {id(c) for claim in found for c in [*claim.parts, *claim.caveats]}
    return [c for c in found if id(c) not in attached]


def load_claims(path: str | Path) -> list[Claim]:
    """Import the claim file ``path`` and return its claims; :class:`SpecError` when the
    file is missing, does not import, or defines no claim."""
    file = Path(path)
    if file.suffix != ".py":
        raise SpecError(f"claim file {str(file)!r}: give a Python file (FILE.py)")
    if not file.is_file():
        raise SpecError(f"claim file {str(file)!r} does not exist")
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]
    name = f"_analyzer_claims_{file.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)  # the file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except SpecError:
        raise
    except Exception as error:
        sys.modules.pop(name, None)
        raise SpecError(
            f"claim file {str(file)!r} did not import: {type(error).__name__}: {error}"
        ) from error
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    found = claims_in(module)
    if not found:
        raise SpecError(
            f"claim file {str(file)!r} defines no claim: decorate a function with "
            "@claim(statement, family=...) or @claim(statement, identity=True)"
        )
    return found
