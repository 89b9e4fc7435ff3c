"""What the command line shows: download progress and the per-section summary.

On a terminal, progress is a set of ``rich`` bars, one per section: first "waiting" while the
server prepares the task (with the number of status calls), then pages done out of the total.
Anywhere else (a pipe, a log file, CI) it is plain timestamped lines, a few per section.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any, Final, Self, TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress

from flynn_async._tasks._types import Progress
from flynn_async.ims._models import ImsInvoices, ImsSection

__all__ = ["SUMMARY_WIDTH", "ProgressDisplay", "format_summary", "log_handler"]

#: Plain mode reports fetching at these fractions of the pages (and when done).
_PLAIN_STEPS: Final = 10


#: The bars' order: the IMS sections as the API lists them, then any other name as it came.
_ORDER: Final = {section.value: n for n, section in enumerate(ImsSection)}


class _SectionBars(RichProgress):
    """Bars drawn in section order, whatever order the tasks were submitted in."""

    def get_renderables(self) -> Iterator[Any]:
        rows = sorted(self.tasks, key=lambda row: _ORDER.get(row.description, len(_ORDER)))
        yield self.make_tasks_table(rows)


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")


class ProgressDisplay:
    """Takes :class:`~flynn_async.Progress` reports (as ``on_progress``) and shows them.

    ``terminal`` forces the bars (``True``) or the plain lines (``False``); by default bars are
    drawn only when ``stream`` is a terminal. Use it as a context manager around the download:
    the bars are drawn while it is open. ``enabled=False`` shows nothing (``-q``).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool = True,
        terminal: bool | None = None,
        console: Console | None = None,
        clock: Callable[[], str] = _now,
    ) -> None:
        self._stream = stream
        self._enabled = enabled
        self._terminal = stream.isatty() if terminal is None else terminal
        self._clock = clock
        self._bars: RichProgress | None = None
        self._rows: dict[str, TaskID] = {}
        self._seen: dict[str, Progress] = {}
        if enabled and self._terminal:
            self._bars = _SectionBars(
                TextColumn("{task.description:<7}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                console=console or Console(file=stream, force_terminal=True),
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )

    @property
    def console(self) -> Console | None:
        """The terminal console of the bars (log lines go through it), else ``None``."""
        return self._bars.console if self._bars is not None else None

    def __enter__(self) -> Self:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bars is not None:
            self._bars.stop()

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        name = (progress.section or progress.task_id).upper()
        previous = self._seen.get(name)
        self._seen[name] = progress
        if self._bars is not None:
            self._draw(name, progress)
        else:
            self._line(name, progress, previous)

    def _draw(self, name: str, progress: Progress) -> None:
        assert self._bars is not None
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = self._bars.add_task(name, total=None, state="submitted")
        if progress.phase == "waiting":
            checks = "1 check" if progress.polls == 1 else f"{progress.polls} checks"
            self._bars.update(row, state=f"waiting for the server ({checks})")
        elif progress.phase == "fetching":
            self._bars.update(
                row,
                total=progress.pages_total,
                completed=progress.pages_done,
                state="pages",
            )
        elif progress.phase == "done":
            total = progress.pages_total or 0
            self._bars.update(row, total=total, completed=total, state="done")

    def _line(self, name: str, progress: Progress, previous: Progress | None) -> None:
        total = progress.pages_total
        if progress.phase == "submitted":
            text = f"submitted, task {progress.task_id}"
        elif progress.phase == "waiting":
            text = f"waiting for the server (status check {progress.polls})"
        elif progress.phase == "fetching":
            if not _worth_a_line(progress, previous):
                return
            text = f"fetching pages: {progress.pages_done}/{total}"
        else:
            pages = progress.pages_done
            text = f"done: {pages} page" + ("" if pages == 1 else "s")
        print(f"{self._clock()} {name} {text}", file=self._stream, flush=True)

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[Callable[[int, int], None]]:
        """Show an export's progress while the block runs: give it the ``on_progress`` yielded.

        On a terminal a bar "writing <what>" with records written out of the total; elsewhere
        a line at the start, about every tenth and at the end.
        """
        if not self._enabled:
            yield _ignore
        elif self._terminal:
            console = self.console or Console(file=self._stream, force_terminal=True)
            bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("records"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            with bar:
                row = bar.add_task(f"writing {what}", total=None)
                yield lambda done, total: bar.update(row, completed=done, total=total)
        else:
            step = [0]  # the tenth last reported

            def line(done: int, total: int) -> None:
                tenth = 10 * done // total if total else 10
                if done in (0, total) or tenth > step[0]:
                    step[0] = tenth
                    text = f"writing {what}: {done}/{total} records"
                    print(f"{self._clock()} {text}", file=self._stream, flush=True)

            yield line


def _ignore(done: int, total: int) -> None:
    """An ``on_progress`` that shows nothing (``-q``)."""


def _worth_a_line(progress: Progress, previous: Progress | None) -> bool:
    total = progress.pages_total or 0
    if previous is None or previous.phase != "fetching" or total == 0:
        return True  # the first fetching report: the page count is known
    if progress.pages_done == total:
        return False  # "done" follows at once
    step = max(1, -(-total // _PLAIN_STEPS))
    return progress.pages_done // step != previous.pages_done // step


def log_handler(stream: TextIO, console: Console | None) -> logging.Handler:
    """A handler for ``-v``: through the bars' console on a terminal, plain lines elsewhere."""
    if console is not None:
        return RichHandler(console=console, show_path=False)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def _paise(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


#: The summary table's width limit: a terminal's 80 columns.
SUMMARY_WIDTH: Final = 80


def format_summary(result: ImsInvoices, width: int = SUMMARY_WIDTH) -> str:
    """A per-section table of record counts and tax totals (exact sums, shown to the paisa).

    When the table is wider than ``width`` columns it is printed in parts, each with the
    section column first, so that no line is wider and no number is broken across lines.
    """
    headers = ("section", "records", "taxable value", "IGST", "CGST", "SGST", "cess")
    rows: list[tuple[str, ...]] = []
    sums = [Decimal(0)] * 5
    count = 0
    for name, totals in result.totals().items():
        amounts = (totals.taxable_value, totals.igst, totals.cgst, totals.sgst, totals.cess)
        sums = [a + b for a, b in zip(sums, amounts, strict=True)]
        count += totals.records
        rows.append((name.upper(), str(totals.records), *(_paise(a) for a in amounts)))
    for name, records in result.other_sections.items():
        count += len(records)
        rows.append((name, str(len(records)), "", "", "", "", ""))
    rows.append(("total", str(count), *(_paise(a) for a in sums)))
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers))]
    parts = _split_columns(widths, width)
    return "\n\n".join(_table(headers, rows, widths, columns) for columns in parts)


def _split_columns(widths: Sequence[int], width: int) -> list[list[int]]:
    """The columns of each part (every part starts with column 0), as few parts as fit in
    ``width``; two parts are balanced."""

    def span(columns: Sequence[int]) -> int:
        return sum(widths[i] for i in columns) + 2 * (len(columns) - 1)

    rest = list(range(1, len(widths)))
    if span([0, *rest]) <= width:
        return [[0, *rest]]
    halves = [[[0, *rest[:i]], [0, *rest[i:]]] for i in range(1, len(rest))]
    fitting = [pair for pair in halves if max(span(part) for part in pair) <= width]
    if fitting:
        return min(fitting, key=lambda pair: max(span(part) for part in pair))
    parts: list[list[int]] = [[0]]
    for column in rest:  # greedy: as many columns as fit in each part
        if len(parts[-1]) > 1 and span([*parts[-1], column]) > width:
            parts.append([0])
        parts[-1].append(column)
    return parts


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[int],
    columns: Sequence[int],
) -> str:
    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cells[i].rjust(widths[i]) for i in columns[1:])
        return "  ".join((first, *rest))

    rule = "  ".join("-" * widths[i] for i in columns)
    body = [line(r) for r in rows]
    return "\n".join([line(headers), rule, *body[:-1], rule, body[-1]])
