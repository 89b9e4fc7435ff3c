"""Write the docs' pictures: ``docs/_static/*.svg`` (the pipeline, wide and narrow; a task's
life; the IMS month).

Run by hand after changing a picture's text (``python scripts/docs_diagrams.py``) and commit
the SVGs it writes. The pictures are plain SVG, text as text, no scripts and no external
references. Each is drawn at the width it is shown at, so its text keeps its size: the wide
pipeline at 736 units (Furo's content column at 1,280 px), the narrow one and the other two
at 358 (a 390 px phone's column). Text is 13 px, 12.5 px at the smallest; lines are wrapped
at a width measured for DejaVu Sans, the widest of the usual sans-serif fonts.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "docs" / "_static"

BODY = 13.0
"""The body text's size in px (the smallest text is 12.5 px)."""
CHAR = 0.53 * BODY
"""The width allowed for an average character (DejaVu Sans measures about 0.48 em)."""
LINE = 17.0
PAD = 12.0

STYLE = """
    text { font-family: "DejaVu Sans", "Segoe UI", "Helvetica Neue", Helvetica, Arial,
           sans-serif; fill: #1d2733; font-size: 13px; }
    .h1 { font-size: 18px; font-weight: 700; }
    .t { font-size: 15px; font-weight: 700; fill: #13294b; }
    .s { font-size: 12.5px; fill: #3a4656; }
    .i { font-size: 12.5px; font-style: italic; fill: #4a5a72; }
    .box { fill: #eef3fb; stroke: #2f5d9e; stroke-width: 1.5; }
    .out { fill: #e6f3f7; stroke: #1f6f8b; stroke-width: 1.5; }
    .sessions { fill: #f4effb; stroke: #6b4fa8; stroke-width: 1.5; }
    .retries { fill: #fff5e6; stroke: #c27a00; stroke-width: 1.5; }
    .checkpoints { fill: #ebf7ef; stroke: #2e7d4f; stroke-width: 1.5; }
    .good { fill: #ebf7ef; stroke: #2e7d4f; stroke-width: 1.5; }
    .bad { fill: #fdeeee; stroke: #b03a3a; stroke-width: 1.5; }
    .date { fill: #fff5e6; stroke: #c27a00; stroke-width: 1.5; }
    .flow { stroke: #2f3b4c; stroke-width: 1.6; fill: none; }
    .side { stroke-width: 1.4; fill: none; stroke-dasharray: 5 4; }
    .frame { fill: none; stroke: #7a8ca8; stroke-width: 1.2; stroke-dasharray: 6 4; }
"""

MARKERS = "".join(
    f'<marker id="arrow{suffix}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
    f' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
    f' fill="{colour}"/></marker>'
    for suffix, colour in (
        ("", "#2f3b4c"),
        ("-purple", "#6b4fa8"),
        ("-orange", "#c27a00"),
        ("-green", "#2e7d4f"),
        ("-red", "#b03a3a"),
    )
)


@dataclass
class Box:
    """A box: a bold title and paragraphs of text wrapped to its width."""

    title: str
    paragraphs: list[str]
    kind: str = "box"
    note: str = ""
    lines: list[str] = field(default_factory=list)

    def layout(self, width: float) -> float:
        """Wrap the text to ``width``; the box's height."""
        chars = int((width - 2 * PAD) / CHAR)
        self.lines = []
        for index, paragraph in enumerate(self.paragraphs):
            if index:
                self.lines.append("")
            # a name such as client.ims.task(task_id) is never cut in two
            self.lines += textwrap.wrap(paragraph, chars, break_long_words=False) or [""]
        return PAD + 18 + LINE * len(self.lines) + PAD - 4

    def draw(self, x: float, y: float, width: float) -> tuple[str, float]:
        """The box's SVG at (x, y), and its height."""
        height = self.layout(width)
        out = [
            f'<rect class="{self.kind}" x="{x}" y="{y}" width="{width}" height="{height}" rx="8"/>'
        ]
        out.append(f'<text class="t" x="{x + PAD}" y="{y + PAD + 13}">{escape(self.title)}</text>')
        ty = y + PAD + 18 + 13
        for line in self.lines:
            if line:
                out.append(f'<text x="{x + PAD}" y="{ty}">{escape(line)}</text>')
            ty += LINE if line else LINE * 0.5
        blanks = self.lines.count("")
        height -= blanks * LINE * 0.5
        out[0] = (
            f'<rect class="{self.kind}" x="{x}" y="{y}" width="{width}" height="{height}" rx="8"/>'
        )
        return "\n".join(out), height


