"""What every ``flynn-async`` command shares: exit codes, settings, streams, the client.

Settings come from one table (:data:`SETTINGS`): each has a config-file key, an environment
variable and sometimes a command-line flag. A flag wins over the environment, the environment
over the config file (TOML, given by ``--config`` or ``FLYNN_CONFIG``). Passwords and OTPs are
never taken from the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import stat
import textwrap
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import attrs
from rich.console import Console

from flynn_async._client import DEFAULT_REQUEST_TIMEOUT, FlynnClient
from flynn_async._core._errors import (
    AuthError,
    FlynnError,
    GstSessionExpired,
    InvalidInput,
    TaskError,
)
from flynn_async._core._files import STATE_DIR_ENV, state_dir
from flynn_async._http import _api
from flynn_async._http._credentials import Credentials
from flynn_async._http._token_store import FileTokenStore
from flynn_async._http._transport import _is_loopback
from flynn_async.gst._store import FileSessionStore

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN_REFUSED",
    "EXIT_NO_SESSION",
    "EXIT_OK",
    "EXIT_TASK_FAILED",
    "EXIT_USAGE",
    "HELP_WIDTH",
    "SETTINGS",
    "CommandFailed",
    "HelpFormatter",
    "NoGstSession",
    "Setting",
    "Settings",
    "TerminatedAtPrompt",
    "Ui",
    "add_api_options",
    "add_network_options",
    "add_quiet",
    "add_verbose",
    "add_verbosity",
    "epilog",
    "exit_code",
    "exit_codes_text",
    "interruptible",
    "log_levels",
    "make_client",
    "parse_list",
    "settings_text",
    "wrap_command",
]

# ----------------------------------------------------------------------------------------------
# Exit codes
# ----------------------------------------------------------------------------------------------

#: Success.
EXIT_OK: Final = 0
#: Any other API or network error (and files that cannot be written).
EXIT_ERROR: Final = 1
#: Bad usage or bad input (an unknown option, a bad GSTIN, a missing setting).
EXIT_USAGE: Final = 2
#: The login service refused the credentials, or the GST portal refused the OTP.
EXIT_LOGIN_REFUSED: Final = 3
#: No stored GST session for the GSTIN, or the portal says it has expired: run ``gst otp``.
EXIT_NO_SESSION: Final = 4
#: A download task failed, timed out or lost pages (its task ids are printed).
EXIT_TASK_FAILED: Final = 5
#: Interrupted (Ctrl-C).
EXIT_INTERRUPTED: Final = 130
#: Terminated by SIGTERM (``timeout``, systemd, Docker, Kubernetes): 128 + 15.
EXIT_TERMINATED: Final = 143

#: Every exit code with its meaning, for ``--help`` and the documentation.
EXIT_CODES: Final[tuple[tuple[int, str], ...]] = (
    (EXIT_OK, "success"),
    (EXIT_ERROR, "any other API or network error, or a file that cannot be written"),
    (EXIT_USAGE, "bad usage or input: unknown option, bad value, missing setting"),
    (EXIT_LOGIN_REFUSED, "login refused (bad credentials), or the OTP was not accepted"),
    (EXIT_NO_SESSION, "no stored GST session, or it expired: run `gst otp` first"),
    (EXIT_TASK_FAILED, "a download task failed or timed out (task ids are printed)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
    (EXIT_TERMINATED, "terminated by SIGTERM (task ids and the resume command are printed)"),
)


class TerminatedAtPrompt(KeyboardInterrupt):
    """SIGTERM while the command waited for a line of input (exit code 143)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise TerminatedAtPrompt


class NoGstSession(FlynnError):
    """The session store holds no usable GST session for the GSTIN."""


