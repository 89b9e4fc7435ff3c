"""Charts of the performance page, drawn at build time from ``docs/_data/benchmarks.json``.

``python -m benchmarks --write-docs-data`` writes the data file after a full run (its schema is
described in ``benchmarks/_docs_data.py``); the docs build reads it and never runs a benchmark.
In a page::

    ```{benchmark-chart} fanout
    ```

draws the chart ``fanout`` of :data:`CHARTS` as an inline SVG: one horizontal bar per figure,
its label above it (so the chart reads at a phone's width), the value at the bar's end, and
the target as a dashed line where there is one. ``{benchmark-table}`` renders every row of the
run as a table, and ``{benchmark-machine}`` the machine and date of the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

DATA = Path(__file__).resolve().parent.parent / "_data" / "benchmarks.json"


@dataclass(frozen=True)
class Bar:
    """One bar: the row it comes from and the value it shows.

    The row is the one of ``target`` whose figure contains every ``|``-separated part of
    ``figure``; ``key`` names the value in the row's ``values``.
    """

    label: str
    target: str
    figure: str
    key: str
    scale: float = 1.0


@dataclass(frozen=True)
class Chart:
    """A chart: a title, the unit of its values, its bars, and an optional target line."""

    title: str
    unit: str
    bars: tuple[Bar, ...]
    goal: float | None = None
    goal_label: str = ""
    decimals: int = 0


CHARTS: dict[str, Chart] = {
    "fanout": Chart(
        "200 pages of 100 records, 50 ms a page: time to the merged result",
        "ms",
        (
            Bar("one page at a time", "1", "speed-up over C=1|x 100 records", "c1_ms"),
            Bar("16 pages at a time", "1", "speed-up over C=1|x 100 records", "c16_ms"),
            Bar(
                "the ideal for 16 at a time: 13 rounds of 50 ms",
                "1",
                "time to merged result|x 100 records",
                "ideal_ms",
            ),
        ),
    ),
    "decode": Chart(
        "Decoding one page of 500 records: time per record",
        "µs",  # noqa: RUF001 - the micro sign is meant
        (
            Bar(
                "flynn-async: typed records, exact decimals",
                "2",
                "decode_ims_page",
                "typed_us_per_record",
            ),
            Bar(
                "json.loads: plain dicts and floats",
                "2",
                "decode_ims_page",
                "json_loads_us_per_record",
            ),
        ),
        decimals=2,
    ),
    "throughput": Chart(
        "100,000 records fetched, decoded and merged: records per second",
        "records/s",
        (
            Bar(
                "pages of 500 records",
                "3",
                "records/s, fetch+decode+merge, pages of 500",
                "records_per_s",
            ),
            Bar(
                "pages of 500, with gc.disable() around it",
                "3",
                "the same with the GC recipe",
                "records_per_s",
            ),
            Bar(
                "pages of 100 records",
                "3",
                "records/s, fetch+decode+merge, pages of 100",
                "records_per_s",
            ),
        ),
        goal=200_000,
        goal_label="target 200,000/s",
    ),
    "memory": Chart(
        "Peak memory of the whole process (RSS), 10 pages against 1,000 pages",
        "MB",
        (
            Bar("task.pages(), 10 pages", "5", "peak RSS, task.pages()", "peak_rss_few_mb"),
            Bar("task.pages(), 1,000 pages", "5", "peak RSS, task.pages()", "peak_rss_many_mb"),
            Bar("task.records(), 10 pages", "5", "peak RSS, task.records()", "peak_rss_few_mb"),
            Bar("task.records(), 1,000 pages", "5", "peak RSS, task.records()", "peak_rss_many_mb"),
            Bar("task.result(), 10 pages", "5", "peak RSS, task.result()", "peak_rss_few_mb"),
            Bar("task.result(), 1,000 pages", "5", "peak RSS, task.result()", "peak_rss_many_mb"),
        ),
        decimals=1,
    ),
    "excel": Chart(
        "Writing 100,000 records: seconds",
        "s",
        (
            Bar("CSV", "7", "Excel vs CSV time", "csv_s"),
            Bar("Excel (.xlsx)", "7", "Excel vs CSV time", "xlsx_s"),
        ),
        decimals=2,
    ),
}


def load(path: Path = DATA) -> dict[str, Any]:
    """The data file's content."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def value(data: dict[str, Any], bar: Bar) -> float:
    """The number a bar shows; ``LookupError`` naming the bar if the data file lacks it."""
    for row in data["rows"]:
        parts = bar.figure.split("|")
        same = row["target"] == bar.target and all(part in row["figure"] for part in parts)
        if same and bar.key in row["values"]:
            return float(row["values"][bar.key]) * bar.scale
    raise LookupError(f"no row of target {bar.target} like {bar.figure!r} with {bar.key!r}")


