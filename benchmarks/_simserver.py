"""Child-process entry: serve a :class:`~flynn_async.testing.FlynnSimulator` until told to stop.

Run by :class:`benchmarks._common.RemoteSimulator` as::

    python -m benchmarks._simserver '{"records": {"per_section": 20000}, "paging": {"size": 100}}'

The argument is a JSON object of settings groups (``records``, ``paging``, ... as
:class:`~flynn_async.testing.FlynnSimulator` takes them), each an object of the group's fields,
and optionally ``"documented_only": true`` (the benchmarks' own setting): IMS records then carry
only the fields the API documents (:data:`benchmarks._floor.DOCUMENTED_FIELDS`), without the
undocumented ones the simulator's data adds to about 1 record in 20 (``xtra_ref``, ``meta``), so
that pages hold only what the models know (with pages of 500, nearly every page served as is
holds such a record). It wraps ``flynn_async.testing._data.ims_records`` in this process only.

The same JSON serves a library from before the settings groups (``--baseline REF`` runs this
module on REF's library for the library-agnostic targets, see :mod:`benchmarks._baseline`):
there the groups' fields go to the flat settings of that time (:data:`FLAT`).

Once listening, the process prints one JSON line: the simulator's ``base_url`` and
``login_url``, the taxpayer to use, and ``control_url``, a second small loopback app that any
process can ask for the simulator's counters (``GET /stats``) or reset them (``POST /reset``). It
stops cleanly when its standard input reaches its end or reads the line ``stop``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import attrs
from aiohttp import web

from benchmarks._floor import DOCUMENTED_FIELDS
from flynn_async.testing import FlynnSimulator, SimulatorConfig, _data

#: (group, field) -> the flat setting of the libraries from before the settings groups.
FLAT: dict[tuple[str, str], str] = {
    ("records", "seed"): "seed",
    ("records", "per_section"): "records_per_section",
    ("records", "unknown_sections"): "unknown_sections",
    ("records", "all_sections_in_every_task"): "all_sections_in_every_task",
    ("records", "empty_other_sections"): "empty_other_sections",
    ("paging", "size"): "page_size",
    ("paging", "base"): "page_base",
    ("tasks", "processing_polls"): "processing_polls",
    ("tasks", "processing_seconds"): "processing_seconds",
    ("tasks", "terminal_status"): "terminal_status",
    ("delays", "request"): "latency",
    ("delays", "page"): "page_latency",
    ("shapes", "envelope"): "envelope",
    ("shapes", "status_shape"): "status_shape",
    ("shapes", "flag_style"): "flag_style",
}


def _groups() -> dict[str, Any]:
    """Each settings group's keyword and class (empty for a library without groups)."""
    fields = attrs.fields_dict(SimulatorConfig)
    if "paging" not in fields:  # a library from before the settings groups
        return {}
    return {
        name: field.type
        for name, field in attrs.fields_dict(attrs.resolve_types(SimulatorConfig)).items()
    }


#: Each settings group's keyword and class.
GROUPS: dict[str, Any] = _groups()


def documented_only() -> None:
    """From now on, IMS records in this process carry only the documented fields."""
    generate = _data.ims_records

    def records(seed: int, gstin: str, section: str, count: int) -> list[dict[str, Any]]:
        return [
            {key: value for key, value in record.items() if key in DOCUMENTED_FIELDS}
            for record in generate(seed, gstin, section, count)
        ]

    _data.ims_records = records


def _stats(sim: FlynnSimulator) -> dict[str, Any]:
    return {
        "calls": dict(sim.calls),
        "pages_in_flight": sim.pages_in_flight,
        "peak_pages_in_flight": sim.peak_pages_in_flight,
        "tasks": len(sim.tasks),
    }


def settings_groups(config: dict[str, Any]) -> dict[str, Any]:
    """The settings groups of the JSON ``config``, by keyword: the keyword arguments of
    :class:`~flynn_async.testing.FlynnSimulator` (flat settings for a library without groups)."""
    if GROUPS:
        return {name: GROUPS[name](**fields) for name, fields in config.items()}
    return {
        FLAT[name, key]: value for name, fields in config.items() for key, value in fields.items()
    }


async def serve(config: dict[str, Any]) -> None:
    """Serve the simulator and its control app until standard input ends or says ``stop``."""
    async with FlynnSimulator(**settings_groups(config)) as sim:

        async def stats(_: web.Request) -> web.Response:
            return web.json_response(_stats(sim))

        async def reset(_: web.Request) -> web.Response:
            sim.reset_counters()
            return web.json_response(_stats(sim))

        control = web.Application()
        control.add_routes([web.get("/stats", stats), web.post("/reset", reset)])
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            hello = {
                "base_url": sim.base_url,
                "login_url": sim.login_url,
                "control_url": f"http://{host}:{port}",
                "gstin": sim.gstin,
                "gst_username": sim.gst_username,
                "otp": sim.otp,
                "pid": os.getpid(),
            }
            sys.stdout.write(json.dumps(hello) + "\n")
            sys.stdout.flush()
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            while True:
                line = await reader.readline()
                if not line or line.strip() == b"stop":
                    break
        finally:
            await runner.cleanup()


def main(argv: list[str]) -> int:
    """Entry point: ``argv[0]`` is the JSON config (optional)."""
    config = json.loads(argv[0]) if argv else {}
    if not isinstance(config, dict):
        print("the simulator config must be a JSON object", file=sys.stderr)
        return 2
    if config.pop("documented_only", False):
        documented_only()
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:  # the parent was interrupted too; leave quietly
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
