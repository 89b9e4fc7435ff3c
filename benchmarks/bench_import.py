"""Target 8: import time.

``import flynn_async`` against ``import aiohttp`` (which it needs), each in a fresh interpreter
(so nothing is cached in the process; bytecode cached on disk, as an installed package has it),
alternately, best of N: the time a program, a CLI call
or a worker process pays before it can do anything. Issue 14: at most 1.3x ``import aiohttp``.

Run alone: ``python -m benchmarks.bench_import [--quick]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks._common import Row, say, standalone

TARGET = 1.3
_PROGRAM = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def _once(module: str, cache: str) -> float:
    # Bytecode cached (under ``cache``) as an installed package has it: where the environment
    # turns bytecode writing off, every import would otherwise compile the sources again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(done.stdout.strip())


async def run(quick: bool) -> list[Row]:
    """Time both imports in fresh interpreters, alternately; best of N each."""
    runs = 5 if quick else 21
    times: dict[str, list[float]] = {"aiohttp": [], "flynn_async": []}
    with tempfile.TemporaryDirectory(prefix="flynn-pycache-") as cache:
        for module in times:  # the first runs write the bytecode caches: not timed
            _once(module, cache)
        for _ in range(runs):
            for module in times:
                times[module].append(_once(module, cache))
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
