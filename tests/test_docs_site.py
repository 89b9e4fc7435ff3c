"""The docs site as people read it: links, code widths, the charts' data, the pictures.

These are the checks that need no browser (``scripts/docs_screenshots.py`` makes the ones that
do, by hand): every public name the guides mention in inline code is a link to its reference
entry; no line of a code block is wider than the page shows at 1,280 px; the data file the
performance page draws its charts from matches the schema the benchmarks write; the pictures
are self-contained SVG whose text is large enough.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SVG = "{http://www.w3.org/2000/svg}"

# -- Code width -------------------------------------------------------------------------------

# Measured with headless Chromium on the built site (scripts/docs_screenshots.py prints them):
# at 1,280 px Furo's content column is 736 px wide, a code block pads 14 px on each side, and
# its 13 px monospace font is 7.80 px a character.
CONTENT_PX = 736
PADDING_PX = 2 * 14
CHAR_PX = 7.80
MAX_CODE_CHARS = int((CONTENT_PX - PADDING_PX) / CHAR_PX)  # 90
# A block inside a list item (indented fence) is 19 px narrower.
LIST_INDENT_PX = 19
MAX_LIST_CODE_CHARS = int((CONTENT_PX - LIST_INDENT_PX - PADDING_PX) / CHAR_PX)  # 88

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})([^\n]*)\n(.*?)^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)


def pages() -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(p for p in DOCS.rglob("*.md") if not p.relative_to(DOCS).parts[0].startswith("_"))


def code_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(first line number, content, in a list)`` of every fenced code block (directives left
    out); a block in a list item is indented, and its content is given without the indent."""
    blocks = []
    for found in _FENCE.finditer(text):
        info = found.group(3).strip()
        if info.startswith("{") and not info.startswith(("{code", "{code-block}")):
            continue
        indent = found.group(1)
        content = "".join(line.removeprefix(indent) for line in found.group(4).splitlines(True))
        blocks.append((text.count("\n", 0, found.start()) + 2, content, bool(indent)))
    return blocks


def too_wide(path: Path, base: Path = DOCS) -> list[str]:
    """``page:line: N chars`` for every code line wider than the page shows."""
    found = []
    for first, content, in_list in code_blocks(path.read_text(encoding="utf-8")):
        limit = MAX_LIST_CODE_CHARS if in_list else MAX_CODE_CHARS
        for offset, line in enumerate(content.splitlines()):
            if len(line) > limit:
                where = f"{path.relative_to(base).as_posix()}:{first + offset}"
                found.append(f"{where}: {len(line)} chars")
    return found


def test_the_limit_is_derived_from_the_measured_width() -> None:
    assert 90 == MAX_CODE_CHARS


def test_the_code_block_reader_finds_blocks_and_skips_directives() -> None:
    text = "x\n```python\na = 1\n```\n\n```{toctree}\nquickstart\n```\n~~~sh\nls\n~~~\n"
    assert [(3, "a = 1\n", False), (10, "ls\n", False)] == code_blocks(text)
    listed = "1. step\n\n   ```python\n   if a:\n       b()\n   ```\n"
    assert [(4, "if a:\n    b()\n", True)] == code_blocks(listed)


def test_a_wide_line_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "page.md"
    wide, fits = "x" * (MAX_CODE_CHARS + 1), "y" * MAX_CODE_CHARS
    fake.write_text(f"text {wide}\n\n```python\n{fits}\n{wide}\n```\n", encoding="utf-8")
    assert [f"page.md:5: {MAX_CODE_CHARS + 1} chars"] == too_wide(fake, tmp_path)
    listed = "x" * (MAX_LIST_CODE_CHARS + 1)
    fake.write_text(f"1. step\n\n   ```python\n   {listed}\n   ```\n", encoding="utf-8")
    assert [f"page.md:4: {MAX_LIST_CODE_CHARS + 1} chars"] == too_wide(fake, tmp_path)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_no_code_line_is_wider_than_the_page(page: Path) -> None:
    assert [] == too_wide(page)


# -- The built site: every public name mentioned is a link ---------------------------------------


