"""Sphinx configuration for the flynn-async documentation site.

Build it (strict: any warning fails the build, and every warning is reported)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The build is offline: no intersphinx, no remote images or fonts, nothing fetched.
"""

from __future__ import annotations

import enum
import re
import sys
from pathlib import Path
from typing import Any

# Document the package of this checkout even when it is not installed (it normally is:
# ``pip install -e '.[test]'`` brings the ``docs`` extra and the package itself).
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))
# The site's own extensions (docs/_ext/): inline code that names a public object links to it.
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import flynn_async  # noqa: E402

# Some modules import names for type checking only, from a module of their package that loads
# on first use, not with the package (import time); autodoc evaluates a signature in its
# module's globals, so the documentation build puts those names there.
from flynn_async import batch  # noqa: E402
from flynn_async.einvoice import _lookup, _models  # noqa: E402

for _name in ("DocumentType", "EInvoiceDetails", "IrpCredentials"):
    setattr(_lookup, _name, getattr(_models, _name))
from flynn_async.ims import _actions as _ims_actions  # noqa: E402
from flynn_async.ims import _counts as _ims_counts  # noqa: E402
from flynn_async.ims import _download as _ims_download  # noqa: E402

for _name in ("ActionSubmittedCallback", "ImsActionResult", "ImsDecision", "ImsRequestStatus"):
    setattr(_ims_download, _name, getattr(_ims_actions, _name))
_ims_download.ImsCounts = _ims_counts.ImsCounts  # type: ignore[attr-defined]
for _name in ("BatchProgressCallback", "BatchResult", "DownloadJob", "ResultCallback"):
    getattr(batch, _name)  # the package keeps a name once it is asked for

project = "flynn-async"
author = "flynn-async developers"
project_copyright = "flynn-async developers"
release = flynn_async.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "autolink",
    "benchcharts",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# docs/examples/ holds Python files (the FastAPI example), not pages.
exclude_patterns = ["_build", "_ext", "_data", "examples", "Thumbs.db", ".DS_Store"]

# -- MyST ------------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence"]
# Give headings down to ### anchors, so that links like "usage.md#the-gst-session" resolve.
myst_heading_anchors = 3

# -- autodoc and napoleon (the docstrings use Google-style "Args:" sections) -----------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML ------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"flynn-async {release}"
html_static_path = ["_static"]
html_css_files = ["flynn.css"]
html_show_sourcelink = False

# -- Small adjustments to autodoc's output ---------------------------------------------------

# Classes an application reaches through the client (``client.gst``, ``client.ims``,
# ``client.einvoice``, ``client.ims.submit(...)``) and never constructs: their constructors
# take private parts, so the reference shows no constructor signature for them.
_NOT_CONSTRUCTED = frozenset(
    {
        "flynn_async.GstApi",
        "flynn_async.ImsApi",
        "flynn_async.EInvoiceApi",
        "flynn_async.Task",
    }
)

# Classes whose constructor takes many keyword settings: the reference shows the call's shape
# (its docstring's "Args" list every setting; docs/configuration.md has them in one table)
# instead of a signature of a dozen lines.
_SHORT_SIGNATURES = {"flynn_async.FlynnClient": "(credentials, **settings)"}

# A default value that is a function, as autodoc shows it: "<built-in function monotonic>".
_FUNCTION_REPR = re.compile(r"<(?:built-in )?function ([\w.]+)(?: at 0x[0-9a-f]+)?>")


def _clean_signature(
    app: Any,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str] | None:
    """Hide constructor signatures nobody calls; make function defaults parseable."""
    if what == "class" and name in _NOT_CONSTRUCTED:
        return "", ""
    if what == "class" and name in _SHORT_SIGNATURES:
        return _SHORT_SIGNATURES[name], ""
    if what == "class" and isinstance(obj, type) and issubclass(obj, enum.Enum):
        return "", ""  # enums are looked up by value or member, not constructed
    if what == "class" and getattr(obj, "_is_protocol", False):
        return "", ""  # protocols are implemented, not constructed
    if signature and "<" in signature:
        # A default that is a function shows as "<function sleep>", which the Python domain
        # cannot parse (the whole signature would then be shown raw, "~module.Class" and all):
        # show its name instead ("sleep", "monotonic").
        return _FUNCTION_REPR.sub(r"\1", signature), return_annotation or ""
    return None


def _public_bases(app: Any, name: str, obj: Any, options: Any, bases: list[type]) -> None:
    """Show the public ancestors of a private base class (``_OpenEnum`` -> ``StrEnum``)."""
    public: list[type] = []
    pending = list(bases)
    while pending:
        base = pending.pop(0)
        if base.__name__.startswith("_"):
            pending[:0] = [b for b in base.__bases__ if b is not object]
        elif base not in public:
            public.append(base)
    bases[:] = public or [object]


def _napoleon_except_attributes(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Napoleon, but not on attribute and property docstrings.

    Napoleon reads the first ``text: more`` of an attribute's docstring as ``type:
    description`` (so "Supplier GSTIN (``stin``). Kept as sent: sandbox GSTINs are not
    validated." would lose its first half to a "Type" field); the package's attribute
    docstrings are plain sentences, and their types come from the annotations.
    """
    if what in {"attribute", "data", "property"}:
        return
    from sphinx.ext.napoleon import _process_docstring

    _process_docstring(app, what, name, obj, options, lines)


def setup(app: Any) -> None:
    """Wire the adjustments above into the build."""
    from sphinx.ext.napoleon import _process_docstring

    for listener in list(app.events.listeners.get("autodoc-process-docstring", [])):
        if listener.handler is _process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", _napoleon_except_attributes)
    app.connect("autodoc-process-signature", _clean_signature)
    app.connect("autodoc-process-bases", _public_bases)
