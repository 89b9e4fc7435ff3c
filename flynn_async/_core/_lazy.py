"""Names a package serves from its own modules on first use (PEP 562), for import time.

A package that keeps a slow module out of ``import flynn_async`` still lists that module's
public names in its ``__all__``; :func:`lazy_names` gives it the module ``__getattr__`` that
imports the module when one of them is first asked for (then keeps the name in the package),
and the ``__dir__`` that lists them before that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, namespace: MutableMapping[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose globals are ``namespace``.

    ``homes`` maps each name served on first use to the module of the package that defines
    it (``{"ImsImport": "_imports"}``: ``package._imports``).
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