def public_modules() -> list[ModuleType]:
    """The modules applications import from."""
    names = [
        "flynn_async",
        "flynn_async.einvoice",
        "flynn_async.gstr2b",
        "flynn_async.ims",
        "flynn_async.batch",
        "flynn_async.testing",
        "flynn_async.export",
    ]
    modules = []
    for name in names:
        with contextlib.suppress(ModuleNotFoundError):
            modules.append(importlib.import_module(name))
    return modules


def public_names() -> set[str]:
    """The names of every module's ``__all__``, bare and qualified, and ``Class.member``."""
    names: set[str] = set()
    for module in public_modules():
        short = module.__name__.removeprefix("flynn_async").lstrip(".")
        for name in module.__all__:
            if name.startswith("__"):
                continue
            names |= {name, f"{module.__name__}.{name}"}
            if short:
                names.add(f"{short}.{name}")
            value = getattr(module, name)
            if isinstance(value, type):
                for klass in value.__mro__:
                    if not klass.__module__.startswith("flynn_async"):
                        continue
                    names |= {f"{name}.{m}" for m in vars(klass) if not m.startswith("_")}
    return names


class _Literals(HTMLParser):
    """The inline code of a page body, each with whether it sits in a link or a heading."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[tuple[str, bool, bool]] = []
        self._text: list[str] | None = None
        self._in_article = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "article":
            self._in_article += 1
        if tag in {"br", "img", "hr", "meta", "link", "input"}:
            return
        self.stack.append(tag)
        if tag == "code" and "literal" in classes and self._in_article:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._in_article -= 1
        if tag == "code" and self._text is not None:
            linked = "a" in self.stack
            heading = any(t in self.stack for t in ("h1", "h2", "h3", "h4", "h5", "h6"))
            self.found.append(("".join(self._text), linked, heading))
            self._text = None
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def literals(html: str) -> list[tuple[str, bool, bool]]:
    """``(text, in a link, in a heading)`` of every inline code literal in a page's article."""
    parser = _Literals()
    parser.feed(html)
    return parser.found


def unlinked(html: str, names: set[str]) -> list[str]:
    """The public names a page mentions in inline code without linking them."""
    missing = []
    for text, linked, heading in literals(html):
        bare = re.sub(r"\(.*\)$", "", text.strip(), flags=re.DOTALL)
        if bare in names and not linked and not heading:
            missing.append(text)
    return missing


def test_the_literal_reader_sees_links_and_headings() -> None:
    html = (
        '<article><h2><code class="docutils literal">Task</code></h2><p>'
        '<a href="x"><code class="docutils literal"><span>FlynnClient</span></code></a> and '
        '<code class="docutils literal"><span>Task.wait()</span></code></p></article>'
        '<code class="docutils literal">Outside</code>'
    )
    assert [("Task", False, True), ("FlynnClient", True, False), ("Task.wait()", False, False)] == (
        literals(html)
    )
    assert ["Task.wait()"] == unlinked(html, {"Task", "FlynnClient", "Task.wait"})


#: Set by the test command, which builds the site strictly just before it runs pytest: the
#: directory of that build, checked here instead of building the site a second time.
PREBUILT = "FLYNN_ASYNC_DOCS_SITE"


