"""The task engine's values: a task's state, one status answer, progress reports."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["Phase", "Progress", "TaskState", "TaskStatus"]


class TaskState(enum.Enum):
    """Where a long-running task stands."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@attrs.frozen
class TaskStatus:
    """One answer of the status route: the raw ``status`` text and what it means."""

    task_id: str
    status: str
    state: TaskState
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def done(self) -> bool:
        """True once the task will not change any more (completed or failed)."""
        return self.state is not TaskState.PENDING


Phase = Literal["submitted", "waiting", "fetching", "done"]


@attrs.frozen
class Progress:
    """A progress report: ``phase`` and, while fetching, pages done out of the total.

    ``section`` names the IMS section when the task belongs to a section download.
    """

    task_id: str
    phase: Phase
    pages_done: int = 0
    pages_total: int | None = None
    polls: int = 0
    section: str | None = None
