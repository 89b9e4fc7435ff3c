"""Acting on IMS invoices: counts, decisions, save, reset and request status.

::

    from flynn_async.ims import ItcReduction

    counts = await client.ims.counts(session)            # a snapshot, one read-only call
    invoices = await client.ims.download_all(session, skip_empty=True)
    decisions = [invoices.decide(r, "A") for r in invoices.b2b]
    decisions.append(invoices.decide(note, "A", itc_reduction=ItcReduction.full_reversal()))
    result = await client.ims.save(session, decisions)    # every rule checked first
    for error in result.errors:
        print(error.section, error.number, error.code, error.advice)

Every decision is checked against the rules table (:data:`RULES`) before any request;
:class:`~flynn_async.InvalidDecisions` lists every problem at once. See ``docs/actions.md``.
"""

from ._errors import ImsOutcomeUnknown, InvalidDecisions
from ._ims_actions import (
    ADVICE,
    ImsActionResult,
    ImsDecision,
    ImsRecordError,
    ImsRequestStatus,
    ItcReduction,
)
from ._ims_counts import ImsCounts, SectionCounts
from ._ims_imports import ImsImport
from ._ims_rules import RULES, DecisionProblem, Rule

__all__ = [
    "ADVICE",
    "RULES",
    "DecisionProblem",
    "ImsActionResult",
    "ImsCounts",
    "ImsDecision",
    "ImsImport",
    "ImsOutcomeUnknown",
    "ImsRecordError",
    "ImsRequestStatus",
    "InvalidDecisions",
    "ItcReduction",
    "Rule",
    "SectionCounts",
]
