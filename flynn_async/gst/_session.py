"""A taxpayer's GST (OTP) session and the OTP request that leads to it: values only."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from flynn_async._core._secrets import Secret
from flynn_async._http import _api

__all__ = ["GstSession", "OtpRequest"]


@attrs.frozen
class OtpRequest:
    """An OTP sent to the taxpayer's registered mobile; pass it to :meth:`GstApi.verify_otp`."""

    gstin: str
    username: str
    request_id: Secret = attrs.field(repr=False)
    requested_at: datetime


@attrs.frozen
class GstSession:
    """A taxpayer's live GST session (the session id is a secret and never shown)."""

    gstin: str
    username: str
    session_id: Secret = attrs.field(repr=False)
    created_at: datetime

    @property
    def expires_at(self) -> datetime:
        """When the portal will drop the session unless it is refreshed (about 6 hours)."""
        return self.created_at + timedelta(seconds=_api.GST_SESSION_SECONDS)

    def headers(self) -> dict[str, str]:
        """The GSTN headers carrying this session (names from the one table)."""
        h = _api.GSTN_HEADERS
        return {
            h["gstin"]: self.gstin,
            h["username"]: self.username,
            h["session_id"]: self.session_id.reveal(),
            h["gsp_code"]: _api.GSP_CODE,
        }
