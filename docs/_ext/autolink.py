"""Inline code that names a public object links to its entry in the API reference.

The guides are written in plain Markdown: ```FlynnClient```, ```client.ims.download_all```,
```Task.wait()```, ```flynn_async.testing.FlynnSimulator``` stay readable in the source, and this
extension turns each such literal into a link once every page is read (the ``doctree-resolved``
event, when the Python domain knows every documented object). A literal names an object when,
with a trailing call ``(...)`` taken off, it is

- a documented name in full (``flynn_async.RetryPolicy``) or without its public module
  (``RetryPolicy``, ``RetryPolicy.replace``, ``export.write_xlsx``);
- an attribute path from an object the guides name by habit (``client.ims.download_all``:
  ``client`` is a ``FlynnClient``, ``client.ims`` an ``ImsApi``, ``task`` a ``Task``);
- the bare name of a method that exactly one documented class has (``download_all``,
  ``request_otp``), unless it is an ordinary word (``sleep``, ``status``, ``result``).

Literals in headings, inside links, and on the reference pages themselves are left alone.
Nothing here can fail the build: a literal that names nothing stays code.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import warnings
from collections import defaultdict
from typing import Any

from docutils import nodes

#: The modules applications import from; a name may be written without them.
PUBLIC_MODULES = (
    "flynn_async.testing.pytest_plugin",
    "flynn_async.testing",
    "flynn_async.einvoice",
    "flynn_async.gstr2b",
    "flynn_async.batch",
    "flynn_async.ims",
    "flynn_async.export",
    "flynn_async",
)

#: Variables the guides use for instances, and the class each stands for.
HABITS = {
    "client": "FlynnClient",
    "client.gst": "GstApi",
    "client.ims": "ImsApi",
    "client.einvoice": "EInvoiceApi",
    "client.gstr2b": "Gstr2bApi",
    "task": "Task",
    "invoices": "ImsInvoices",
    "session": "GstSession",
    "sim": "FlynnSimulator",
}

#: Pages that are not guides: the reference documents the objects, it does not mention them.
SKIPPED_PREFIXES = ("reference/",)

#: A bare name links only to a method (``download_all``), never to an attribute: ``status``,
#: ``value`` or ``base_url`` in prose are as often a JSON key, a query parameter or a setting.
_CALLABLE = frozenset({"method", "classmethod", "staticmethod", "function"})
#: Methods whose bare names are ordinary words in the guides (``asyncio.sleep``, "the result").
_COMMON_WORDS = frozenset(
    {"sleep", "status", "wait", "result", "pages", "records", "load", "of", "section", "write"}
)

_CALL = re.compile(r"^([A-Za-z_][\w.]*)\(.*\)$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*$")


def _short(full: str) -> str:
    """The name without its public module: ``flynn_async.Task.wait`` -> ``Task.wait``."""
    for module in PUBLIC_MODULES:
        if full.startswith(module + "."):
            return full[len(module) + 1 :]
    return full


def build_index(objects: dict[str, Any]) -> dict[str, str]:
    """Every spelling the guides may use, mapped to the full documented name."""
    index: dict[str, str] = {}
    members: dict[str, set[str]] = defaultdict(set)
    public = {
        name: entry
        for name, entry in objects.items()
        if not entry.aliased and not any(part.startswith("_") for part in name.split(".")[1:])
    }
    for full in public:
        index[full] = full
        short = _short(full)
        index.setdefault(short, full)
        # "testing.FlynnSimulator", "export.write_xlsx", "einvoice.compute_irn"
        for module in PUBLIC_MODULES[:-1]:
            if full.startswith(module + "."):
                index.setdefault(module.removeprefix("flynn_async.") + "." + short, full)
        if "." in short and public[full].objtype in _CALLABLE:
            members[short.rsplit(".", 1)[1]].add(full)
    by_class = {_short(full): full for full in public}
    for habit, cls in HABITS.items():
        owner = by_class.get(cls)
        if owner is None:
            continue
        index.setdefault(habit, owner)
        for full in public:
            if full.startswith(owner + "."):
                index.setdefault(habit + full[len(owner) :], full)
    # A name a public module re-exports is documented once ("einvoice.compute_irn" is the
    # same function as "flynn_async.compute_irn").
    for module_name in PUBLIC_MODULES[:-1]:
        with contextlib.suppress(ImportError):
            module = importlib.import_module(module_name)
            for name in getattr(module, "__all__", ()):
                documented = f"flynn_async.{name}"
                if documented in public and _resolve(documented) is getattr(module, name, None):
                    index.setdefault(f"{module_name}.{name}", documented)
                    short = module_name.removeprefix("flynn_async.")
                    index.setdefault(f"{short}.{name}", documented)
    for member, fulls in members.items():
        if len(fulls) == 1 and member not in index and member not in _COMMON_WORDS:
            index[member] = next(iter(fulls))
    return index


def target_of(text: str, index: dict[str, str]) -> str | None:
    """The full name a literal's text names, or ``None``."""
    text = text.strip()
    call = _CALL.match(text)
    if call:
        text = call.group(1)
    if not _NAME.match(text):
        return None
    if text in index:
        return index[text]
    # "JobResult.invoices": a real member without an entry of its own links to its class.
    owner, _, member = text.rpartition(".")
    full = index.get(owner)
    if full is not None and isinstance(_resolve(full), type) and hasattr(_resolve(full), member):
        return full
    return None


def _resolve(full: str) -> object:
    """The object a documented name stands for, or ``None`` (also for a deprecated alias)."""
    module_name, _, name = full.partition(".")
    with contextlib.suppress(ImportError), warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        value: object = importlib.import_module(module_name)
        for part in name.split(".") if name else []:
            try:
                value = getattr(value, part, None)
            except DeprecationWarning:
                return None  # an old name kept for one release: its new home is documented
            if value is None:
                return None
        return value
    return None


def _link(app: Any, doctree: nodes.document, docname: str) -> None:
    if docname.startswith(SKIPPED_PREFIXES):
        return
    domain = app.env.get_domain("py")
    index = app.env.flynn_autolink_index if hasattr(app.env, "flynn_autolink_index") else None
    if index is None:
        index = build_index(domain.objects)
        app.env.flynn_autolink_index = index
    for literal in list(doctree.findall(nodes.literal)):
        parent = literal.parent
        if isinstance(parent, (nodes.reference, nodes.title, nodes.literal_block)):
            continue
        if any(isinstance(a, (nodes.reference, nodes.title)) for a in _ancestors(literal)):
            continue
        full = target_of(literal.astext(), index)
        if full is None:
            continue
        entry = domain.objects[full]
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        reference = nodes.reference("", "", internal=True, refuri=uri, reftitle=full)
        literal.replace_self(reference)
        reference += literal
        literal["classes"].append("xref")


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def _forget(app: Any, env: Any, *args: Any) -> None:
    if hasattr(env, "flynn_autolink_index"):
        del env.flynn_autolink_index


def setup(app: Any) -> dict[str, Any]:
    """Register the linking step."""
    app.connect("doctree-resolved", _link)
    app.connect("env-updated", _forget)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