def prebuilt_site(value: str) -> Path:
    """The site the test command built: it must be a build of these very pages."""
    site = Path(value)
    assert (site / "index.html").is_file(), f"{PREBUILT}={value}: no built site there"
    for page in pages():
        relative = page.relative_to(DOCS).as_posix()
        copy = site / "_sources" / f"{relative}.txt"
        assert copy.is_file(), f"{PREBUILT}={value}: {relative} was not built"
        assert page.read_bytes() == copy.read_bytes(), f"{PREBUILT}={value}: stale {relative}"
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built afresh into a temporary directory, strictly, as CI builds it.

    In a child process: the build's own deprecation warnings are none of this suite's business
    (pytest runs with ``-W error``), and Sphinx leaves state behind in the process. When the
    test command has just built it (``FLYNN_ASYNC_DOCS_SITE`` names that directory), that
    build is used, once its copies of the pages are checked to be these pages.
    """
    prebuilt = os.environ.get(PREBUILT)
    if prebuilt:
        return prebuilt_site(prebuilt)
    out = tmp_path_factory.mktemp("html")
    doctrees = tmp_path_factory.mktemp("doctrees")
    command = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(doctrees), str(DOCS), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert 0 == done.returncode, done.stderr
    return out


def test_a_prebuilt_site_must_be_a_build_of_these_pages(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html></html>", encoding="utf-8")
    for page in pages():
        copy = tmp_path / "_sources" / f"{page.relative_to(DOCS).as_posix()}.txt"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(page.read_bytes())
    assert tmp_path == prebuilt_site(str(tmp_path))
    stale = tmp_path / "_sources" / "index.md.txt"
    stale.write_bytes(stale.read_bytes() + b"\nan older line\n")
    with pytest.raises(AssertionError, match=r"stale index\.md"):
        prebuilt_site(str(tmp_path))
    stale.unlink()
    with pytest.raises(AssertionError, match=r"index\.md was not built"):
        prebuilt_site(str(tmp_path))
    with pytest.raises(AssertionError, match="no built site there"):
        prebuilt_site(str(tmp_path / "nothing"))


def guide_pages(site: Path) -> list[Path]:
    """The built guides: every page but the reference, the indexes and the search page."""
    skipped = {"genindex.html", "search.html", "py-modindex.html"}
    return sorted(
        p
        for p in site.rglob("*.html")
        if p.name not in skipped
        and p.relative_to(site).parts[0] not in {"reference", "_modules", "_static", "_sources"}
    )


def test_every_public_name_the_guides_mention_is_a_link(site: Path) -> None:
    names = public_names()
    missing = {}
    mentioned = 0
    for page in guide_pages(site):
        html = page.read_text(encoding="utf-8")
        mentioned += sum(1 for text, *_ in literals(html) if re.sub(r"\(.*\)$", "", text) in names)
        found = unlinked(html, names)
        if found:
            missing[page.relative_to(site).as_posix()] = found
    assert {} == missing
    assert mentioned > 200  # the check saw the guides' mentions (about 300 of them)


def test_the_links_go_to_reference_entries(site: Path) -> None:
    html = (site / "pipeline.html").read_text(encoding="utf-8")
    assert 'href="reference/ims.html#flynn_async.ims.ImsApi.download_all"' in html
    assert 'href="reference/errors.html#flynn_async.TaskTimeout"' in html


# -- The charts' data file ---------------------------------------------------------------------


def _load(name: str, path: Path) -> Any:
    """Import a module of the repository that is not part of the package, by its path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docs_data() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks._docs_data")


@pytest.fixture(scope="module")
def charts() -> Any:
    return _load("benchcharts", DOCS / "_ext" / "benchcharts.py")


def test_the_committed_data_file_matches_the_benchmarks_schema(docs_data: Any) -> None:
    data = json.loads(docs_data.DOCS_DATA.read_text(encoding="utf-8"))
    assert [] == docs_data.problems(data)
    assert {str(n) for n in range(1, 9)} == {row["target"] for row in data["rows"]}


def test_the_schema_check_reports_what_is_wrong(docs_data: Any) -> None:
    from benchmarks._common import Row

    rows = [Row("1", "a figure", "1.0x", "<= 2x", True, {"ratio": 1.0})]
    good = docs_data.docs_data(rows, ["machine: test"], 12.34, "python -m benchmarks")
    assert [] == docs_data.problems(json.loads(json.dumps(good)))
    assert ["not a JSON object"] == docs_data.problems([])
    bad = {**good, "schema": "other/1"}
    assert ["schema 'other/1', expected 'flynn-async-benchmarks/1'"] == docs_data.problems(bad)
    row = {**good["rows"][0], "values": {"ratio": "fast"}, "met": "yes"}
    assert [
        "rows[0].met: not true, false or null",
        "rows[0].values: not an object of numbers",
    ] == docs_data.problems({**good, "rows": [row]})
    assert ["rows: not a non-empty list"] == docs_data.problems({**good, "rows": []})
    with pytest.raises(ValueError, match="schema"):
        docs_data.write(bad, Path("never-written.json"))


