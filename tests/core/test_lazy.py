"""lazy_names: a package's names served from its own modules on first use."""

from __future__ import annotations

from typing import Any

import pytest

from flynn_async._core._lazy import lazy_names
from flynn_async.ims import _imports


def test_a_name_is_imported_on_first_use_and_then_kept() -> None:
    namespace: dict[str, Any] = {"eager": 1}
    getattr_, dir_ = lazy_names("flynn_async.ims", namespace, {"ImsImport": "_imports"})
    assert ["ImsImport", "eager"] == dir_()  # listed before it is loaded
    assert _imports.ImsImport is getattr_("ImsImport")
    assert _imports.ImsImport is namespace["ImsImport"]  # kept: asked for once only
    with pytest.raises(AttributeError, match=r"module 'flynn_async\.ims' has no attribute 'x'"):
        getattr_("x")
