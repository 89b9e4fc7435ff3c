"""The ``flynn-async`` command line (the ``cli`` extra).

``_main`` builds the parser and runs a command; ``_common`` holds the shared argument types,
settings and exit codes; ``_ims`` the IMS commands; ``_sim`` the simulator command;
``_display`` the progress display. The top layer: nothing in the library imports it.
"""

from flynn_async.cli._main import main

__all__ = ["main"]