def test_every_chart_finds_its_values_in_the_data_file(charts: Any, docs_data: Any) -> None:
    data = json.loads(docs_data.DOCS_DATA.read_text(encoding="utf-8"))
    unfinished = {row["target"] for row in data["rows"] if "did not finish" in row["figure"]}
    for name, chart in charts.CHARTS.items():
        if {bar.target for bar in chart.bars} <= unfinished:
            # the page says the run has no figures for it (a benchmark over its time limit)
            with pytest.raises(LookupError):
                charts.svg(name, data)
            continue
        for bar in chart.bars:
            assert charts.value(data, bar) > 0, (name, bar.label)
        root = ET.fromstring(charts.svg(name, data))
        sizes = [
            float(m) for m in re.findall(r"font-size:(\d+(?:\.\d+)?)px", charts.svg(name, data))
        ]
        assert min(sizes) >= 14
        assert len(chart.bars) <= len(list(root.iter(f"{SVG}text")))


def test_a_target_line_never_hides_a_value(charts: Any) -> None:
    # a bar ending just short of the target puts its value's text across the dashed line
    chart = charts.Chart(
        "t", "records/s", (charts.Bar("a", "3", "x", "v"),), goal=200.0, goal_label="target"
    )
    data = {"rows": [{"target": "3", "figure": "x", "values": {"v": 180.0}}]}
    original = dict(charts.CHARTS)
    charts.CHARTS["probe"] = chart
    try:
        svg = charts.svg("probe", data)
    finally:
        charts.CHARTS.clear()
        charts.CHARTS.update(original)
    drawn = [
        "line" if el.tag == f"{SVG}line" else el.get("class")
        for el in ET.fromstring(svg).iter()
        if el.tag in (f"{SVG}line", f"{SVG}text")
    ]
    assert drawn.index("v") > drawn.index("line")  # the value is drawn over the line...
    style = re.search(r"\.v\{([^}]*)\}", svg)
    assert style is not None
    assert "paint-order:stroke" in style.group(1)  # ...on a halo of the background
    assert "stroke:#fff" in style.group(1)


def test_a_chart_names_the_row_it_cannot_find(charts: Any) -> None:
    data = {"rows": [{"target": "3", "figure": "records/s", "values": {}}]}
    with pytest.raises(LookupError, match="target 3"):
        charts.value(data, charts.Bar("x", "3", "records/s", "records_per_s"))


# -- The pictures ------------------------------------------------------------------------------


def font_sizes(svg: str) -> list[float]:
    """Every font size an SVG sets, in its own units."""
    return [float(size) for size in re.findall(r"font-size:\s*(\d+(?:\.\d+)?)px", svg)]


@pytest.mark.parametrize(
    ("name", "shown_at_most"),
    [
        ("pipeline.svg", CONTENT_PX),
        ("pipeline-narrow.svg", 358),
        ("task-lifecycle.svg", CONTENT_PX),
        ("ims-month.svg", CONTENT_PX),
    ],
)
def test_the_pictures_are_self_contained_and_their_text_is_12px(
    name: str, shown_at_most: int
) -> None:
    svg = (DOCS / "_static" / name).read_text(encoding="utf-8")
    root = ET.fromstring(svg)
    assert f"{SVG}svg" == root.tag
    width = float(root.attrib["viewBox"].split()[2])
    scale = min(1.0, shown_at_most / width)
    assert min(font_sizes(svg)) * scale >= 12, f"{name}: text below 12 px when shown"
    for outside in ("<image", "@import", "https://"):
        assert outside not in svg


#: Average glyph widths (em) of DejaVu Sans, the widest usual sans-serif font, with a margin.
GLYPH_EM = {"t": 0.6, "h1": 0.6}  # bold titles
GLYPH_EM_REGULAR = 0.5


