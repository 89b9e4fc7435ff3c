"""Deterministic, realistic IMS records for the simulator.

Every record list is a pure function of ``(seed, gstin, section, count)``: a
:class:`random.Random` is seeded with a stable string (never Python's salted ``hash()``), so
the same inputs give the same records on every run and every machine. Records are shaped as
the server sends them (section 6 of the API notes and the seed sample): lower-case keys,
money as :class:`~decimal.Decimal` with the exact digits that go on the wire (``1000.10``,
``1000.1``) or as ``int`` for whole amounts sent without a fraction.
"""

from __future__ import annotations

import calendar
import datetime
import random
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, NamedTuple

from flynn_async._core import _validate
from flynn_async._http import _api

__all__ = ["Money", "copy_records", "ims_records", "paginate", "suppliers", "unknown_records"]

#: An amount as it goes on the wire: an exact decimal, or an int for a whole amount sent bare.
Money = Decimal | int

_PAISE: Final = Decimal("0.01")
_HUNDRED: Final = Decimal(100)
_ALNUM: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: State codes that appear in GSTINs and in ``pos``.
_STATES: Final = (*(f"{n:02d}" for n in range(1, 39)), "97")
#: States that most suppliers come from (Gujarat first: the default taxpayer is there).
_BUSY_STATES: Final = ("24", "24", "24", "27", "29", "07", "33", "09", "06", "19", "36")
#: The sandbox supplier of the seed sample.
_SEED_SUPPLIER: Final = "24MAYAS0100J1JD"
_RATES: Final = (5, 12, 18, 28)
_CESS_RATES: Final = (1, 3, 12, 15)
_YEARS: Final = (2023, 2024, 2025)
_B2B_FAMILY: Final = frozenset({"b2b", "b2ba", "b2bdn", "b2bdna", "b2bcn", "b2bcna"})
_INVOICES: Final = frozenset({"b2b", "b2ba", "ecom", "ecoma"})
_INVOICE_AMENDMENTS: Final = frozenset({"b2ba", "ecoma"})
_NOTE_AMENDMENTS: Final = frozenset({"b2bdna", "b2bcna"})
_REMARKS: Final = (
    "Price mismatch",
    "Goods not received",
    "Quantity short",
    "Rate differs from PO",
    "Duplicate invoice",
)


