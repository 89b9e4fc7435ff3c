"""Target 8: import time.

``import flynn_async`` against ``import aiohttp`` (which it needs), each in a fresh interpreter
(so nothing is cached in the process), alternately, best of N: the time a program, a CLI call
or a worker process pays before it can do anything. Issue 14: at most 1.3x ``import aiohttp``.

Run alone: ``python -m benchmarks.bench_import [--quick]``.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks._common import Row, say, standalone

TARGET = 1.3
_PROGRAM = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def _once(module: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


async def run(quick: bool) -> list[Row]:
    """Time both imports in fresh interpreters, alternately; best of N each."""
    runs = 5 if quick else 21
    times: dict[str, list[float]] = {"aiohttp": [], "flynn_async": []}
    _once("flynn_async")  # the first run writes the bytecode caches: not timed
    for _ in range(runs):
        for module in times:
            times[module].append(_once(module))
    best = {module: min(values) for module, values in times.items()}
    ratio = best["flynn_async"] / best["aiohttp"]
    say(f"fresh interpreters, best of {runs} each, alternately")
    for module, seconds in best.items():
        say(f"  import {module:12} {seconds * 1000:7.1f} ms")
    return [
        Row(
            "8",
            "import flynn_async / import aiohttp (fresh interpreters)",
            f"{ratio:.2f}x ({best['flynn_async'] * 1000:.0f} vs {best['aiohttp'] * 1000:.0f} ms)",
            f"<= {TARGET:.1f}x",
            ratio <= TARGET,
            {"flynn_async_ms": best["flynn_async"] * 1000, "aiohttp_ms": best["aiohttp"] * 1000},
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone("Target 8: import time", run))