def footnote(text: str, width: float, y: float) -> tuple[list[str], float]:
    """A small centred note under a picture, wrapped to its width; the SVG lines and the
    baseline of the last one."""
    chars = int((width - 2 * PAD) / (0.53 * 12.5))
    lines = textwrap.wrap(text, chars)
    out = []
    for index, line in enumerate(lines):
        baseline = y + index * (LINE - 1)
        out.append(
            f'<text class="s" x="{width / 2}" y="{baseline}" text-anchor="middle">'
            f"{escape(line)}</text>"
        )
    return out, y + (len(lines) - 1) * (LINE - 1)


def arrow(
    x1: float, y1: float, x2: float, y2: float, *, colour: str = "", dashed: bool = False
) -> str:
    """A straight arrow."""
    cls = "side" if dashed else "flow"
    stroke = {
        "": "#2f3b4c",
        "-purple": "#6b4fa8",
        "-orange": "#c27a00",
        "-green": "#2e7d4f",
        "-red": "#b03a3a",
    }[colour]
    return (
        f'<path class="{cls}" stroke="{stroke}" d="M{x1},{y1} L{x2},{y2}"'
        f' marker-end="url(#arrow{colour})"/>'
    )


def document(width: float, height: float, title: str, desc: str, body: list[str]) -> str:
    """A whole SVG document."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}"'
        f' width="{width}" height="{height:.0f}" role="img" aria-labelledby="t d">\n'
        f'<title id="t">{escape(title)}</title>\n<desc id="d">{escape(desc)}</desc>\n'
        f"<style>{STYLE}</style>\n<defs>{MARKERS}</defs>\n"
        f'<rect x="0" y="0" width="{width}" height="{height:.0f}" rx="10" fill="#ffffff"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


# -- The pipeline -----------------------------------------------------------------------------

PIPELINE_TITLE = "The flynn-async download pipeline"
PIPELINE_DESC = (
    "Log in, open a GST session with an OTP, submit one task per section, poll each task with"
    " backoff, count its pages, fetch the pages with at most max_concurrency requests in flight"
    " across the whole client, decode them to exact Decimal records, then merge and cross-check"
    " them into ImsInvoices or stream them in page order. Safe calls are retried; the submit"
    " never is. Pages can be checkpointed to disk so that a download can be resumed."
)


def steps() -> list[Box]:
    return [
        Box(
            "Log in",
            [
                "FlynnClient(credentials): a login token from the login service, "
                "refreshed before it expires, once for all requests."
            ],
        ),
        Box(
            "Open a GST session (OTP)",
            [
                "request_otp → the taxpayer's OTP → verify_otp → "
                "GstSession, the newest one used for every call."
            ],
        ),
        Box(
            "Submit a task",
            [
                "One per section: GET …/ims-invoices?section=B2B → task id. "
                "Sent once, never repeated; the id resumes it for 7 days."
            ],
        ),
        Box(
            "Poll with backoff",
            [
                "Status after 1 s, then \u00d71.25 each time up to 60 s (±10 %), "
                "under one deadline (30 min), then TaskTimeout."
            ],
        ),
        Box("Count the pages", ["GET …/result/{task id} → the number of pages."]),
        Box(
            "Fetch the pages, bounded",
            [
                "At most max_concurrency (8) page requests in "
                "flight, one limit for the whole client."
            ],
        ),
        Box(
            "Decode each page as it arrives",
            ["JSON numbers → exact Decimal, never float; typed records; unknown fields kept."],
        ),
    ]


def side_boxes() -> list[Box]:
    return [
        Box(
            "Staying logged in",
            [
                "An expired token is refreshed and the call repeated; "
                "keep_alive refreshes the GST session; a SessionStore keeps "
                "it between runs."
            ],
            "sessions",
        ),
        Box(
            "Retries (RetryPolicy)",
            [
                "Status, result and page calls are retried on connection "
                "errors, timeouts, 429 and 5xx, honouring Retry-After.",
                "Never repeated: the submit, which would start and bill a second task.",
            ],
            "retries",
        ),
        Box(
            "Checkpoints",
            [
                "With checkpoint_dir=, each page is saved as it arrives; after a crash "
                "client.ims.resume(...) fetches only the missing "
                "pages: no new task, no new bill."
            ],
            "checkpoints",
        ),
    ]


def outputs() -> list[Box]:
    return [
        Box(
            "Merge → ImsInvoices", ["task.result(), download_all(): sections cross-checked."], "out"
        ),
        Box("Or stream, in order", ["task.pages(), task.records(): memory stays flat."], "out"),
    ]


def pipeline(width: float, narrow: bool) -> str:
    body: list[str] = []
    margin = 8.0
    body.append(
        f'<text class="h1" x="{width / 2}" y="30" text-anchor="middle">The download pipeline</text>'
    )
    y = 48.0
    if narrow:
        left_x = margin + 20
        left_w = width - left_x - margin - 6
    else:
        left_w = 430.0
        left_x = margin + 18
    centre = left_x + left_w / 2
    positions: list[tuple[float, float]] = []
    frame_top = frame_bottom = 0.0
    for index, box in enumerate(steps()):
        if index == 2:
            y += 10
            frame_top = y - 8
        svg, height = box.draw(left_x, y, left_w)
        body.append(svg)
        positions.append((y, height))
        y += height
        if index < 6:
            body.append(arrow(centre, y, centre, y + 22))
            y += 24 if index != 1 else 34
        else:
            frame_bottom = y + 8
            y += 8
    frame_x = left_x - (14 if narrow else 16)
    frame_w = (width - margin - frame_x) if narrow else left_w + 32
    body.append(
        f'<rect class="frame" x="{frame_x}" y="{frame_top}" width="{frame_w}"'
        f' height="{frame_bottom - frame_top}" rx="8"/>'
    )
    label_x = frame_x + 9
    label_y = (frame_top + frame_bottom) / 2
    body.append(
        f'<text class="i" x="{label_x}" y="{label_y}" text-anchor="middle"'
        f' transform="rotate(-90 {label_x} {label_y})">'
        "one server task per section, all at once</text>"
    )
    # the outputs
    y += 24
    if narrow:
        first, second = outputs()
        svg, height = first.draw(left_x, y, left_w)
        body.append(arrow(centre, y - 24, centre, y - 2))
        body.append(svg)
        y += height + 8
        svg, height = second.draw(left_x, y, left_w)
        body.append(svg)
        y += height
    out_w = (left_w - 12) / 2
    heights = []
    outs = []
    for index, box in enumerate([] if narrow else outputs()):
        svg, height = box.draw(left_x + index * (out_w + 12), y, out_w)
        outs.append(svg)
        heights.append(height)
    for index in range(0 if narrow else 2):
        cx = left_x + index * (out_w + 12) + out_w / 2
        body.append(
            f'<path class="flow" d="M{centre},{y - 24} L{centre},{y - 14}'
            f' L{cx},{y - 14} L{cx},{y - 2}"'
            f' marker-end="url(#arrow)"/>'
        )
    body += outs
    y += max(heights, default=0)
    # the side boxes
    sides = side_boxes()
    colours = ["-purple", "-orange", "-green"]
    if narrow:
        y += 26
        body.append(f'<text class="t" x="{margin + 4}" y="{y}">Alongside every step</text>')
        y += 12
        for box in sides:
            svg, height = box.draw(margin, y, width - 2 * margin)
            body.append(svg)
            y += height + 10
        y -= 10
    else:
        side_x = left_x + left_w + 32
        side_w = width - side_x - margin
        sy = positions[0][0]
        for box, colour in zip(sides, colours, strict=True):
            svg, height = box.draw(side_x, sy, side_w)
            body.append(svg)
            ay = sy + 26
            body.append(arrow(side_x, ay, left_x + left_w + 2, ay, colour=colour, dashed=True))
            sy += height + 18
    y += 30
    note, y = footnote(
        "Every error after the submit carries the task id: re-attach, or resume.", width, y
    )
    body += note
    return document(width, y + 14, PIPELINE_TITLE, PIPELINE_DESC, body)


# -- The task lifecycle -------------------------------------------------------------------------


def lifecycle() -> str:
    width = 358.0
    body = [
        f'<text class="h1" x="{width / 2}" y="30" text-anchor="middle">The life of a task</text>'
    ]
    x, w, y = 8.0, 342.0, 48.0
    for index, box in enumerate(
        [
            Box(
                "Submitted",
                [
                    "client.ims.submit(...) → a Task with its task id. Sent once: "
                    "a repeat would start and bill a second task."
                ],
            ),
            Box(
                "Processing",
                [
                    "The server downloads from the GST portal. task.wait() asks "
                    "for the status after 1 s, then less often (at most every 60 s)."
                ],
            ),
        ]
    ):
        svg, height = box.draw(x, y, w)
        body.append(svg)
        y += height
        body.append(
            arrow(x + (w / 2 if index == 0 else 100), y, x + (w / 2 if index == 0 else 100), y + 30)
        )
        if index == 1:
            body.append(arrow(x + 280, y, x + 280, y + 30, colour="-red"))
            body.append(f'<text class="s" x="{x + 108}" y="{y + 20}">completed</text>')
            body.append(f'<text class="s" x="{x + 288}" y="{y + 20}">or not</text>')
        y += 32
    left_w, right_x = 190.0, x + 200  # the right box's title, "Not completed", fits
    right_w = w - 200
    bad, bad_h = Box(
        "Not completed",
        [
            "Failed: TaskFailed, with the task id and the status text.",
            "Timed out: TaskTimeout after "
            "the deadline (30 min); the task may still finish: wait again or resume by its id.",
        ],
        "bad",
    ).draw(right_x, y, right_w)
    body.append(bad)
    svg, height = Box(
        "Completed", ["Kept 7 days: re-attach with client.ims.task(task_id)."], "good"
    ).draw(x, y, left_w)
    body.append(svg)
    y += height
    body.append(arrow(x + 100, y, x + 100, y + 22))
    y += 24
    svg, height = Box(
        "Pages fetched",
        [
            "task.result() merges them into ImsInvoices; "
            "task.pages() and task.records() hand them on in order."
        ],
        "out",
    ).draw(x, y, left_w)
    body.append(svg)
    y = max(y + height, 48 + bad_h) + 26
    y = max(y, float(bad.split('y="')[1].split('"')[0]) + bad_h + 26)
    note, y = footnote("Cancelling a wait stops the client only; the task goes on.", width, y)
    body += note
    return document(
        width,
        y + 14,
        "The life of a task",
        "A task is submitted once, processes on the server while the client polls, and ends"
        " completed, failed or timed out; the pages of a completed task are fetched, merged or"
        " streamed. The task id re-attaches to it for 7 days.",
        body,
    )


# -- The IMS month -------------------------------------------------------------------------------


def ims_month() -> str:
    width = 358.0
    body = [f'<text class="h1" x="{width / 2}" y="30" text-anchor="middle">The IMS month</text>']
    x, w, y = 8.0, 342.0, 48.0
    steps_ = [
        Box(
            "During the month",
            [
                "Suppliers file GSTR-1 or IFF; each invoice, debit and "
                "credit note addressed to the taxpayer appears in IMS."
            ],
        ),
        Box(
            "Download",
            [
                "client.ims.download_all(session): every section, typed, any time "
                "in the month and after."
            ],
            "out",
        ),
        Box(
            "Act",
            [
                "Accept, reject or keep pending each record (no action counts as "
                "accepted). Actions can change until GSTR-3B is filed."
            ],
        ),
        Box(
            "14th of the next month: GSTR-2B",
            ["The portal drafts GSTR-2B from IMS. Act again and regenerate 2B to see the effect."],
            "date",
        ),
        Box(
            "GSTR-3B filed (by the 20th)",
            ["ITC is claimed from 2B. Accepted and rejected records leave IMS; pending ones stay."],
            "date",
        ),
    ]
    for index, box in enumerate(steps_):
        svg, height = box.draw(x, y, w)
        body.append(svg)
        y += height
        if index < len(steps_) - 1:
            body.append(arrow(x + w / 2, y, x + w / 2, y + 22))
            y += 24
    return document(
        width,
        y + 12,
        "The IMS month",
        "Suppliers file during the month and their documents appear in IMS; the taxpayer"
        " downloads them and acts on them; GSTR-2B is drafted on the 14th of the next month;"
        " actions can change and 2B be regenerated until GSTR-3B is filed.",
        body,
    )


def main() -> None:
    """Write the four pictures."""
    pictures = {
        "pipeline.svg": pipeline(736.0, narrow=False),
        "pipeline-narrow.svg": pipeline(358.0, narrow=True),
        "task-lifecycle.svg": lifecycle(),
        "ims-month.svg": ims_month(),
    }
    for name, svg in pictures.items():
        (STATIC / name).write_text(svg, encoding="utf-8")
        print(f"wrote docs/_static/{name}")


if __name__ == "__main__":
    main()