def text_boxes(svg: str) -> list[tuple[str, float, float, float | None]]:
    """``(text, left, right, right edge of its box)`` of every horizontal text of a picture,
    its extent estimated from its length; a box title's box is the rectangle drawn before it."""
    root = ET.fromstring(svg)
    sizes = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"\.([\w-]+)\s*\{[^}]*font-size:\s*([\d.]+)px", svg)
    }
    found = []
    previous: ET.Element | None = None
    for element in root.iter():
        if element.tag == f"{SVG}text" and "transform" not in element.attrib:
            text = "".join(element.itertext())
            kind = element.get("class", "")
            em = sizes.get(kind, 13.0) * GLYPH_EM.get(kind, GLYPH_EM_REGULAR)
            extent = len(text) * em
            x = float(element.get("x", "0"))
            anchor = element.get("text-anchor", "start")
            left = x - extent / 2 if anchor == "middle" else x - extent if anchor == "end" else x
            box = None
            if kind == "t" and previous is not None and previous.tag == f"{SVG}rect":
                box = float(previous.get("x", "0")) + float(previous.get("width", "0"))
            found.append((text, left, left + extent, box))
        if element.tag in (f"{SVG}rect", f"{SVG}text"):
            previous = element
    return found


@pytest.mark.parametrize(
    "name", ["pipeline.svg", "pipeline-narrow.svg", "task-lifecycle.svg", "ims-month.svg"]
)
def test_no_text_of_a_picture_runs_past_its_edge_or_its_box(name: str) -> None:
    svg = (DOCS / "_static" / name).read_text(encoding="utf-8")
    width = float(ET.fromstring(svg).attrib["viewBox"].split()[2])
    for text, left, right, box in text_boxes(svg):
        assert left >= 0, f"{name}: {text!r} runs past the picture's left edge"
        assert right <= width, f"{name}: {text!r} runs past the picture's right edge"
        if box is not None:
            assert right <= box - 4, f"{name}: the title {text!r} runs past its box"


def test_inline_code_breaks_between_words_only() -> None:
    # a table cell showed "--" and "production" on two lines; Sphinx marks each word of a
    # literal a span.pre, and the site's stylesheet keeps each one whole
    css = (DOCS / "_static" / "flynn.css").read_text(encoding="utf-8")
    rule = re.search(r"code\.literal span\.pre\s*\{([^}]*)\}", css)
    assert rule is not None
    assert "white-space: nowrap" in rule.group(1)


# -- The linking rules ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def autolink() -> Any:
    return _load("autolink", DOCS / "_ext" / "autolink.py")


def test_which_literals_link_where(autolink: Any) -> None:
    from collections import namedtuple

    Entry = namedtuple("Entry", "docname node_id objtype aliased")
    objects = {
        "flynn_async.FlynnClient": Entry("reference/client", "x", "class", False),
        "flynn_async.FlynnClient.ims": Entry("reference/client", "x", "property", False),
        "flynn_async.ims.ImsApi": Entry("reference/ims", "x", "class", False),
        "flynn_async.ims.ImsApi.download_all": Entry("reference/ims", "x", "method", False),
        "flynn_async.Task": Entry("reference/ims", "x", "class", False),
        "flynn_async.Task.status": Entry("reference/ims", "x", "method", False),
        "flynn_async.RetryPolicy.max_retry_after": Entry("reference/p", "x", "attribute", False),
        "flynn_async.export.write_csv": Entry("reference/export", "x", "function", False),
        "flynn_async._ims.ImsApi": Entry("reference/ims", "x", "class", True),
    }
    index = autolink.build_index(objects)
    expected = {
        "FlynnClient": "flynn_async.FlynnClient",
        "flynn_async.FlynnClient": "flynn_async.FlynnClient",
        "client.ims.download_all(session)": "flynn_async.ims.ImsApi.download_all",
        "download_all": "flynn_async.ims.ImsApi.download_all",
        "Task.status()": "flynn_async.Task.status",
        "export.write_csv": "flynn_async.export.write_csv",
        "write_csv(result, path)": "flynn_async.export.write_csv",
        "Task.page_count": "flynn_async.Task",  # a real member without an entry: its class
    }
    for text, full in expected.items():
        assert full == autolink.target_of(text, index), text
    # an attribute's or an ordinary word's bare name, private paths, other code: no link
    for text in ("max_retry_after", "status", "_ims.ImsApi", "Task.no_such_member", "x = 1"):
        assert autolink.target_of(text, index) is None, text
