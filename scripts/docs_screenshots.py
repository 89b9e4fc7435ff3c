"""Screenshots of the built docs site, and the checks that need a browser (run by hand).

    sphinx-build -E -W -q -b html docs docs/_build/html
    python scripts/docs_screenshots.py --out /tmp/shots

Needs headless Chromium (``apt-get install chromium``) and Playwright's Python driver
(``pip install playwright``; no browser is downloaded: the system's Chromium is used). It
opens the landing page, a guide page, the pipeline page and the performance page at 1,280 px
(a laptop) and 390 px (a phone), writes a full-page PNG of each, and checks:

- at 1,280 px no code block is wider than its box (nothing to scroll sideways);
- the pipeline picture's smallest text is at least 12 px as shown, at both widths (the SVG's
  smallest font size times the scale it is drawn at), and the phone gets the narrow picture.

It prints the measures ``tests/test_docs_site.py`` derives its code-width limit from (the
content column's width, a code block's padding, a monospace character's width). Exit status 0
only if every check passes. Screenshots are taken with Chromium's own ``--screenshot`` (at the
page's full height), the measures through Playwright.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = (
    ("index.html", (1280, 390)),
    ("quickstart.html", (1280, 390)),
    ("pipeline.html", (1280, 390)),
    ("performance.html", (1280, 390)),
)
MIN_TEXT_PX = 12.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

MEASURE = """() => {
  const pres = [...document.querySelectorAll('article div.highlight pre')];
  const wide = pres.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => ({
    width: e.scrollWidth, box: e.clientWidth, first: e.textContent.split('\\n')[0].slice(0, 60)}));
  let charPx = null, padding = null;
  if (pres.length) {
    const s = document.createElement('span');
    s.textContent = 'x'.repeat(100);
    pres[0].appendChild(s);
    charPx = s.getBoundingClientRect().width / 100;
    s.remove();
    const style = getComputedStyle(pres[0]);
    padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  }
  const pictures = [...document.querySelectorAll('article figure.diagram img')].map(img => ({
    src: img.currentSrc, shown: img.getBoundingClientRect().width}));
  const charts = [...document.querySelectorAll('article svg.bench-chart')].map(svg => ({
    shown: svg.getBoundingClientRect().width, width: svg.viewBox.baseVal.width}));
  return {
    content: document.querySelector('article').getBoundingClientRect().width,
    height: Math.ceil(document.documentElement.scrollHeight),
    blocks: pres.length, wide, charPx, padding, pictures, charts,
  };
}"""


def smallest_font(svg: str) -> float:
    """The smallest font size an SVG sets, in its own units."""
    return min(float(size) for size in re.findall(r"font-size:\s*(\d+(?:\.\d+)?)px", svg))


def svg_width(svg: str) -> float:
    """The width of an SVG's view box."""
    return float(ET.fromstring(svg).attrib["viewBox"].split()[2])


def screenshot(chromium: str, url: str, width: int, height: int, path: Path) -> None:
    """A PNG of the page at ``width`` x ``height`` by Chromium's own ``--screenshot``."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={path}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def check(html: Path, out: Path, chromium: str) -> list[str]:
    """Take the screenshots and make the checks; the failures, as sentences."""
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        for name, widths in PAGES:
            url = (html / name).resolve().as_uri()
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(url)
                got: dict[str, Any] = page.evaluate(MEASURE)
                page.close()
                where = f"{name} at {width} px"
                print(
                    f"{where}: content {got['content']:.0f} px, {got['blocks']} code blocks,"
                    f" {len(got['wide'])} wider than their box; code padding {got['padding']} px,"
                    f" a character {got['charPx'] and round(got['charPx'], 2)} px;"
                    f" page {got['height']} px tall"
                )
                if width >= 1280:
                    for block in got["wide"]:
                        failures.append(
                            f"{where}: a code block is {block['width']} px in a {block['box']} px"
                            f" box ({block['first']!r})"
                        )
                for chart in got["charts"]:
                    text = 14 * chart["shown"] / chart["width"]
                    print(f"   chart shown {chart['shown']:.0f} px wide: value text {text:.1f} px")
                for picture in got["pictures"]:
                    file = html / "_static" / picture["src"].rsplit("/", 1)[1]
                    svg = file.read_text(encoding="utf-8")
                    scale = picture["shown"] / svg_width(svg)
                    text = smallest_font(svg) * scale
                    print(
                        f"   {file.name} shown {picture['shown']:.0f} px wide (x{scale:.2f}):"
                        f" smallest text {text:.1f} px"
                    )
                    if name == "pipeline.html" and text < MIN_TEXT_PX:
                        failures.append(f"{where}: {file.name}'s text is {text:.1f} px")
                    narrow = "narrow" in file.name
                    if file.name.startswith("pipeline") and width < 700 and not narrow:
                        failures.append(f"{where}: the phone is shown {file.name}")
                shot = out / f"{Path(name).stem}-{width}.png"
                screenshot(chromium, url, width, got["height"], shot)
                print(f"   wrote {shot}")
        browser.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--html", type=Path, default=ROOT / "docs" / "_build" / "html")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "docs-shots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        parser.error(f"build the site first: no {args.html / 'index.html'}")
    failures = check(args.html, args.out, args.chromium)
    for failure in failures:
        print(f"FAILED: {failure}")
    print("every check passed" if not failures else f"{len(failures)} checks failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