class CommandFailed(Exception):
    """Ends a command with ``code``; ``error`` is what to report (its type name is shown)."""

    def __init__(self, code: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.code = code
        self.error = error


def exit_code(error: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if isinstance(error, CommandFailed):
        return error.code
    if isinstance(error, InvalidInput):
        return EXIT_USAGE
    if isinstance(error, AuthError):
        return EXIT_LOGIN_REFUSED
    if isinstance(error, GstSessionExpired | NoGstSession):
        return EXIT_NO_SESSION
    if isinstance(error, TaskError):
        return EXIT_TASK_FAILED
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_ERROR


def exit_codes_text() -> str:
    """The exit-code table as plain text (``help exit-codes``)."""
    return "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


# ----------------------------------------------------------------------------------------------
# Settings: one table
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class Setting:
    """One setting: its config-file key, environment variable, flag (if any) and meaning."""

    key: str
    env: str
    flag: str | None
    help: str
    kind: str = "text"  # "text", or "paths" (a list in the config file, os.pathsep in the env)


#: Every setting the command line reads, in the order the documentation lists them.
SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("-", "FLYNN_CONFIG", "--config", "the TOML config file holding the keys below"),
    Setting("handle", "FLYNN_HANDLE", "--handle", "login e-mail address or mobile number"),
    Setting("password", "FLYNN_PASSWORD", None, "login password (never a flag)"),
    Setting(
        "handle_type", "FLYNN_HANDLE_TYPE", None, "email or mobile (default: by the handle's form)"
    ),
    Setting("org_id", "FLYNN_ORG_ID", None, "organisation id (default: the user's primary one)"),
    Setting(
        "environment",
        "FLYNN_ENVIRONMENT",
        "--sandbox/--production",
        "sandbox (the default, free) or production (billed)",
    ),
    Setting("base_url", "FLYNN_BASE_URL", None, "API base URL instead of the environment's"),
    Setting("login_url", "FLYNN_LOGIN_URL", None, "login service URL (with base_url)"),
    Setting(
        "allow_http",
        "FLYNN_ALLOW_HTTP",
        "--allow-http",
        "accept plain http:// URLs to any host (default: only loopback), e.g. a simulator "
        "in another container; credentials then travel unencrypted",
    ),
    Setting(
        "request_timeout",
        "FLYNN_REQUEST_TIMEOUT",
        "--request-timeout",
        "seconds one request may take, each try (default 60)",
    ),
    Setting("gst.gstin", "FLYNN_GSTIN", "--gstin", "the taxpayer's GSTIN (gst, ims)"),
    Setting("gst.username", "FLYNN_GST_USERNAME", "--username", "GST portal username (gst otp)"),
    Setting("irp.gstin", "FLYNN_IRP_GSTIN", "--gstin", "GSTIN for e-invoice lookups"),
    Setting("irp.username", "FLYNN_IRP_USERNAME", "--irp-username", "IRP API username"),
    Setting("irp.password", "FLYNN_IRP_PASSWORD", None, "IRP API password (never a flag)"),
    Setting(
        "irp.keys",
        "FLYNN_EINVOICE_KEYS",
        "--key",
        "the IRP's PEM keys/certificates, to verify signatures",
        kind="paths",
    ),
    Setting(
        "state_dir",
        STATE_DIR_ENV,
        None,
        "where GST sessions are stored (default $XDG_STATE_HOME/flynn-async)",
    ),
)
_BY_KEY: Final = {s.key: s for s in SETTINGS}
_CONFIG_ENV: Final = "FLYNN_CONFIG"
_SECRET_KEYS: Final = frozenset({"password", "irp.password"})
_NOT_TEXT: Final = frozenset({"allow_http", "request_timeout"})  # TOML booleans and numbers


def settings_text(width: int = 78) -> str:
    """The settings table as plain text, ``width`` columns at most (``help settings``)."""
    lines = [
        "Settings: a flag wins over the environment, the environment over the config",
        "file (TOML: --config or FLYNN_CONFIG). Passwords and OTPs are never flags.",
        "",
    ]
    for s in SETTINGS:
        names = [s.env] + ([s.flag] if s.flag else [])
        if s.key != "-":
            names.append(f"config: {s.key}")
        lines.append("  " + "   ".join(names))
        lines += textwrap.wrap(s.help, width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _load_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise InvalidInput(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"the config file {path} is not valid TOML: {exc}") from None
    return config


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in config.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


class Settings:
    """A command's settings: its flags, then the environment, then the config file."""

    def __init__(
        self,
        args: argparse.Namespace,
        environ: Mapping[str, str],
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._args = args
        self._environ = environ
        config_path = getattr(args, "config", None) or environ.get(_CONFIG_ENV)
        self.config_path = Path(config_path) if config_path else None
        self.config_dir = self.config_path.parent if self.config_path else Path.cwd()
        self._config: dict[str, Any] = {}
        if self.config_path is not None:
            self._config = _flatten(_load_config(self.config_path))
            unknown = sorted(k for k in self._config if k not in _BY_KEY or k == "-")
            if unknown:
                raise InvalidInput(
                    f"the config file {self.config_path} has unknown keys: {', '.join(unknown)}"
                )
            if warn is not None and _SECRET_KEYS & self._config.keys():
                mode = self.config_path.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    warn(
                        f"the config file {self.config_path} holds a password and can be read "
                        f"by others: chmod 600 {self.config_path}"
                    )

    def get(self, key: str, flag: str | None = None) -> str | None:
        """The setting's value (``flag`` names the argparse attribute that may give it)."""
        if flag is not None:
            value = getattr(self._args, flag, None)
            if value:
                return str(value)
        env = self._environ.get(_BY_KEY[key].env)
        if env:
            return env
        value = self._config.get(key)
        if value is None:
            return None
        if key in _NOT_TEXT and isinstance(value, bool | int | float):
            return str(value).lower()  # allow_http = true, request_timeout = 30
        if not isinstance(value, str):
            raise InvalidInput(f"config file: {key} must be a string")
        return value

    def require(self, key: str, flag: str | None = None) -> str:
        """The setting's value; :class:`InvalidInput` naming every way to give it if unset."""
        value = self.get(key, flag)
        if not value:
            setting = _BY_KEY[key]
            where = f"{setting.flag}, " if flag and setting.flag else ""
            raise InvalidInput(
                f"{key} is not set: give {where}{setting.env} or '{key}' in the config file"
            )
        return value

    def paths(self, key: str, flag: str | None = None) -> list[Path]:
        """A list of file names (flag list, ``os.pathsep`` in the environment, list in config)."""
        if flag is not None and getattr(self._args, flag, None):
            return list(getattr(self._args, flag))
        env = self._environ.get(_BY_KEY[key].env)
        if env:
            return [Path(p) for p in env.split(os.pathsep) if p]
        listed = self._config.get(key)
        if listed is None:
            return []
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise InvalidInput(f"config file: {key} must be a list of file names")
        return [self.config_dir / p for p in listed]

    def credentials(self) -> Credentials:
        """Login credentials (``handle``, ``password``, ``handle_type``, ``org_id``)."""
        handle = self.require("handle", "handle")
        password = self.require("password")
        handle_type = self.get("handle_type") or ("mobile" if handle.isdigit() else "email")
        if handle_type not in ("email", "mobile"):
            raise InvalidInput(f"handle_type must be email or mobile, got {handle_type!r}")
        return Credentials(
            handle,
            password,
            org_id=self.get("org_id"),
            handle_type="mobile" if handle_type == "mobile" else "email",
        )

    def environment(self) -> str:
        """``sandbox`` or ``production``: the flag, else the setting, else sandbox."""
        chosen = getattr(self._args, "environment", None) or self.get("environment")
        environment = chosen or _api.DEFAULT_ENVIRONMENT
        if environment not in _api.ENVIRONMENTS:
            raise InvalidInput(f"environment must be sandbox or production, got {environment!r}")
        return environment

    @property
    def environment_flag(self) -> str | None:
        """``sandbox`` or ``production`` when ``--sandbox``/``--production`` was given."""
        flag = getattr(self._args, "environment", None)
        return flag if isinstance(flag, str) else None

    def urls(self) -> tuple[str | None, str | None]:
        """``base_url`` and ``login_url`` overrides (both or neither)."""
        base_url, login_url = self.get("base_url"), self.get("login_url")
        if (base_url is None) != (login_url is None):
            raise InvalidInput("set both FLYNN_BASE_URL and FLYNN_LOGIN_URL, or neither")
        return base_url, login_url

    def flag(self, key: str, flag: str | None = None) -> bool:
        """A yes/no setting: a flag given, or ``1``/``true``/``yes`` (``0``/``false``/``no``)."""
        value = self.get(key, flag)
        if value is None:
            return False
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("", "0", "false", "no", "off"):
            return False
        raise InvalidInput(f"{_BY_KEY[key].env} must be 1 or 0 (true or false), got {value!r}")

    def request_timeout(self) -> float:
        """``--request-timeout``, else the setting, else the client's default (seconds)."""
        value = self.get("request_timeout", "request_timeout")
        if value is None:
            return DEFAULT_REQUEST_TIMEOUT
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds < float("inf"):
            raise InvalidInput(
                f"the request timeout must be a number of seconds above 0, got {value!r}"
            )
        return seconds

    def client_options(self, ui: Ui) -> dict[str, Any]:
        """The network options every command's client gets: proxies from the environment
        (``HTTPS_PROXY``, ``NO_PROXY``), ``--allow-http`` (with a warning when it matters) and
        ``--request-timeout``."""
        allow_http = self.flag("allow_http", "allow_http")
        if allow_http:
            for url in self.urls():
                parts = urlsplit(url or "")
                if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
                    ui.warn(
                        f"plain http:// to {parts.hostname} (--allow-http): the password "
                        "and tokens travel unencrypted"
                    )
                    break
        return {
            "trust_env": True,
            "allow_insecure_http": allow_http,
            "request_timeout": self.request_timeout(),
        }

    def state_dir(self) -> Path:
        """The state directory: the setting (config paths relative to the file), else XDG."""
        env = self._environ.get(STATE_DIR_ENV)
        if env:
            return Path(env)
        configured = self._config.get("state_dir")
        if configured is not None:
            if not isinstance(configured, str):
                raise InvalidInput("config file: state_dir must be a string")
            return self.config_dir / configured
        return state_dir()

    def session_store(self) -> FileSessionStore:
        """The GST session store under the state directory."""
        return FileSessionStore(self.state_dir() / "sessions")

    def token_store(self) -> FileTokenStore:
        """The login token store under the state directory (reused by every command)."""
        return FileTokenStore(self.state_dir() / "tokens")


# ----------------------------------------------------------------------------------------------
# Streams and the client
# ----------------------------------------------------------------------------------------------


@attrs.define
class Ui:
    """The streams and environment a command runs with (the real ones, or a test's)."""

    out: TextIO
    err: TextIO
    stdin: TextIO
    environ: Mapping[str, str]
    quiet: bool = False
    verbosity: int = 0
    console: Console | None = None  # a terminal console on stderr, for bars and log lines

    def note(self, text: str) -> None:
        """A line for the user on stderr (kept even with ``-q``: it is not progress)."""
        print(self._fit(text), file=self.err, flush=True)

    def warn(self, text: str) -> None:
        """A warning line on stderr."""
        print(self._fit(f"flynn-async: warning: {text}"), file=self.err, flush=True)

    def command(self, command: str) -> None:
        """A shell command to copy, indented on stderr: one line, or on a terminal lines of
        its width continued with ``\\`` (pasted, they are the same command)."""
        width = self.terminal_width()
        lines = [command] if width is None else wrap_command(command, width - 3)
        print("\n".join(f"  {line}" for line in lines), file=self.err, flush=True)

    def terminal_width(self) -> int | None:
        """The width of the terminal stderr is, or ``None`` when it is none (a pipe, a log
        file, a test): lines for a person are wrapped to it between words, lines read by
        scripts are never broken."""
        isatty = getattr(self.err, "isatty", None)
        if not callable(isatty) or not isatty():
            return None
        try:  # stderr's own terminal, even when stdout goes to a file
            columns = os.get_terminal_size(self.err.fileno()).columns
        except (OSError, ValueError):
            columns = shutil.get_terminal_size((HELP_WIDTH, 24)).columns
        return max(40, columns)

    def _fit(self, text: str) -> str:
        width = self.terminal_width()
        if width is None:
            return text
        return "\n".join(
            textwrap.fill(line, width - 1, break_long_words=False, break_on_hyphens=False)
            if len(line) >= width
            else line
            for line in text.split("\n")
        )


@contextlib.contextmanager
def interruptible(prompt: TextIO) -> Iterator[None]:
    """Around a prompt on ``prompt`` that blocks the event loop (the OTP, a confirmation, a
    line of stdin): Ctrl-C raises ``KeyboardInterrupt`` at once (exit code 130) and SIGTERM
    :class:`TerminatedAtPrompt` (143), after ending the prompt's line. asyncio's own handlers
    run only between the loop's steps, which a blocking read never reaches: the first Ctrl-C
    would wait for Enter, and SIGTERM for a line (for ever, from a pipe that stays open)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wakeup = signal.set_wakeup_fd(-1)  # the loop is not told: the signal is handled here
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated),
    }
    try:
        yield
    except KeyboardInterrupt:
        print(file=prompt, flush=True)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(wakeup)


def make_client(
    settings: Settings,
    ui: Ui,
    *,
    session_store: FileSessionStore | None = None,
    **options: Any,
) -> FlynnClient:
    """A client for the configured environment (or URLs) and credentials; not started yet.

    It keeps its login token in the state directory's token store (unless ``token_store`` is
    given), so runs reuse one live token instead of adding one each (a user may hold 10).
    """
    options.setdefault("token_store", settings.token_store())
    credentials = settings.credentials()
    environment = settings.environment()
    base_url, login_url = settings.urls()
    if base_url is not None and settings.environment_flag is not None:
        ui.warn(f"FLYNN_BASE_URL/FLYNN_LOGIN_URL are set: --{environment} is ignored")
    return FlynnClient(
        credentials,
        environment="production" if environment == "production" else "sandbox",
        base_url=base_url,
        login_url=login_url,
        session_store=session_store,
        **(settings.client_options(ui) | options),
    )


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v``/``-vv``: the client's log on stderr (commands that talk to the API)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what the client does to stderr (-v: INFO, -vv: DEBUG), and show the route, "
        "task and page of an error; never secrets",
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``-q``: no progress display (commands that show progress)."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``-v``/``-vv`` and ``-q`` (a command that logs and shows progress)."""
    add_verbose(parser)
    add_quiet(parser)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return value


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """``--request-timeout`` and ``--allow-http``."""
    parser.add_argument(
        "--request-timeout",
        type=_timeout,
        metavar="SECONDS",
        help="seconds one request may take (default: $FLYNN_REQUEST_TIMEOUT, else 60)",
    )
    parser.add_argument(
        "--allow-http",
        action="store_true",
        help="accept plain http:// URLs to any host, e.g. a simulator in another container",
    )


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--handle``, ``--sandbox``/``--production`` and the network options."""
    parser.add_argument("--config", type=Path, help=f"TOML config file (default: ${_CONFIG_ENV})")
    parser.add_argument("--handle", help="login e-mail or mobile (default: $FLYNN_HANDLE)")
    add_network_options(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sandbox",
        dest="environment",
        action="store_const",
        const="sandbox",
        help="use the free sandbox (the default)",
    )
    where.add_argument(
        "--production",
        dest="environment",
        action="store_const",
        const="production",
        help="use the billed production service",
    )


#: The width ``--help`` text is written for (and wrapped to).
HELP_WIDTH: Final = 80


def wrap_command(command: str, width: int = HELP_WIDTH - 2) -> list[str]:
    """A shell command as lines of at most ``width`` columns, broken before an option (an
    option stays with its value) and continued with ``\\``."""
    words = command.split(" ")
    groups: list[str] = []
    for word in words:
        option = groups[-1] if groups else ""
        if option.startswith("-") and " " not in option and not word.startswith("-"):
            groups[-1] += " " + word
            continue
        groups.append(word)
    lines = [""]
    for group in groups:
        candidate = f"{lines[-1]} {group}" if lines[-1] else group
        if len(candidate) + 2 > width and lines[-1].strip():
            lines.append("    " + group)
        else:
            lines[-1] = candidate
    return [line + " \\" for line in lines[:-1]] + lines[-1:]


def epilog(*examples: str, settings: bool = True) -> str:
    """A command's ``--help`` epilog: its examples, then where the settings and exit codes are
    explained (once, for every command: ``flynn-async help settings``/``exit-codes``)."""
    parts = ["Example" + ("s" if len(examples) > 1 else "") + ":"]
    for example in examples:
        parts += [f"  {line}" for line in wrap_command(example)]
    parts.append("")
    if settings:
        parts.append("Settings (flags, environment, config file): flynn-async help settings")
    parts.append("Exit codes: flynn-async help exit-codes")
    return "\n".join(parts)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` at most 80 columns wide (less on a narrower terminal): descriptions are
    wrapped paragraph by paragraph (paragraphs are separated by a blank line); paragraphs of
    several lines (examples, tables) are kept as written."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        columns = shutil.get_terminal_size((HELP_WIDTH, 24)).columns
        kwargs["width"] = max(40, min(HELP_WIDTH, columns) - 2)
        super().__init__(prog, **kwargs)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if len(lines) > 1:  # laid out by hand: examples, tables
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
        return "\n\n".join(paragraphs)


def log_levels(verbosity: int) -> int | None:
    """The ``flynn_async`` logger level for ``-v`` counts (``None``: leave logging alone)."""
    if verbosity <= 0:
        return None
    return logging.INFO if verbosity == 1 else logging.DEBUG


def parse_list(values: Sequence[str] | None) -> list[str]:
    """Repeated and comma-separated values, flattened, blanks dropped."""
    items: list[str] = []
    for value in values or ():
        items.extend(part.strip() for part in value.split(",") if part.strip())
    return items
