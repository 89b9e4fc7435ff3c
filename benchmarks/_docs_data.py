"""The benchmarks' results as a data file for the docs: ``docs/_data/benchmarks.json``.

``python -m benchmarks --write-docs-data`` writes it after a full run; the performance page
draws its charts from it at docs build time (the docs build never runs a benchmark). The
schema, version 1 (every key is required):

``schema``
    ``"flynn-async-benchmarks/1"``.
``written``
    When the run ended, ISO 8601 in UTC (``"2026-12-06T08:30:00Z"``).
``command``
    The command that ran the benchmarks (``"python -m benchmarks --write-docs-data"``).
``quick``
    ``false`` for a full run (``--quick`` runs are refused: their sizes are not the judged ones).
``elapsed_s``
    The run's wall-clock time in seconds.
``machine``
    The lines describing the machine and the software measured, as printed.
``rows``
    One object per table row, in order: ``target`` (``"1"`` to ``"8"``), ``figure``,
    ``measured`` and ``goal`` (the texts of the table), ``met`` (``true``, ``false``, or
    ``null`` for a figure shown for information) and ``values`` (the numbers behind
    ``measured``: an object of names to numbers, units in the names: ``_ms``, ``_s``, ``_mb``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, Row

SCHEMA = "flynn-async-benchmarks/1"
"""The value of the ``schema`` key this module writes and reads."""

DOCS_DATA = ROOT / "docs" / "_data" / "benchmarks.json"
"""Where ``--write-docs-data`` writes by default."""

_ROW_KEYS = {"target": str, "figure": str, "measured": str, "goal": str}
_TOP_KEYS = {"schema", "written", "command", "quick", "elapsed_s", "machine", "rows"}


def docs_data(
    rows: Sequence[Row], machine: Sequence[str], elapsed: float, command: str
) -> dict[str, Any]:
    """The data file's content for the rows of one full run."""
    return {
        "schema": SCHEMA,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "quick": False,
        "elapsed_s": round(elapsed, 1),
        "machine": list(machine),
        "rows": [
            {
                "target": row.target,
                "figure": row.figure,
                "measured": row.measured,
                "goal": row.goal,
                "met": row.met,
                "values": {name: _number(value) for name, value in row.values.items()},
            }
            for row in rows
        ],
    }


def _number(value: float) -> float:
    """A value rounded for the file (4 significant digits past the point is plenty)."""
    return value if isinstance(value, int) else float(f"{value:.6g}")


def problems(data: object) -> list[str]:
    """What is wrong with a data file's content (an empty list when it matches the schema)."""
    if not isinstance(data, Mapping):
        return ["not a JSON object"]
    found: list[str] = []
    if set(data) != _TOP_KEYS:
        found.append(f"keys {sorted(data)}, expected {sorted(_TOP_KEYS)}")
        return found
    if data["schema"] != SCHEMA:
        found.append(f"schema {data['schema']!r}, expected {SCHEMA!r}")
    if not isinstance(data["written"], str) or not data["written"].endswith("Z"):
        found.append("written: not an ISO 8601 UTC time")
    if not isinstance(data["command"], str) or data["quick"] is not False:
        found.append("command: not a text, or quick is not false")
    if not isinstance(data["elapsed_s"], int | float) or isinstance(data["elapsed_s"], bool):
        found.append("elapsed_s: not a number")
    machine = data["machine"]
    if not isinstance(machine, list) or not all(isinstance(m, str) for m in machine):
        found.append("machine: not a list of texts")
    rows = data["rows"]
    if not isinstance(rows, list) or not rows:
        return [*found, "rows: not a non-empty list"]
    for index, row in enumerate(rows):
        where = f"rows[{index}]"
        if not isinstance(row, Mapping) or set(row) != {*_ROW_KEYS, "met", "values"}:
            found.append(f"{where}: not an object with the keys of a row")
            continue
        for key, kind in _ROW_KEYS.items():
            if not isinstance(row[key], kind):
                found.append(f"{where}.{key}: not a text")
        if row["met"] not in (True, False, None):
            found.append(f"{where}.met: not true, false or null")
        values = row["values"]
        if not isinstance(values, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()
        ):
            found.append(f"{where}.values: not an object of numbers")
    return found


def write(data: Mapping[str, Any], path: Path = DOCS_DATA) -> None:
    """Write the data file (checked against the schema first), indented, ending in a newline."""
    wrong = problems(data)
    if wrong:
        raise ValueError("; ".join(wrong))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