WIDTH = 380
"""The SVG's width in its own units: shown at most this many pixels wide (a phone's column)."""


def _fmt(number: float, decimals: int) -> str:
    return f"{number:,.{decimals}f}"


def svg(name: str, data: dict[str, Any]) -> str:
    """The chart ``name`` as an SVG document (text, no scripts, no external references)."""
    chart = CHARTS[name]
    values = [value(data, bar) for bar in chart.bars]
    top = max([*values, chart.goal or 0]) * 1.02
    left, right, bar_h, label_h, gap = 4, 104, 22, 22, 12
    span = WIDTH - left - right
    y = 8
    parts: list[str] = []
    values_text: list[str] = []  # drawn last, over the target line, on a halo
    rows: list[float] = []  # the top of each bar
    for bar, number in zip(chart.bars, values, strict=True):
        length = max(2.0, span * number / top)
        parts.append(f'<text class="l" x="{left}" y="{y + 16}">{escape(bar.label)}</text>')
        y += label_h
        rows.append(y)
        parts.append(
            f'<rect class="b" x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" rx="3"/>'
        )
        values_text.append(
            f'<text class="v" x="{left + length + 6:.1f}" y="{y + 16}">'
            f"{escape(_fmt(number, chart.decimals))} {escape(chart.unit)}</text>"
        )
        y += bar_h + gap
    height = y + 4
    if chart.goal is not None:
        x = left + span * chart.goal / top
        # across the bars only, never through a label; a value's text is drawn over it
        for top_of_bar in rows:
            parts.append(
                f'<line class="g" x1="{x:.1f}" y1="{top_of_bar - 3}"'
                f' x2="{x:.1f}" y2="{top_of_bar + bar_h + 3}"/>'
            )
        parts.append(
            f'<text class="gl" x="{x:.1f}" y="{height + 12}" text-anchor="middle">'
            f"{escape(chart.goal_label)}</text>"
        )
        height += 18
    parts += values_text
    style = (
        "text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
        "fill:#1d2733}.l{font-size:16px}.v{font-size:15px;font-weight:600;"
        "paint-order:stroke;stroke:#fff;stroke-width:5px;stroke-linejoin:round}"
        ".gl{font-size:14px;fill:#8a3b00}.b{fill:#2f5d9e}"
        ".g{stroke:#c25700;stroke-width:2;stroke-dasharray:6 4}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bench-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-label="{escape(chart.title)}"><title>{escape(chart.title)}</title>'
        f"<style>{style}</style>"
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>'
        + "".join(parts)
        + "</svg>"
    )


class BenchmarkChart(SphinxDirective):
    """``{benchmark-chart} NAME``: the chart, its title as the caption."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(DATA))
        name = self.arguments[0]
        if name not in CHARTS:
            raise self.error(f"no chart {name!r}; there are {', '.join(CHARTS)}")
        data = load()
        figure = nodes.container(classes=["bench-figure"])
        figure += nodes.paragraph("", CHARTS[name].title, classes=["bench-title"])
        try:
            figure += nodes.raw("", svg(name, data), format="html")
        except LookupError:
            # A benchmark that did not finish in the recorded run: say so instead of a chart
            # (tests/test_docs_site.py makes sure the committed data file has every chart).
            text = "The recorded run has no figures for this chart: see the table below."
            figure += nodes.paragraph("", text, classes=["bench-missing"])
        return [figure]


class BenchmarkTable(SphinxDirective):
    """``{benchmark-table}``: every row of the run: figure, measured, target, met."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(DATA))
        data = load()
        table = nodes.table(classes=["bench-table"])
        group = nodes.tgroup(cols=5)
        table += group
        for width in (4, 40, 26, 16, 6):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["#", "figure", "measured", "target", "met"])
        body = nodes.tbody()
        group += body
        for row in data["rows"]:
            met = {True: "yes", False: "NO", None: "-"}[row["met"]]
            body += self._row([row["target"], row["figure"], row["measured"], row["goal"], met])
        return [table]

    @staticmethod
    def _row(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph("", text)
            row += entry
        return row


class BenchmarkMachine(SphinxDirective):
    """``{benchmark-machine}``: when and on what the data file's run was made."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(DATA))
        data = load()
        items = nodes.bullet_list()
        lines = [
            *data["machine"],
            f"run: {data['command']}, {data['elapsed_s']:.0f} s, ended {data['written']}",
        ]
        for text in lines:
            item = nodes.list_item()
            item += nodes.paragraph("", text)
            items += item
        return [items]


def setup(app: Any) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("benchmark-chart", BenchmarkChart)
    app.add_directive("benchmark-table", BenchmarkTable)
    app.add_directive("benchmark-machine", BenchmarkMachine)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
