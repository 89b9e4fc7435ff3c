"""The simulated GST portal's GSTR-2B: documents built from the simulator's IMS records.

A 2B is computed from the taxpayer's IMS records and their actions (section 13 of the API
notes): accepted records and those without action (deemed accepted) go to ``docdata``,
rejected ones to ``docRejdata`` and ``itcsumm.itcRejected``, pending ones nowhere; the ITC
summary and the per-supplier summary are the sums of the documents (credit notes count
negative in the summaries). IMS ``b2bcn`` and ``b2bdn`` become 2B ``cdnr`` (``typ`` ``C`` or
``D``), their amendments ``cdnra``.

The 2B of a period is generated once (on the first get, unless ``auto_generate`` is off) and
kept: actions taken later show only after a regeneration (``GEN2B``), which ends ``P`` after
``regeneration_polls`` status calls answered ``IP``. A regeneration that would change nothing
answers ``IMS2005``. Settings are plain attributes of :class:`Gstr2bPortal` (``files``,
``error_code``, ``queued`` ...), changeable between requests.

The portal never logs, and holds no secret.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs

from flynn_async._http import _api

__all__ = ["Gstr2bPortal", "Regeneration"]

_ZERO: Final = Decimal(0)
_TAXES: Final = ("igst", "cgst", "sgst", "cess")
#: IMS section -> (2B section, document list key).
_SECTIONS: Final[dict[str, tuple[str, str]]] = {
    "b2b": ("b2b", "inv"),
    "b2ba": ("b2ba", "inv"),
    "ecom": ("ecom", "inv"),
    "ecoma": ("ecoma", "inv"),
    "b2bcn": ("cdnr", "nt"),
    "b2bdn": ("cdnr", "nt"),
    "b2bcna": ("cdnra", "nt"),
    "b2bdna": ("cdnra", "nt"),
}
_ORDER: Final[tuple[str, ...]] = ("b2b", "b2ba", "cdnr", "cdnra", "ecom", "ecoma")
_TRADE_NAMES: Final = ("Traders", "Industries", "Enterprises", "Steel Works", "Textiles")

#: A record's identity: (IMS section, supplier GSTIN, document number, document date).
RecordKey = tuple[str, str, str, str]


def record_key(section: str, record: Mapping[str, Any]) -> RecordKey:
    """The identity of an IMS record (section + ``stin`` + number + date, rule 7)."""
    number = record.get("inum", record.get("nt_num", ""))
    day = record.get("idt", record.get("nt_dt", ""))
    return (section.lower(), str(record.get("stin", "")), str(number), str(day))


@attrs.define
class Regeneration:
    """A regeneration the portal accepted: its reference id, taxpayer, period and status."""

    reference_id: str
    gstin: str
    period: str
    status: str = _api.GSTR2B_STATUS_IN_PROGRESS
    status_calls: int = 0


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _is_period(text: object) -> bool:
    return isinstance(text, str) and len(text) == 6 and text.isdigit() and 1 <= int(text[:2]) <= 12


class Gstr2bPortal:
    """GSTR-2B of the simulated portal; reach it as ``simulator.gstr2b``.

    Settings (attributes, changeable at any time):

    - ``files``: how many files a 2B is sent in (1: one answer with everything; K > 1: the
      first answer carries ``fc`` = K, the header and summaries, and, when
      ``first_answer_carries_file_one``, file 1's lists again; ``file_num=1..K`` the parts);
    - ``error_code``: every get answers this portal code (``RET2B1023``, ``RET2B1016``,
      ``RET2B1018``, any other), relayed as the simulator's ``gst_error_shape`` says;
    - ``regenerate_error_code``: every regenerate answers this code (``IMS2B007``, ...);
    - ``queued``: the next N gets answer a queued request (``requestid`` and
      ``retryTimeInMinutes`` = ``queue_minutes``);
    - ``regeneration_polls``: status calls that answer ``IP`` before ``P``;
    - ``auto_generate``: a period's 2B exists on its first get (else ``RET2B1023`` until a
      regeneration).

    Inspection: ``regenerations`` (by reference id), ``generated`` (the documents as kept,
    by (GSTIN, period)). :meth:`act` records an IMS action on a record.
    """

    def __init__(
        self,
        *,
        records: Callable[[str], Iterable[tuple[str, Sequence[dict[str, Any]]]]],
        fail: Callable[[int, str, str, Mapping[str, Any]], Exception],
        error_shape: Callable[[], str],
        new_id: Callable[[], str],
    ) -> None:
        self._records = records
        self._fail = fail
        self._error_shape = error_shape
        self._new_id = new_id
        self.files = 1
        self.first_answer_carries_file_one = True
        self.error_code: str | None = None
        self.regenerate_error_code: str | None = None
        self.queued = 0
        self.queue_minutes = 1
        self.regeneration_polls = 1
        self.auto_generate = True
        self.actions: dict[tuple[str, RecordKey], str] = {}
        self.generated: dict[tuple[str, str], dict[str, Any]] = {}
        self.regenerations: dict[str, Regeneration] = {}
        self.calls: collections.Counter[str] = collections.Counter()

    # ---------------------------------------------------------------------------------------
    # State
    # ---------------------------------------------------------------------------------------

    def act(self, gstin: str, section: str, record: Mapping[str, Any], action: str) -> None:
        """Record the IMS ``action`` (``A``, ``R``, ``P``, ``N``) on ``record`` of ``section``."""
        if action not in _api.IMS_STATUSES:
            raise ValueError(f"action must be one of {_api.IMS_STATUSES}, got {action!r}")
        self.actions[(gstin, record_key(section, record))] = action

    def action_of(self, gstin: str, section: str, record: Mapping[str, Any]) -> str:
        """The record's current IMS action (an :meth:`act`, else the one it was made with)."""
        found = self.actions.get((gstin, record_key(section, record)))
        return found if found is not None else str(record.get("action", "N"))

    def build(self, gstin: str, period: str) -> dict[str, Any]:
        """The 2B document the portal would generate now for ``gstin`` and ``period``."""
        taken: dict[str, dict[str, dict[str, Any]]] = {"docdata": {}, "docRejdata": {}}
        for ims_section, records in self._records(gstin):
            mapping = _SECTIONS.get(ims_section.lower())
            if mapping is None:
                continue
            section, list_key = mapping
            for record in records:
                action = self.action_of(gstin, ims_section, record)
                if action == "P":
                    continue  # pending: in neither list
                target = taken["docRejdata" if action == "R" else "docdata"]
                suppliers = target.setdefault(section, {})
                stin = str(record["stin"])
                supplier = suppliers.get(stin)
                if supplier is None:
                    supplier = suppliers[stin] = {
                        "ctin": stin,
                        "trdnm": f"{stin[2:7]} {_TRADE_NAMES[int(stin[:2]) % 5]}",
                        "supfildt": f"11-{_next_month(period)}",
                        "supprd": period,
                        list_key: [],
                    }
                supplier[list_key].append(_document(ims_section.lower(), record, action))
        document: dict[str, Any] = {
            "gstin": gstin,
            "rtnprd": period,
            "version": "4.0",
            "gendt": f"14-{_next_month(period)}",
        }
        lists: dict[str, dict[str, list[dict[str, Any]]]] = {
            key: {s: list(taken[key][s].values()) for s in _ORDER if s in taken[key]}
            for key in taken
        }
        document["itcsumm"] = _itc_summary(lists["docdata"], lists["docRejdata"])
        document["cpsumm"] = _supplier_summary(lists["docdata"])
        document["docdata"] = lists["docdata"]
        document["docRejdata"] = lists["docRejdata"]
        return document

    def document(self, gstin: str, period: str) -> dict[str, Any] | None:
        """A copy of the 2B kept for (``gstin``, ``period``), ``None`` if none is generated."""
        found = self.generated.get((gstin, period))
        return copy.deepcopy(found) if found is not None else None

    # ---------------------------------------------------------------------------------------
    # Routes
    # ---------------------------------------------------------------------------------------

    def _portal_error(self, code: str) -> Exception:
        message = _api.GSTR2B_CODE_MEANINGS.get(code, "GSTR-2B request failed")
        shape = self._error_shape()
        if shape == "gstn-err":
            nested = {
                _api.ERR_ARG_GSTN_STATUS_CODE: 0,
                _api.ERR_ARG_GSTN_ERROR_CODE: code,
                _api.ERR_ARG_GSTN_MESSAGE: message,
            }
            return self._fail(
                502, _api.ERR_GSTN, _api.ERR_TYPE_GSTN, {_api.ERR_ARG_GSTN_ERR: nested}
            )
        if shape == "older":
            older = {_api.ERR_ARG_GSTN_OLDER_CODE: code, _api.ERR_ARG_GSTN_MESSAGE: message}
            args = {_api.ERR_ARG_GSTN_STATUS_CODE: 0, _api.ERR_ARG_GSTN_ERR: older}
            return self._fail(502, _api.ERR_GSTN_OLDER, _api.ERR_TYPE_GSTN, args)
        return self._fail(
            400,
            _api.ERR_GSTN,
            _api.ERR_TYPE_GSTN,
            {_api.ERR_ARG_GSTN_CODE: code, _api.ERR_ARG_GSTN_MESSAGE: message},
        )

    def _bad(self, *fields: str) -> Exception:
        return self._fail(
            400,
            _api.ERR_INVALID_BODY,
            _api.ERR_TYPE_CLIENT_REQUEST,
            {_api.ERR_ARG_ERROR_LOCATION: list(fields)},
        )

    def get(self, gstin: str, query: Mapping[str, str], *, peek: bool = False) -> dict[str, Any]:
        """The get route's answer ``data`` for a checked request of ``gstin``; ``peek``: a
        faulted request, answered without using up a queued answer."""
        self.calls["get"] += 1
        period = query.get(_api.GSTR2B_QUERY_PERIOD)
        if query.get(_api.GSTR2B_QUERY_RETURN_TYPE) != _api.GSTR2B_RETURN_TYPE:
            raise self._bad(_api.GSTR2B_QUERY_RETURN_TYPE)
        if not _is_period(period):
            raise self._bad(_api.GSTR2B_QUERY_PERIOD)
        assert period is not None
        file_text = query.get(_api.GSTR2B_QUERY_FILE)
        if self.error_code is not None:
            raise self._portal_error(self.error_code)
        if self.queued > 0:
            if not peek:
                self.queued -= 1
            return {
                _api.GSTR2B_QUEUED_ID_KEY: self._new_id(),
                _api.GSTR2B_QUEUED_MINUTES_KEY: self.queue_minutes,
            }
        kept = self.generated.get((gstin, period))
        if kept is None:
            if not self.auto_generate:
                raise self._portal_error(sorted(_api.GSTR2B_CODES_NOT_GENERATED)[0])
            kept = self.generated[(gstin, period)] = self.build(gstin, period)
        if not kept["docdata"] and not kept["docRejdata"]:
            raise self._portal_error(_api.GSTR2B_CODE_NO_DOCUMENTS)
        parts = _split(kept, self.files)
        if file_text is None:
            if len(parts) == 1:
                return self._answer(kept)
            first = {k: v for k, v in kept.items() if k not in _api.GSTR2B_DOCUMENT_LISTS}
            first[_api.GSTR2B_FILE_COUNT_KEY] = len(parts)
            if self.first_answer_carries_file_one:
                first.update(parts[0])
            return self._answer(first)
        if not file_text.isdigit() or not 1 <= int(file_text) <= len(parts):
            raise self._bad(_api.GSTR2B_QUERY_FILE)
        part = {
            "gstin": gstin,
            "rtnprd": period,
            _api.GSTR2B_FILE_COUNT_KEY: len(parts),
            **parts[int(file_text) - 1],
        }
        return self._answer(part)

    @staticmethod
    def _answer(document: dict[str, Any]) -> dict[str, Any]:
        return {
            _api.GSTR2B_CHECKSUM_KEY: f"{hash(repr(sorted(document))) & 0xFFFFFFFF:08X}",
            _api.GSTR2B_DOCUMENT_KEY: document,
        }

    def regenerate(self, gstin: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The regenerate route's answer ``data`` for a checked request of ``gstin``."""
        self.calls["regenerate"] += 1
        bad = []
        if body.get(_api.GSTR2B_BODY_GSTIN) != gstin:
            bad.append(_api.GSTR2B_BODY_GSTIN)
        period = body.get(_api.GSTR2B_BODY_PERIOD)
        if not _is_period(period):
            bad.append(_api.GSTR2B_BODY_PERIOD)
        if bad:
            raise self._bad(*bad)
        assert isinstance(period, str)
        if self.regenerate_error_code is not None:
            raise self._portal_error(self.regenerate_error_code)
        kept = self.generated.get((gstin, period))
        if kept is not None and kept == self.build(gstin, period):
            raise self._portal_error(_api.GSTR2B_CODE_UNCHANGED)
        regeneration = Regeneration(self._new_id(), gstin, period)
        self.regenerations[regeneration.reference_id] = regeneration
        if self.regeneration_polls <= 0:
            self._finish(regeneration)
        return {_api.GSTR2B_REFERENCE_KEY: regeneration.reference_id}

    def _finish(self, regeneration: Regeneration) -> None:
        key = (regeneration.gstin, regeneration.period)
        self.generated[key] = self.build(*key)
        regeneration.status = _api.GSTR2B_STATUS_PROCESSED

    def status(self, gstin: str, query: Mapping[str, str], *, peek: bool) -> dict[str, Any]:
        """The status route's answer ``data``; ``peek``: answer without moving state on."""
        self.calls["status"] += 1
        if query.get(_api.GSTR2B_QUERY_GSTIN) != gstin:
            raise self._bad(_api.GSTR2B_QUERY_GSTIN)
        reference = query.get(_api.GSTR2B_QUERY_REFERENCE, "")
        regeneration = self.regenerations.get(reference)
        if regeneration is None or regeneration.gstin != gstin:
            raise self._fail(
                404,
                _api.ERR_NOT_FOUND,
                _api.ERR_TYPE_NOT_FOUND,
                {_api.GSTR2B_QUERY_REFERENCE: reference},
            )
        if not peek and regeneration.status == _api.GSTR2B_STATUS_IN_PROGRESS:
            regeneration.status_calls += 1
            if regeneration.status_calls > self.regeneration_polls:
                self._finish(regeneration)
        return {
            _api.GSTR2B_STATUS_KEY: regeneration.status,
            "err_cd": "",
            "err_msg": "",
            "rtnprd": regeneration.period,
        }


def _next_month(period: str) -> str:
    month, year = int(period[:2]), int(period[2:])
    month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return f"{month:02d}-{year:04d}"


def _document(section: str, record: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The 2B document of an IMS record (2B names: ``dt``, ``typ``, ``igst`` ...)."""
    doc: dict[str, Any] = {}
    if "inum" in record:
        doc["inum"] = record["inum"]
        doc["typ"] = record.get("inv_typ", "R")
        doc["dt"] = record["idt"]
        if "oinum" in record:
            doc["oinum"] = record["oinum"]
            doc["oidt"] = record["oidt"]
    else:
        doc["ntnum"] = record["nt_num"]
        doc["typ"] = "C" if "cn" in section else "D"
        doc["suptyp"] = record.get("inv_typ", "R")
        doc["dt"] = record["nt_dt"]
        if "ont_num" in record:
            doc["onttyp"] = doc["typ"]
            doc["ontnum"] = record["ont_num"]
            doc["ontdt"] = record["ont_dt"]
    doc.update(
        {
            "val": record["val"],
            "pos": record["pos"],
            "rev": "N",
            "itcavl": "Y",
            "rsn": "",
            "diffprcnt": 1,
            "srctyp": "e-Invoice",
            "txval": record["txval"],
            "igst": record["iamt"],
            "cgst": record["camt"],
            "sgst": record["samt"],
            "cess": record["cess"],
            "imsStatus": action,
        }
    )
    return doc


def _signed(doc: Mapping[str, Any], key: str) -> Decimal:
    """A document's amount as the summaries count it: credit notes negative."""
    amount = _money(doc[key])
    return -amount if doc.get("ntnum") is not None and doc.get("typ") == "C" else amount


def _sums(docs: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Decimal]:
    totals = dict.fromkeys(keys, _ZERO)
    for doc in docs:
        for key in keys:
            totals[key] += _signed(doc, key)
    return totals


def _docs(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(entry.get("inv", ())) + list(entry.get("nt", ()))


def _group(sections: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    group: dict[str, Any] = dict.fromkeys(_TAXES, _ZERO)
    for name in _ORDER:
        docs = [d for entry in sections.get(name, ()) for d in _docs(entry)]
        section = _sums(docs, _TAXES)
        group[name] = section
        for key in _TAXES:
            group[key] += section[key]
    return group


def _itc_summary(
    available: Mapping[str, list[dict[str, Any]]], rejected: Mapping[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    return {
        "itcavl": {"nonrevsup": _group(available)},
        "itcunavl": {"nonrevsup": _group({})},
        "itcRejected": {"nonrevsup": _group(rejected)},
    }


def _supplier_summary(available: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, entries in available.items():
        rows = []
        for entry in entries:
            docs = _docs(entry)
            row: dict[str, Any] = {
                "ctin": entry["ctin"],
                "trdnm": entry["trdnm"],
                "supprd": entry["supprd"],
                "supfildt": entry["supfildt"],
                "ttldocs": len(docs),
            }
            row.update(_sums(docs, ("txval", *_TAXES)))
            rows.append(row)
        summary[name] = rows
    return summary


def _split(document: Mapping[str, Any], files: int) -> list[dict[str, Any]]:
    """The document's lists dealt out over at most ``files`` files, in order."""
    entries = [
        (key, section, entry)
        for key in _api.GSTR2B_DOCUMENT_LISTS
        for section, items in document.get(key, {}).items()
        for entry in items
    ]
    count = max(1, min(files, len(entries)))
    size = -(-len(entries) // count)
    parts: list[dict[str, Any]] = []
    for start in range(0, max(len(entries), 1), max(size, 1)):
        part: dict[str, Any] = {}
        for key, section, entry in entries[start : start + size]:
            part.setdefault(key, {}).setdefault(section, []).append(entry)
        parts.append(part)
    return parts or [{}]
