"""The bottom layer: what every other layer may use, and which knows none of them.

The one exception tree (``_errors``), JSON with exact decimals (``_json``), frozen values and
open code lists (``_values``), secrets (``_secrets``), input checks (``_validate``), the
immutable policies (``_policy``) and files (``_files``: atomic writes, the state directory).
Nothing here knows HTTP, tasks, or which API a value came from.
"""
