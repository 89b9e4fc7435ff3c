#!/usr/bin/env bash
# Checks, in fresh virtual environments and OFFLINE (pip --no-index, from a local wheelhouse),
# what a user meets when installing flynn-async beside other packages and in another project:
#
#  1. flynn-async installs `backoff` (not `python-backoff`); installing another package that
#     needs `backoff` and uninstalling it again leaves `import flynn_async` and `pip check`
#     clean. For contrast, it shows the old clash: with both `backoff` and `python-backoff`
#     installed (both own the module `backoff`), uninstalling one breaks the module while
#     `pip check` says nothing.
#  2. A fresh project WITHOUT the pytest plugin enabled: its pytest run never imports
#     flynn_async. WITH it enabled (`pytest_plugins` in conftest.py) and only the `testing`
#     extra installed: the plugin's fixtures work (a download from the simulator).
#
# Run it by hand, from the clone:
#   scripts/check_install.sh --prepare   # while PyPI is reachable: build the wheel and fill
#                                        # the wheelhouse (build/wheelhouse) with pip download
#   scripts/check_install.sh             # offline: every install is --no-index from there
# Environment: PYTHON (default python3), WHEELHOUSE (default build/wheelhouse).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
WH="${WHEELHOUSE:-$ROOT/build/wheelhouse}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '\n== %s\n' "$*"; }

# A tiny wheel, "other-tool", that depends on backoff: another package of the user's.
make_other_tool() {
    "$PY" - "$WH" <<'PY'
import base64, hashlib, sys, zipfile
from pathlib import Path

out = Path(sys.argv[1]) / "other_tool-1.0-py3-none-any.whl"
files = {
    "other_tool/__init__.py": "import backoff\n",
    "other_tool-1.0.dist-info/METADATA": (
        "Metadata-Version: 2.1\nName: other-tool\nVersion: 1.0\nRequires-Dist: backoff>=2\n"
    ),
    "other_tool-1.0.dist-info/WHEEL": (
        "Wheel-Version: 1.0\nGenerator: check_install\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ),
}
record = []
with zipfile.ZipFile(out, "w") as wheel:
    for name, text in files.items():
        data = text.encode()
        wheel.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("other_tool-1.0.dist-info/RECORD,,")
    wheel.writestr("other_tool-1.0.dist-info/RECORD", "\n".join(record) + "\n")
PY
}

if [ "${1:-}" = "--prepare" ]; then
    mkdir -p "$WH"
    rm -f "$WH"/flynn_async-*.whl
    "$PY" -m pip wheel -q --no-deps -w "$WH" "$ROOT"
    wheel="$(ls "$WH"/flynn_async-*.whl)"
    "$PY" -m pip download -q -d "$WH" "$wheel[testing]" python-backoff
    make_other_tool
    echo "wheelhouse ready: $WH ($(ls "$WH" | wc -l) files); now run $0 (offline)"
    exit 0
fi

wheel="$(ls "$WH"/flynn_async-*.whl 2>/dev/null || true)"
if [ -z "$wheel" ]; then
    echo "no wheelhouse at $WH: run $0 --prepare first (while PyPI is reachable)" >&2
    exit 2
fi
offline=(--no-index --find-links "$WH" -q --disable-pip-version-check)
venv() { "$PY" -m venv "$1" && "$1/bin/python" -m pip --version > /dev/null; }

say "1. flynn-async beside other packages"
venv "$WORK/a"
"$WORK/a/bin/pip" install "${offline[@]}" "$wheel"
"$WORK/a/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -i backoff
"$WORK/a/bin/python" -c "import flynn_async; print('import flynn_async: ok', flynn_async.__version__)"
"$WORK/a/bin/pip" check --disable-pip-version-check
echo "-- another package that needs backoff: install it, then uninstall it"
"$WORK/a/bin/pip" install "${offline[@]}" other-tool backoff
"$WORK/a/bin/pip" check --disable-pip-version-check
"$WORK/a/bin/pip" uninstall -q -y other-tool
"$WORK/a/bin/python" -c "import flynn_async, backoff; print('import flynn_async: ok')"
"$WORK/a/bin/pip" check --disable-pip-version-check

echo "-- for contrast, the old clash: backoff and python-backoff both own the module 'backoff'"
venv "$WORK/b"
"$WORK/b/bin/pip" install "${offline[@]}" backoff python-backoff
"$WORK/b/bin/pip" uninstall -q -y python-backoff
if "$WORK/b/bin/python" -c "import backoff; backoff.expo" 2> /dev/null; then
    echo "import backoff: still works"
else
    echo "import backoff: BROKEN although 'backoff' is still installed"
fi
"$WORK/b/bin/pip" check --disable-pip-version-check || true

say "2. a fresh project with only the testing extra"
venv "$WORK/c"
"$WORK/c/bin/pip" install "${offline[@]}" "$wheel[testing]"
"$WORK/c/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -iE "^(flynn-async|pytest|pytest-asyncio) "
project="$WORK/project"
mkdir -p "$project"
cat > "$project/pytest.ini" <<'INI'
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = -p no:cacheprovider
INI
cat > "$project/test_plain.py" <<'PY'
import sys


def test_flynn_async_is_not_imported(request):
    assert not [name for name in sys.modules if name.startswith("flynn_async")]
    assert request.config.pluginmanager.get_plugin("flynn_async.testing.pytest_plugin") is None
PY
echo "-- without the plugin enabled"
(cd "$project" && "$WORK/c/bin/python" -m pytest -q test_plain.py)
TIMEFORMAT="a one-test run takes %R s"
time (cd "$project" && "$WORK/c/bin/python" -m pytest -q test_plain.py > /dev/null)

echo "-- with the plugin enabled (conftest.py: pytest_plugins)"
cat > "$project/conftest.py" <<'PY'
pytest_plugins = ["flynn_async.testing.pytest_plugin"]
PY
cat > "$project/test_with_plugin.py" <<'PY'
import pytest


@pytest.mark.asyncio
@pytest.mark.flynn_simulator(records_per_section=12, page_size=5)
async def test_download(flynn_client, flynn_gst_session, flynn_simulator):
    result = await flynn_client.ims.download(flynn_gst_session, section="B2B")
    assert 12 == len(result.b2b)
    assert result.to_dict()["b2b"] == flynn_simulator.expected_records(flynn_simulator.gstin, "B2B")


def test_sync_simulator(flynn_simulator):
    assert flynn_simulator.base_url.startswith("http://127.0.0.1:")
PY
(cd "$project" && "$WORK/c/bin/python" -m pytest -q test_with_plugin.py)

say "all checks passed"
