"""The command line's dependencies are the ``cli`` extra: without them it says how to get them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from flynn_async import cli


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_without_rich_the_command_says_how_to_install_it_and_exits_2() -> None:
    done = _run(
        """
        import sys
        sys.modules["rich"] = None  # as if the cli extra were not installed
        from flynn_async.cli import main
        sys.exit(main(["--help"]))
        """
    )
    assert 2 == done.returncode
    assert "" == done.stdout
    assert "pip install '.[cli]' in a clone of flynn-async" in done.stderr
    assert "pip install 'flynn-async[" not in done.stderr  # not on PyPI yet
    assert "Traceback" not in done.stderr


def test_python_dash_m_without_rich_exits_2_too() -> None:
    done = _run(
        """
        import runpy, sys
        sys.modules["rich"] = None
        sys.argv = ["flynn_async", "--help"]
        runpy.run_module("flynn_async", run_name="__main__")
        """
    )
    assert 2 == done.returncode
    assert "'.[cli]'" in done.stderr


def test_the_library_does_not_import_rich() -> None:
    done = _run(
        """
        import sys
        sys.modules["rich"] = None
        import flynn_async, flynn_async.ims, flynn_async.batch, flynn_async.export
        import flynn_async.einvoice, flynn_async.testing
        print("ok")
        """
    )
    assert 0 == done.returncode, done.stderr
    assert "ok" == done.stdout.strip()


def test_with_rich_the_command_runs() -> None:
    done = _run(
        """
        import sys
        from flynn_async.cli import main
        sys.exit(main(["--version"]))
        """
    )
    assert 0 == done.returncode, done.stderr
    assert "flynn-async" in done.stdout


def test_ctrl_c_while_the_command_line_loads_is_exit_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> list[str]:
        raise KeyboardInterrupt  # Ctrl-C while rich and the commands are imported

    monkeypatch.setattr(cli, "missing_packages", interrupted)
    try:
        code = cli.main(["login"])
    except KeyboardInterrupt:  # caught here: it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped: Python prints a traceback")
    assert 130 == code
    assert "flynn-async: interrupted\n" == capsys.readouterr().err
