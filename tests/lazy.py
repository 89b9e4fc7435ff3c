"""Checks for names a package loads on first use (a module ``__getattr__``, PEP 562).

:func:`modules_imported` runs a fresh interpreter (nothing cached in the process), so it sees
what ``import flynn_async`` really imports; :func:`check_every_name_resolves` checks a lazy
package's ``__all__``, ``dir()`` and unknown names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import ModuleType

import pytest

_PROGRAM = """
import json, sys
import flynn_async
first = sorted(sys.modules)
{then}
print(json.dumps([first, sorted(sys.modules)]))
"""


def modules_imported(then: str) -> tuple[set[str], set[str]]:
    """The modules a fresh interpreter holds after ``import flynn_async``, and after ``then``
    (Python statements) too."""
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(then=then)],
        capture_output=True,
        text=True,
        check=True,
    )
    first, after = json.loads(done.stdout)
    return set(first), set(after)


def check_every_name_resolves(package: ModuleType, homes: dict[str, ModuleType]) -> None:
    """Every name of ``package.__all__`` resolves, to the object of its home module for those in
    ``homes`` (name -> module); ``dir()`` lists them all; an unknown name is an AttributeError."""
    for name in package.__all__:
        value = getattr(package, name)
        if name in homes:
            assert value is getattr(homes[name], name), name
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        package.NoSuchName  # noqa: B018 - the look-up is the test
