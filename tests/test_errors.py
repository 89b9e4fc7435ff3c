"""Every public error crosses a process: pickled and loaded back with the same type, text,
args, attributes and notes; a ``PagesMissing`` raised in a process pool arrives as itself."""

from __future__ import annotations

import copy
import inspect
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import flynn_async
from flynn_async import (
    BatchError,
    FlynnError,
    GstSession,
    GstSessionExpired,
    PagesMissing,
    Secret,
    TaskFailed,
)
from flynn_async._core._errors import note_task_ids
from flynn_async.batch import DownloadJob, JobResult, JobState
from flynn_async.einvoice import IrpErrorDetail

MARKER = "SECRET-MARKER-5f2a"


def public_errors() -> list[type[BaseException]]:
    """Every exception class ``flynn_async`` exports (new ones are covered as they come)."""
    found = [
        value
        for name in flynn_async.__all__
        if inspect.isclass(value := getattr(flynn_async, name)) and issubclass(value, BaseException)
    ]
    assert FlynnError in found
    return found


#: Keyword arguments each error type needs beyond the message (filled in by its base class).
EXTRA: dict[str, dict[str, Any]] = {
    "ApiError": {"http_status": 403, "code": "err-x", "type": "t", "args": {"field": "gstin"}},
    "GstError": {"portal_code": "AUTH4033"},
    "IrpError": {"details": [IrpErrorDetail("2154", "not found")]},
    "EInvoiceMismatch": {"differences": ["irn"]},
    "SignatureError": {"kid": "k1"},
    "TaskFailed": {"status": "failed"},
    "PagesMissing": {"missing": [3, 4]},
    "GstSessionMissing": {"gstin": "24AAAPI3182M002"},
    "ManifestError": {"path": Path("/tmp/m.json")},
    "InvalidDecisions": {"problems": ["rule 2: pending is not allowed"]},
    "ImsOutcomeUnknown": {"gstin": "24AAAPI3182M002", "kind": "save", "reference_ids": ["r-1"]},
}


def make(cls: type[BaseException]) -> BaseException:
    if cls is BatchError:
        job = DownloadJob(GstSession("24AAAPI3182M002", "u", Secret(MARKER), opened_at()), key="k")
        error = TaskFailed("ended", status="failed", task_id="t-1")
        failure = JobResult("k", "24AAAPI3182M002", job, JobState.FAILED, error=error)
        return BatchError("1 of 1 batch jobs failed", [failure])
    kwargs: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        kwargs.update(EXTRA.get(base.__name__, {}))
    if issubclass(cls, FlynnError) and "gstin" not in kwargs and "path" not in kwargs:
        kwargs.update(route="/r/{x}", task_id="t-9", page=2)
    return cls("it went wrong", **kwargs)


def opened_at() -> datetime:
    return datetime(2026, 12, 6, tzinfo=UTC)


def public_state(error: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(error).items() if not k.startswith("_")}


@pytest.mark.parametrize("cls", public_errors(), ids=lambda c: c.__name__)
def test_every_public_error_pickles_and_loads_back(cls: type[BaseException]) -> None:
    error = make(cls)
    error.add_note("IMS B2B task id: t-1")
    note_task_ids(error, {"B2BCN": "t-2"})
    data = pickle.dumps(error)
    again = pickle.loads(data)
    assert type(again) is cls
    assert str(again) == str(error)
    assert repr(again) == repr(error)
    assert again.args == error.args
    assert again.__notes__ == error.__notes__
    assert getattr(again, "task_ids", None) == {"B2BCN": "t-2"}
    if cls is not BatchError:
        assert public_state(again) == public_state(error)
    assert MARKER.encode() not in data


def test_a_pickled_batch_error_keeps_the_jobs_but_not_their_sessions() -> None:
    error = make(BatchError)
    assert isinstance(error, BatchError)
    data = pickle.dumps(error)
    assert MARKER.encode() not in data
    again = pickle.loads(data)
    assert isinstance(again, BatchError)
    (failure,) = again.failures
    assert isinstance(failure, JobResult)
    assert failure.job.taxpayer == "24AAAPI3182M002"  # the GSTIN instead of the session
    assert failure.key == "k"
    assert isinstance(failure.error, TaskFailed)
    assert failure.error.task_id == "t-1"
    assert [type(e) for e in again.exceptions] == [TaskFailed]


def test_a_secret_refuses_to_be_pickled_but_copies() -> None:
    secret = Secret(MARKER)
    with pytest.raises(TypeError, match="cannot be pickled") as raised:
        pickle.dumps(secret)
    assert MARKER not in str(raised.value)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(GstSession("24AAAPI3182M002", "u", secret, opened_at()))
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"s": secret})["s"] is secret


def _lose_pages(task_id: str) -> None:
    error = PagesMissing(
        "page 3 could not be fetched", missing=[3, 4], task_id=task_id, page=3, route="/p"
    )
    note_task_ids(error, {"B2B": task_id})
    raise error


def test_pages_missing_in_a_process_pool_arrives_as_itself() -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_lose_pages, "t-77")
        with pytest.raises(PagesMissing) as raised:
            future.result(timeout=60)
    error = raised.value
    assert error.missing == (3, 4)
    assert error.task_id == "t-77"
    assert error.page == 3
    assert "IMS B2B task id: t-77" in error.__notes__
    assert getattr(error, "task_ids", None) == {"B2B": "t-77"}


def test_task_ids_are_noted_once_and_merged() -> None:
    error = GstSessionExpired("gone", http_status=403, code="c")
    note_task_ids(error, {"B2B": "a"})
    note_task_ids(error, {"B2B": "a", "ECOMA": "b"})
    assert error.__notes__ == ["IMS B2B task id: a", "IMS ECOMA task id: b"]
    assert getattr(error, "task_ids", None) == {"B2B": "a", "ECOMA": "b"}
