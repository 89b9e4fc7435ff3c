"""The package's names: the 2B models and their merging load on first use (import time)."""

from __future__ import annotations

from flynn_async import gstr2b
from flynn_async.gstr2b import _merge, _models, _service
from tests.lazy import check_every_name_resolves, modules_imported

LAZY = {"flynn_async.gstr2b._models", "flynn_async.gstr2b._merge"}


def test_the_models_are_imported_on_first_use_not_with_the_package() -> None:
    first, after = modules_imported("from flynn_async.gstr2b import Gstr2b, merge_files")
    assert {"flynn_async.gstr2b", "flynn_async.gstr2b._service"} <= first
    assert set() == LAZY & first
    assert LAZY <= after


def test_every_public_name_of_the_package_resolves() -> None:
    homes = {name: _models if home == "_models" else _merge for name, home in gstr2b._LAZY.items()}
    homes |= dict.fromkeys(("Gstr2bApi", "Gstr2bRegeneration"), _service)
    assert set(gstr2b._LAZY) <= set(gstr2b.__all__)
    check_every_name_resolves(gstr2b, homes)
