"""The ``flynn-async`` command line (the ``cli`` extra: ``pip install '.[cli]'`` in a clone).

``_main`` builds the parser and runs a command; ``_common`` holds the shared argument types,
settings and exit codes; ``_ims`` the IMS commands; ``_sim`` the simulator command;
``_display`` the progress display. The top layer: nothing in the library imports it. Without
the extra's packages the command says how to install them and exits 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: What the command line needs beyond the library (the ``cli`` extra).
CLI_PACKAGES = ("rich",)
#: flynn-async is not on PyPI yet: installed from a clone or from a wheel built there.
INSTALL_HINT = (
    "pip install '.[cli]' in a clone of flynn-async, "
    "or pip install 'dist/flynn_async-<version>-py3-none-any.whl[cli]' for a built wheel"
)


def missing_packages() -> list[str]:
    """The packages of the ``cli`` extra that cannot be imported."""
    missing = []
    for name in CLI_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; without the ``cli`` extra, say how to install it and exit 2."""
    try:  # loading takes a moment: Ctrl-C meanwhile is an interruption, not a traceback
        missing = missing_packages()
        if missing:
            print(
                f"flynn-async: the command line needs {', '.join(missing)} (the cli extra); "
                f"install it with: {INSTALL_HINT}",
                file=sys.stderr,
            )
            return 2
        from flynn_async.cli._main import main as run  # the extra is there: rich imports
    except KeyboardInterrupt:
        print("flynn-async: interrupted", file=sys.stderr, flush=True)
        return 130  # EXIT_INTERRUPTED, in _common (not loaded yet)

    return run(argv)
