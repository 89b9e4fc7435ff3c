"""Login credentials for the Flynn login service."""

from __future__ import annotations

from typing import Literal

import attrs

from flynn_async._core import _validate
from flynn_async._core._errors import InvalidInput
from flynn_async._core._secrets import Secret

from . import _api

HandleType = Literal["email", "mobile"]


def _to_secret(value: str | Secret) -> Secret:
    return Secret(value)


@attrs.frozen(init=False)
class Credentials:
    """Who logs in: a Flynn user's handle and password.

    ``handle`` is the e-mail address or mobile number (``handle_type`` says which),
    ``org_id`` the organisation to act for (default: the user's primary organisation, or the
    only one), ``token_minutes`` the login token's lifetime (1 to 360; the client refreshes it
    before it ends). The password is held as a :class:`~flynn_async.Secret` and never shown in
    ``repr``.
    """

    handle: str
    password: Secret
    org_id: str | None
    handle_type: HandleType
    token_minutes: int

    def __init__(
        self,
        handle: str,
        password: str | Secret,
        *,
        org_id: str | None = None,
        handle_type: HandleType = "email",
        token_minutes: int = _api.TOKEN_MINUTES_DEFAULT,
    ) -> None:
        _validate.text(handle, "handle")
        if not isinstance(password, str | Secret) or not password:
            raise InvalidInput("password must be a non-empty str")
        if handle_type not in ("email", "mobile"):
            raise InvalidInput(f"handle_type must be 'email' or 'mobile', got {handle_type!r}")
        if org_id is not None:
            _validate.text(org_id, "org_id")
        _validate.positive_int(
            token_minutes, "token_minutes", minimum=1, maximum=_api.TOKEN_MINUTES_MAX
        )
        self.__attrs_init__(handle, _to_secret(password), org_id, handle_type, token_minutes)
