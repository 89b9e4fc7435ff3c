"""The IMS rules (flynn-api.md section 12): one table, with sources, and the checks.

Every save or reset is checked here before a single request: each request is billed, and the
portal rejects records (or the whole request) that break these rules. :func:`check` returns
every problem at once; nothing here raises for a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs

from flynn_async._http import _api

from ._decisions import CallKind, ImsDecision, flag_set

__all__ = ["RULES", "DecisionProblem", "Rule", "check", "flag_set", "is_specified"]


@attrs.frozen
class Rule:
    """One IMS rule: its number in the table, what it says, why, and where it comes from."""

    number: int
    name: str
    text: str
    reason: str
    source: str


#: The one rules table (flynn-api.md section 12). Numbers are the section's.
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        1,
        "action",
        "a save sends A, R or P; a reset sends N (back to no action)",
        "'no action' is a reset, not a save",
        "GSTN save schema",
    ),
    Rule(
        2,
        "pending-blocked",
        "no P when ispendactblocked or ispendactnallwd is set",
        "the portal decides per record whether pending is allowed",
        "GSTN IMS rules; advisory 624",
    ),
    Rule(
        3,
        "import-reject",
        "no R on impg, impga, impgsez, impgseza",
        "imports allow Accept or Pending only",
        "GSTN advisory of Oct 2025",
    ),
    Rule(
        4,
        "specified-declaration",
        "A on a specified record (b2bcn, b2bcna from the October 2025 period) carries a "
        "declaration (itcRedReq); none when isItcRedReqBlocked/itcRedReqBlocked is set",
        "the portal refuses the Accept without it (IMSSAV0054)",
        "advisory 624; portal errors since 2026",
    ),
    Rule(
        5,
        "declaration-shape",
        "a declaration only on the Accept of a specified record; full, partial (declCgst "
        "equal to declSgst, each at most the record's amount, none negative) or none",
        "the portal reads missing decl* as a full reversal",
        "advisory 624",
    ),
    Rule(
        6,
        "remarks",
        f"remarks only with R or P, at most {_api.IMS_REMARKS_MAX} characters, never when "
        "isRemarksBlocked is set",
        "what the portal's own offline tool allows",
        "GSTN offline utility",
    ),
    Rule(
        7,
        "one-per-record",
        "one decision per record in a request (section + supplier + number + date)",
        "two actions on one record contradict each other",
        "client rule",
    ),
    Rule(
        8,
        "recipient",
        "the decision's recipient GSTIN is the session's; the record comes from its download, "
        "with its action as downloaded; the section is one of the domestic or import sections",
        "a taxpayer acts only on records addressed to it",
        "GSTN API",
    ),
)
_BY_NUMBER: Final = {rule.number: rule for rule in RULES}
#: Rules about the request as a whole, checked even for decisions that are not sent.
_REQUEST_RULES: Final = frozenset({1, 7, 8})


@attrs.frozen
class DecisionProblem:
    """A decision that breaks a rule: the decision, the rule, and what is wrong."""

    decision: ImsDecision = attrs.field(repr=False)
    rule: Rule
    message: str

    def __str__(self) -> str:
        return f"{self.decision.describe()}: rule {self.rule.number} ({self.rule.name}): " + (
            self.message
        )


_DOMESTIC: Final = frozenset(s.lower() for s in _api.IMS_SECTIONS)
_IMPORTS: Final = frozenset(_api.IMS_IMPORT_SECTIONS)


def _period(text: Any) -> tuple[int, int] | None:
    if not isinstance(text, str) or len(text) != 6 or not text.isdigit():
        return None
    return int(text[2:]), int(text[:2])  # year then month: MMYYYY strings do not sort


def is_specified(section: str, wire: Mapping[str, Any]) -> bool:
    """Is the record a "specified record" of rule 4 (sections and first period in ``_api``)?"""
    if section not in _api.IMS_SPECIFIED_SECTIONS:
        return False
    period = _period(wire.get("rtnprd"))
    return period is not None and period >= _api.IMS_SPECIFIED_FROM


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None


def check(
    decisions: Iterable[ImsDecision], *, call: CallKind, gstin: str
) -> tuple[list[ImsDecision], list[ImsDecision], list[DecisionProblem]]:
    """Check every decision; returns ``(to_send, unchanged, problems)``.

    ``to_send`` and ``unchanged`` are empty of meaning when ``problems`` is not empty: the
    caller refuses the whole request then.
    """
    problems: list[DecisionProblem] = []
    to_send: list[ImsDecision] = []
    unchanged: list[ImsDecision] = []
    seen: dict[tuple[str, ...], ImsDecision] = {}
    for decision in decisions:
        found = _check_one(decision, call=call, gstin=gstin)
        identity = decision.identity
        if identity in seen:
            found.append(
                (7, f"a second decision for this record in one request ({seen[identity].action})")
            )
        else:
            seen[identity] = decision
        same = decision.matches_record()
        if same:  # not sent: only the rules about the request itself apply
            found = [(n, m) for n, m in found if n in _REQUEST_RULES]
        for number, message in found:
            problems.append(DecisionProblem(decision, _BY_NUMBER[number], message))
        if found:
            continue
        (unchanged if same else to_send).append(decision)
    return to_send, unchanged, problems


_Found = list[tuple[int, str]]
"""Broken rules, by number, each with what is wrong."""


def _check_one(decision: ImsDecision, *, call: CallKind, gstin: str) -> _Found:
    """Every rule ``decision`` breaks, in rule order (1, 8, 2, 3, 4 and 5, 6)."""
    return [
        *_rule_call(decision, call),
        *_rule_origin(decision, gstin),
        *_rules_pending_and_imports(decision),
        *_rules_declaration(decision),
        *_rule_remarks(decision),
    ]


def _rule_call(decision: ImsDecision, call: CallKind) -> _Found:
    """Rule 1: the action fits the call."""
    action = decision.action
    if call == "save" and action not in _api.IMS_SAVE_ACTIONS:
        return [(1, f"a save sends A, R or P, not {action!r} (use reset for N)")]
    if call == "reset" and action != _api.IMS_RESET_ACTION:
        return [(1, f"a reset sends N, not {action!r} (use save)")]
    return []


def _rule_origin(decision: ImsDecision, gstin: str) -> _Found:
    """Rule 8: whose record, from which download, which section."""
    found: _Found = []
    section = decision.section
    wire = decision.wire
    if decision.recipient_gstin != gstin:
        found.append(
            (8, f"recipient {decision.recipient_gstin} is not the session's GSTIN {gstin}")
        )
    if section not in _DOMESTIC and section not in _IMPORTS:
        found.append((8, f"{section!r} is not an IMS section that takes actions"))
    if not isinstance(wire.get("action"), str) or wire.get("action") not in _api.IMS_STATUSES:
        found.append((8, "the record has no action from its download (prev_status unknown)"))
    return found


def _rules_pending_and_imports(decision: ImsDecision) -> _Found:
    """Rule 2: pending blocked (the newer flag's name wins when both are sent); rule 3: no
    reject on imports."""
    found: _Found = []
    action = decision.action
    wire = decision.wire
    if action == "P":
        newer = wire.get("ispendactblocked")
        blocked = newer if newer is not None else wire.get("ispendactnallwd")
        if flag_set(blocked):
            found.append((2, "pending is not allowed on this record (its pending flag is set)"))
    if action == "R" and decision.section in _IMPORTS:
        found.append((3, f"reject is not allowed on an import record ({decision.section})"))
    return found


def _rules_declaration(decision: ImsDecision) -> _Found:
    """Rules 4 and 5: the declaration, when it is needed, allowed, and what it may say."""
    found: _Found = []
    declaration = decision.declaration
    wire = decision.wire
    specified = is_specified(decision.section, wire)
    other = wire.get("itcRedReqBlocked")
    decl_blocked = flag_set(other if other is not None else wire.get("isItcRedReqBlocked"))
    if decision.action == "A" and specified:
        if decl_blocked and declaration is not None:
            found.append((4, "this record takes no declaration (its declaration flag is set)"))
        elif not decl_blocked and declaration is None:
            found.append(
                (
                    4,
                    f"accepting specified record {decision.describe()} needs an ITC-reduction "
                    "declaration (full, partial or none)",
                )
            )
    elif declaration is not None:
        found.append((5, "a declaration goes only with the Accept of a specified record"))
    if declaration is not None and declaration.kind == "partial":
        found += _rule_partial_amounts(declaration.amounts(), wire)
    return found


def _rule_partial_amounts(amounts: Mapping[str, Decimal], wire: Mapping[str, Any]) -> _Found:
    """Rule 5 for a partial declaration: CGST equals SGST, each amount within the record's."""
    found: _Found = []
    if amounts["declCgst"] != amounts["declSgst"]:
        found.append((5, "a partial declaration's CGST must equal its SGST"))
    for key, limit_key in (
        ("declIgst", "iamt"),
        ("declCgst", "camt"),
        ("declSgst", "samt"),
        ("declCess", "cess"),
    ):
        value = amounts[key]
        if value < 0:
            found.append((5, f"{key} is negative ({value})"))
            continue
        limit = _amount(wire.get(limit_key)) or Decimal(0)
        if value > limit:
            found.append((5, f"{key} {value} is more than the record's {limit_key} {limit}"))
    return found


def _rule_remarks(decision: ImsDecision) -> _Found:
    """Rule 6: remarks go only with reject or pending, within the limit, where not blocked."""
    remarks = decision.remarks
    if remarks is None:
        return []
    found: _Found = []
    if decision.action not in ("R", "P"):
        found.append((6, "remarks go only with reject or pending"))
    if len(remarks) > _api.IMS_REMARKS_MAX:
        found.append((6, f"remarks are {len(remarks)} characters, over the limit"))
    if flag_set(decision.wire.get("isRemarksBlocked")):
        found.append((6, "remarks are blocked on this record"))
    return found