def _rng(seed: int, *parts: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.Random: stable across runs and machines.
    return random.Random("|".join(("flynn-sim/1", str(seed), *parts)))


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    roll = rng.random()
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def _make_suppliers() -> tuple[str, ...]:
    rng = _rng(0, "suppliers")
    pool = [_SEED_SUPPLIER]
    while len(pool) < 12:  # sandbox style, like the seed sample: fails the real pattern
        state = rng.choice(_BUSY_STATES)
        letters = "".join(rng.choices(_LETTERS, k=5))
        digits = f"{rng.randrange(10_000):04d}"
        tail = rng.choice(_LETTERS) + str(rng.randrange(1, 10)) + rng.choice(_LETTERS)
        pool.append(f"{state}{letters}{digits}{tail}{rng.choice(_ALNUM)}")
    while len(pool) < 40:  # real-looking: pattern and check digit both hold
        state = rng.choice(_BUSY_STATES) if rng.random() < 0.6 else rng.choice(_STATES[:37])
        pan = (
            "".join(rng.choices(_LETTERS, k=3))
            + rng.choice("CPHFATBLJG")
            + rng.choice(_LETTERS)
            + f"{rng.randrange(10_000):04d}"
            + rng.choice(_LETTERS)
        )
        first14 = f"{state}{pan}{rng.choice('123456789AB')}Z"
        pool.append(first14 + _validate.gstin_check_digit(first14))
    return tuple(pool)


_SUPPLIERS: Final = _make_suppliers()


def suppliers() -> tuple[str, ...]:
    """The fixed pool of 40 supplier GSTINs the records draw from (12 sandbox-style)."""
    return _SUPPLIERS


def _recipient_state(gstin: str) -> str:
    head = gstin[:2]
    return head if head in _STATES else "24"


def _money(value: Decimal, style: str, zero_as_decimal: bool) -> Money:
    """Render an amount (already exact to the paisa) the way this record sends its amounts."""
    if not value:
        return Decimal("0.00") if zero_as_decimal else 0
    if style == "2dp":
        return value.quantize(_PAISE)
    if value == value.to_integral_value():  # "short" or "int": whole amounts go out as ints
        return int(value)
    return value.quantize(_PAISE).normalize()  # 1000.10 -> 1000.1


def _tax(base: Decimal, rate: int) -> Decimal:
    return (base * rate / _HUNDRED).quantize(_PAISE, rounding=ROUND_HALF_UP)


def _date(day: datetime.date) -> str:
    return day.strftime("%d-%m-%Y")


def _doc_number(rng: random.Random, kind: str, year: int) -> str:
    n = rng.randrange(1, 100_000)
    yy = year % 100
    forms: tuple[str, ...]
    if kind == "invoice":
        forms = (
            f"INV/{year}/{n:05d}",
            f"b{n % 1000}-{rng.randrange(1, 100)}",
            f"{yy}-{yy + 1}/{n}",
            f"GST{n:06d}",
            f"TI-{n}",
            f"S{n % 10_000}",
        )
    else:
        prefix = "CN" if kind == "credit" else "DN"
        forms = (f"{prefix}/{yy}/{n:04d}", f"{prefix.lower()}{n % 1000}", f"{prefix}-{year}-{n}")
    return rng.choice(forms)


class _Amounts(NamedTuple):
    """A record's amounts, exact to the paisa, and how it sends them (see :func:`_money`)."""

    style: str
    zero_as_decimal: bool
    val: Decimal
    txval: Decimal
    iamt: Decimal
    camt: Decimal
    samt: Decimal
    cess: Decimal

    def money(self, amount: Decimal) -> Money:
        return _money(amount, self.style, self.zero_as_decimal)


def _amounts(rng: random.Random, inv_typ: str | None, intra: bool) -> _Amounts:
    """Draw a record's taxable value, rate and cess; split the tax as intra- or inter-state."""
    style = _weighted(rng, (("2dp", 0.6), ("short", 0.25), ("int", 0.15)))
    zero_as_decimal = style == "2dp" and rng.random() < 0.3
    if style == "int":  # multiples of 200: every tax of every rate, and its halves, are whole
        txval = Decimal(200 * rng.randint(1, 2_500))
    elif style == "short" and rng.random() < 0.5:  # one decimal place, like 1000.1
        txval = Decimal(rng.randint(1_000, 5_000_000)) / 10
    else:
        txval = Decimal(rng.randint(10_000, 50_000_000)) / _HUNDRED
    rate = rng.choice(_RATES)
    tax = Decimal(0) if inv_typ == "SEWOP" else _tax(txval, rate)
    zero = Decimal(0)
    if intra:
        half = (tax / 2).quantize(_PAISE, rounding=ROUND_HALF_UP)
        iamt, camt, samt = zero, half, half
    else:
        iamt, camt, samt = tax, zero, zero
    cess = _tax(txval, rng.choice(_CESS_RATES)) if rng.random() < 0.1 else zero
    if style == "int":
        cess = cess.to_integral_value()
    val = txval + iamt + camt + samt + cess
    return _Amounts(style, zero_as_decimal, val, txval, iamt, camt, samt, cess)


def _document_numbers(
    rng: random.Random, record: dict[str, Any], section: str, year: int, doc_day: datetime.date
) -> None:
    """Add the document's number and date (and the original's, in an amendment section)."""
    if section in _INVOICE_AMENDMENTS:
        record["oinum"] = _doc_number(rng, "invoice", year)
        record["oidt"] = _date(doc_day - datetime.timedelta(days=rng.randint(1, 120)))
    if section in _NOTE_AMENDMENTS:
        kind = "credit" if section == "b2bcna" else "debit"
        record["ont_num"] = _doc_number(rng, kind, year)
        record["ont_dt"] = _date(doc_day - datetime.timedelta(days=rng.randint(1, 120)))
    if section in _INVOICES:
        record["inum"] = _doc_number(rng, "invoice", year)
        record["idt"] = _date(doc_day)
    else:
        record["nt_num"] = _doc_number(rng, "credit" if "cn" in section else "debit", year)
        record["nt_dt"] = _date(doc_day)


def _newer_fields(rng: random.Random, record: dict[str, Any], amounts: _Amounts) -> None:
    """Add the fields of the API's newer records (declared amounts, remarks, ...)."""
    record["isRemarksBlocked"] = "Y" if rng.random() < 0.3 else "N"
    record["itcRedReq"] = "Y" if rng.random() < 0.3 else "N"
    for key, amount in (
        ("declIgst", amounts.iamt),
        ("declCgst", amounts.camt),
        ("declSgst", amounts.samt),
    ):
        record[key] = amounts.money(amount)
    record["declCess"] = amounts.money(amounts.cess)
    record["remarks"] = rng.choice(_REMARKS)
    record["prev_status"] = rng.choice(_api.IMS_STATUSES)
    # the declaration-blocked flag under either of its names, drawn from the hash (no
    # draw of the random stream, so every other value stays as it was)
    digest = record["hash"]
    blocked = "itcRedReqBlocked" if digest[1] in "01234567" else "isItcRedReqBlocked"
    record[blocked] = "Y" if digest[2] in "0123" else "N"


def _ims_record(rng: random.Random, section: str, recipient_state: str) -> dict[str, Any]:
    year = rng.choice(_YEARS)
    month = rng.randint(1, 12)
    last_day = calendar.monthrange(year, month)[1]
    doc_day = datetime.date(year, month, rng.randint(1, last_day))
    if rng.random() < 0.15:  # a document dated a month or two before its return period
        doc_day -= datetime.timedelta(days=rng.randint(28, 60))
    stin = rng.choice(_SUPPLIERS)
    pos = recipient_state if rng.random() < 0.85 else rng.choice(_STATES)
    inv_typ = None
    if section in _B2B_FAMILY:
        inv_typ = _weighted(
            rng, (("R", 0.8), ("DE", 0.05), ("SEWP", 0.05), ("SEWOP", 0.05), ("CBW", 0.05))
        )
    amounts = _amounts(rng, inv_typ, intra=pos == stin[:2] and inv_typ in (None, "R"))

    record: dict[str, Any] = {"stin": stin}
    _document_numbers(rng, record, section, year, doc_day)
    if inv_typ is not None:
        record["inv_typ"] = inv_typ
    record["action"] = _weighted(rng, (("A", 0.35), ("R", 0.1), ("P", 0.2), ("N", 0.35)))
    pending = "ispendactnallwd" if rng.random() < 0.5 else "ispendactblocked"
    record[pending] = "Y" if rng.random() < 0.2 else "N"
    record["srcform"] = _weighted(rng, (("R1", 0.8), ("R1A", 0.1), ("IFF", 0.1)))
    record["rtnprd"] = f"{month:02d}{year}"
    record["srcfilstatus"] = "Filed" if rng.random() < 0.75 else "Not Filed"
    record["pos"] = pos
    for key in ("val", "txval", "iamt", "camt", "samt", "cess"):
        record[key] = amounts.money(getattr(amounts, key))
    record["hash"] = f"{rng.getrandbits(256):064x}"
    if rng.random() < 0.1:  # the newer fields
        _newer_fields(rng, record, amounts)
    roll = rng.random()
    if roll < 0.025:  # fields nobody has documented yet
        record["xtra_ref"] = f"XR-{rng.randrange(1_000_000):06d}"
    elif roll < 0.05:
        record["meta"] = {"src": rng.choice("xyz"), "n": rng.randint(1, 9)}
    return record


def ims_records(seed: int, gstin: str, section: str, count: int) -> list[dict[str, Any]]:
    """``count`` records of an IMS ``section`` (any case) for the taxpayer ``gstin``.

    Records are generated in sequence, so a longer list starts with the shorter one.
    """
    key = section.lower()
    rng = _rng(seed, gstin, key)
    state = _recipient_state(gstin)
    return [_ims_record(rng, key, state) for _ in range(count)]


def unknown_records(seed: int, gstin: str, section: str, count: int) -> list[dict[str, Any]]:
    """``count`` generic records of a section no one has documented (``impg``, ...)."""
    key = section.lower()
    rng = _rng(seed, gstin, key)
    records = []
    for _ in range(count):
        year = rng.choice(_YEARS)
        month = rng.randint(1, 12)
        amount = Decimal(rng.randint(100, 10_000_000)) / _HUNDRED
        records.append(
            {
                "stin": rng.choice(_SUPPLIERS),
                "refnum": f"{key.upper()}-{rng.randrange(100_000):05d}",
                "rtnprd": f"{month:02d}{year}",
                "action": rng.choice(_api.IMS_STATUSES),
                "amt": amount.quantize(_PAISE),
                "tax": _tax(amount, rng.choice(_RATES)),
                "hash": f"{rng.getrandbits(256):064x}",
            }
        )
    return records


def paginate(
    sections: Iterable[tuple[str, Sequence[dict[str, Any]]]], page_size: int
) -> list[dict[str, list[dict[str, Any]]]]:
    """Cut ``(section key, records)`` pairs into pages of at most ``page_size`` records.

    The records are taken in order, section after section; a page maps each section present
    on it to its records, in that order. No records give no pages.
    """
    pages: list[dict[str, list[dict[str, Any]]]] = []
    room = 0
    for key, records in sections:
        start = 0
        while start < len(records):
            if room == 0:
                pages.append({})
                room = page_size
            chunk = records[start : start + room]
            pages[-1].setdefault(key, []).extend(chunk)
            start += len(chunk)
            room -= len(chunk)
    return pages


#: The Y/N flags of IMS records, under every wire name (section 6).
FLAG_KEYS: Final = (
    "ispendactnallwd",
    "ispendactblocked",
    "isRemarksBlocked",
    "isItcRedReqBlocked",
    "itcRedReqBlocked",
    "itcRedReq",
)
#: The forms a flag may take on the wire, ``"mixed"`` cycling through them record by record.
_FLAG_FORMS: Final[tuple[dict[str, Any], ...]] = (
    {"Y": True, "N": False},
    {"Y": "y", "N": "n"},
    {"Y": "Y", "N": "N"},
    {"Y": "TRUE", "N": "false"},
)


def flags_as(records: list[dict[str, Any]], style: str) -> None:
    """Rewrite the records' ``"Y"``/``"N"`` flags in place: ``"boolean"`` or ``"mixed"``."""
    for i, record in enumerate(records):
        form = _FLAG_FORMS[0] if style == "boolean" else _FLAG_FORMS[i % len(_FLAG_FORMS)]
        for key in FLAG_KEYS:
            value = record.get(key)
            if isinstance(value, str) and value in form:
                record[key] = form[value]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def copy_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deep copies of ``records`` (Decimals and strings are immutable and shared)."""
    return [_copy(r) for r in records]
