"""IMS decisions: what to do with one downloaded record, and the ITC-reduction declaration.

Plain values with no dependency on the calls or the rules table (``_rules`` checks them,
``_actions`` sends them); ``flag_set`` reads the portal's Y/N flags in either form.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from flynn_async._core._errors import InvalidInput
from flynn_async._http import _api

from ._models import ImsRecord

CallKind = Literal["save", "reset"]


def flag_set(value: Any) -> bool:
    """A flag is set when it is ``"Y"`` (any case; ``"true"`` too) or JSON ``true``."""
    if value is True:
        return True
    return isinstance(value, str) and value.strip().upper() in ("Y", "TRUE")


_DECL_KEYS: Final = ("declIgst", "declCgst", "declSgst", "declCess")
_ZERO: Final = Decimal(0)


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidInput(f"{name} must be a Decimal (or an int), not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidInput(f"{name} must be a finite amount, got {amount}")
    return amount


@attrs.frozen
class ItcReduction:
    """The ITC-reduction declaration that goes with accepting a specified record (rule 4).

    Make one with :meth:`full_reversal`, :meth:`partial_reversal` or :meth:`no_reversal`.
    Whether a declaration fits the record is checked by the rules at save time, not here.
    """

    kind: Literal["full", "partial", "none"]
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None

    @classmethod
    def full_reversal(cls) -> ItcReduction:
        """All the ITC is reversed (``itcRedReq`` ``Y``, no amounts)."""
        return cls("full")

    @classmethod
    def partial_reversal(
        cls, *, igst: Decimal | int, cgst: Decimal | int, sgst: Decimal | int, cess: Decimal | int
    ) -> ItcReduction:
        """The stated amounts are reversed (all four, ``Decimal``; zero allowed)."""
        return cls(
            "partial",
            _decimal(igst, "igst"),
            _decimal(cgst, "cgst"),
            _decimal(sgst, "sgst"),
            _decimal(cess, "cess"),
        )

    @classmethod
    def no_reversal(cls) -> ItcReduction:
        """Nothing is reversed: no ITC was claimed (``itcRedReq`` ``N``)."""
        return cls("none")

    def amounts(self) -> dict[str, Decimal]:
        """The partial amounts by wire name (zeros for a full or no reversal)."""
        values = (self.igst, self.cgst, self.sgst, self.cess)
        return {k: v if v is not None else _ZERO for k, v in zip(_DECL_KEYS, values, strict=True)}

    def wire(self) -> dict[str, Any]:
        """The body fields: ``itcRedReq`` and, for a partial reversal, ``decl*``."""
        if self.kind == "none":
            return {"itcRedReq": "N"}
        if self.kind == "full":
            return {"itcRedReq": "Y"}
        return {"itcRedReq": "Y", **self.amounts()}


def _wire_of(record: Any) -> Mapping[str, Any]:
    if isinstance(record, ImsRecord):
        return record.to_dict()
    if isinstance(record, Mapping):
        return record
    raise InvalidInput(f"record must be a downloaded IMS record, not {type(record).__name__}")


def _number(wire: Mapping[str, Any]) -> str:
    for key in ("inum", "nt_num", "boenum"):
        value = wire.get(key)
        if value is not None:
            return str(value)
    return ""


def _date(wire: Mapping[str, Any]) -> str:
    for key in ("idt", "nt_dt", "boedt"):
        value = wire.get(key)
        if value is not None:
            return str(value)
    return ""


def _supplier(wire: Mapping[str, Any]) -> str:
    value = wire.get("stin", wire.get("portcd"))
    return "" if value is None else str(value)


@attrs.frozen
class ImsDecision:
    """A decision on one downloaded record: accept, reject, keep pending, or reset.

    Make it with :meth:`ImsInvoices.decide` (which knows the recipient GSTIN and the record's
    section). ``action`` is ``A``, ``R`` or ``P`` for a save and ``N`` for a reset;
    ``declaration`` is an :class:`ItcReduction`. Constructing a decision never raises for a
    rule: the rules are checked, all at once, by ``save`` and ``reset``.
    """

    recipient_gstin: str
    section: str
    record: Any = attrs.field(repr=False)
    action: str
    remarks: str | None = None
    declaration: ItcReduction | None = None
    _wire: Mapping[str, Any] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_wire", _wire_of(self.record))

    @property
    def wire(self) -> Mapping[str, Any]:
        """The record as downloaded, under its wire names."""
        return self._wire

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """Section, supplier, document number and date: what makes the record one record."""
        wire = self._wire
        return (self.section, _supplier(wire), _number(wire), _date(wire))

    @property
    def match_key(self) -> tuple[str, str, str, str]:
        """Section, supplier, number and period: how the portal's error report names it."""
        wire = self._wire
        return (self.section, _supplier(wire), _number(wire), str(wire.get("rtnprd", "")))

    def describe(self) -> str:
        """``b2b 24AAA... INV/1 (01-04-2025) -> A``: for messages."""
        section, supplier, number, day = self.identity
        return f"{section} {supplier} {number} ({day}) -> {self.action}"

    def matches_record(self) -> bool:
        """Do the action, remarks and declaration already match the record as downloaded?"""
        wire = self._wire
        if wire.get("action") != self.action:
            return False
        if self.action == _api.IMS_RESET_ACTION:
            return True
        if (wire.get("remarks") or None) != self.remarks:
            return False
        sent = self.declaration.wire() if self.declaration is not None else {}
        had_flag = wire.get("itcRedReq")
        had: dict[str, Any] = {}
        if had_flag is not None:
            had["itcRedReq"] = "Y" if flag_set(had_flag) else "N"
            for key in _DECL_KEYS:
                if wire.get(key) is not None:
                    had[key] = Decimal(str(wire[key]))
        if sent.get("itcRedReq") == "Y" and len(sent) > 1:
            return had == sent
        return had.get("itcRedReq") == sent.get("itcRedReq") and not any(
            k in had for k in _DECL_KEYS
        )

    def body_record(self, kind: CallKind) -> dict[str, Any]:
        """The record as it goes in a save or reset body (fields from the download only)."""
        wire = self._wire
        imports = self.section in _api.IMS_IMPORT_SECTIONS
        fields = _api.IMS_BODY_IMPORT_FIELDS if imports else _api.IMS_BODY_RECORD_FIELDS
        out: dict[str, Any] = {}
        for key in fields:
            value = wire.get(key)
            if value is None:
                continue
            if key in _api.IMS_BODY_AMOUNTS and not isinstance(value, bool):
                value = abs(value) if isinstance(value, Decimal | int) else value
            out[key] = value
        if kind == "save":
            out["action"] = self.action
        out["prev_status"] = wire.get("action")
        if kind == "save":
            if self.remarks is not None:
                out["remarks"] = self.remarks
            if self.declaration is not None:
                out.update(self.declaration.wire())
        return out
