"""The simulator's e-invoice route, checked with a raw aiohttp client over loopback sockets.

Signatures are checked here with ``cryptography`` directly, not with the client's code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
import yarl
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from flynn_async._http import _api
from flynn_async.testing import (
    SIM_EINVOICE_ISSUER,
    USER_HANDLE,
    USER_PASSWORD,
    EInvoiceSettings,
    FlynnSimulator,
    SimEInvoice,
    SimulatorConfig,
    sample_einvoices,
)

from .conftest import Clock

IRP = _api.IRP_HEADERS
SEED_PATH = Path(__file__).parent.parent / "data" / "einvoice_seed.json"
SEED_QUERY = {"doctype": "INV", "docnum": "RAMIRNINA199", "docdate": "21/06/2021"}


async def login(http: aiohttp.ClientSession, sim: FlynnSimulator) -> str:
    body = {"handle": USER_HANDLE, "handleType": "email", "password": USER_PASSWORD}
    async with http.post(sim.login_url + _api.LOGIN_ROUTE, json=body) as response:
        assert 200 == response.status
        value: str = (await response.json())["data"]["token"]
    return value


@pytest.fixture
async def token(http: aiohttp.ClientSession, sim: FlynnSimulator) -> str:
    return await login(http, sim)


def url(sim: FlynnSimulator, irp: str = "ni1", version: str = "v1.03") -> str:
    route = _api.EINVOICE_ROUTE.format(flynn=_api.EINVOICE_FLYNN_VERSION, irp=irp, version=version)
    return sim.base_url + route


def headers(sim: FlynnSimulator, token: str, **changes: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        _api.HEADER_ORG_ID: sim.org_id,
        _api.HEADER_USER_TOKEN: token,
        "accept": _api.ACCEPT_JSON,
        IRP["gsp_code"]: _api.GSP_CODE,
        IRP["gstin"]: sim.gstin,
        IRP["username"]: "api-user",
        IRP["password"]: "irp-password",
    }
    values.update({IRP.get(k, k): v for k, v in changes.items()})
    return {k: v for k, v in values.items() if v is not None}


async def lookup(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    *,
    query: dict[str, str] | None = None,
    target: str | yarl.URL | None = None,
    **header_changes: str | None,
) -> tuple[int, Any]:
    return await lookup_with(http, sim, token, header_changes, query=query, target=target)


async def lookup_with(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    header_changes: Mapping[str, str | None],
    *,
    query: dict[str, str] | None = None,
    target: str | yarl.URL | None = None,
) -> tuple[int, Any]:
    async with http.get(
        target or url(sim),
        params=query if query is not None else SEED_QUERY,
        headers=headers(sim, token, **header_changes),
    ) as response:
        assert "application/json" == response.content_type
        return response.status, json.loads(await response.text(), parse_float=Decimal)


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_signature(token: str, key: RSAPublicKey) -> None:
    head, payload, signature = token.split(".")
    key.verify(b64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())


def claims(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64(token.split(".")[1]), parse_float=Decimal)
    return value


# ------------------------------------------------------------------------------------------
# A found document
# ------------------------------------------------------------------------------------------


async def test_the_answer_has_the_seed_shape(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    status, body = await lookup(http, sim, token)
    assert 200 == status
    seed = json.loads(SEED_PATH.read_text(), parse_float=Decimal)
    assert list(seed) == list(body)
    assert list(seed["data"]) == list(body["data"])
    assert seed["data"]["Irn"] == body["data"]["Irn"]
    assert seed["data"]["AckNo"] == body["data"]["AckNo"]  # a string outside the token
    assert seed["data"]["AckDt"] == body["data"]["AckDt"]  # rounded to the minute
    assert 661010233323 == body["data"]["EwbNo"]
    assert 1 == sim.calls["einvoice"]


async def test_the_signed_invoice_is_the_seed_invoice(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    _, body = await lookup(http, sim, token)
    seed = json.loads(SEED_PATH.read_text(), parse_float=Decimal)["data"]
    ours = json.loads(claims(body["data"]["SignedInvoice"])["data"], parse_float=Decimal)
    theirs = json.loads(claims(seed["SignedInvoice"])["data"], parse_float=Decimal)
    assert theirs == ours
    ours_qr = json.loads(claims(body["data"]["SignedQRCode"])["data"], parse_float=Decimal)
    theirs_qr = json.loads(claims(seed["SignedQRCode"])["data"], parse_float=Decimal)
    assert theirs_qr == ours_qr


async def test_tokens_verify_with_the_published_key_and_certificate(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    _, body = await lookup(http, sim, token)
    public = serialization.load_pem_public_key(sim.einvoice.public_key_pem.encode())
    certificate = x509.load_pem_x509_certificate(sim.einvoice.certificate_pem.encode())
    assert isinstance(public, RSAPublicKey)
    from_cert = certificate.public_key()
    assert isinstance(from_cert, RSAPublicKey)
    thumbprint = certificate.fingerprint(hashes.SHA1())
    for name in ("SignedInvoice", "SignedQRCode"):
        jwt = body["data"][name]
        check_signature(jwt, public)
        check_signature(jwt, from_cert)
        header = json.loads(b64(jwt.split(".")[0]))
        assert {
            "alg": "RS256",
            "kid": thumbprint.hex().upper(),
            "typ": "JWT",
        }.items() <= header.items()
        assert thumbprint == b64(header["x5t"])
        assert SIM_EINVOICE_ISSUER == claims(jwt)["iss"]
        assert isinstance(claims(jwt)["data"], str)


@pytest.mark.parametrize("shape", ["details", "irp-err"])
async def test_tampering_breaks_the_signature(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, shape: Any
) -> None:
    sim.config = sim.config.replace(
        einvoice=attrs.evolve(sim.config.einvoice, tamper=True, error_shape=shape)
    )
    _, body = await lookup(http, sim, token)
    public = serialization.load_pem_public_key(sim.einvoice.public_key_pem.encode())
    assert isinstance(public, RSAPublicKey)
    with pytest.raises(InvalidSignature):
        check_signature(body["data"]["SignedInvoice"], public)


async def test_the_answer_time_is_rounded_the_signed_one_is_not(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    query = {"doctype": "CRN", "docnum": "CRN/2024/0042", "docdate": "15/05/2024"}
    _, body = await lookup(http, sim, token, query=query)
    signed = json.loads(claims(body["data"]["SignedInvoice"])["data"])["AckDt"]
    assert body["data"]["AckDt"].endswith(":00")
    assert signed[:14] == body["data"]["AckDt"][:14]
    qr = json.loads(claims(body["data"]["SignedQRCode"])["data"])
    assert signed == qr["IrnDt"]
    assert (
        str(json.loads(claims(body["data"]["SignedInvoice"])["data"])["AckNo"])
        == body["data"]["AckNo"]
    )


async def test_a_percent_encoded_number_is_understood(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    raw = yarl.URL(
        url(sim) + "?doctype=CRN&docnum=CRN%2F2024%2F0042&docdate=15%2F05%2F2024", encoded=True
    )
    async with http.get(raw, headers=headers(sim, token)) as response:
        assert 200 == response.status
    assert "CRN/2024/0042" == sim.einvoice.requests[-1].doc_number


async def test_documents_can_be_given(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    (seed, *_) = sample_einvoices("27AAPFU0939F1ZV")
    sim.config = sim.config.replace(
        einvoice=attrs.evolve(sim.config.einvoice, documents=[SimEInvoice(invoice=seed.invoice)])
    )
    status, _ = await lookup(http, sim, token)
    assert 502 == status  # the default taxpayer's documents are gone
    status, body = await lookup(http, sim, token, gstin="27AAPFU0939F1ZV")
    assert 200 == status
    assert seed.computed_irn() == body["data"]["Irn"]


# ------------------------------------------------------------------------------------------
# Portal errors
# ------------------------------------------------------------------------------------------


async def test_unknown_documents_are_2154(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    status, body = await lookup(http, sim, token, query={**SEED_QUERY, "docnum": "NOPE1"})
    assert 502 == status
    assert {
        "message": _api.ERR_IRP,
        "type": "Irp",
        "args": {"details": [{"ErrorCode": "2154", "ErrorMessage": "IRN details are not found"}]},
    } == body["error"]
    assert "0" == body["status"]


async def test_the_older_error_shape(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str
) -> None:
    sim.config = sim.config.replace(
        einvoice=attrs.evolve(sim.config.einvoice, error_code="2150", error_shape="irp-err")
    )
    status, body = await lookup(http, sim, token)
    assert 502 == status
    legacy = {"errorcode": "2150", "errormessage": "duplicate IRN"}
    assert {"irp-err": {"details": [legacy]}} == body["error"]["args"]


async def test_sessions_need_the_password_and_last_six_hours(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, clock: Clock
) -> None:
    status, body = await lookup(http, sim, token, password=None)
    assert _api.ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS == status
    assert _api.ERR_IRP_EMPTY_PASSWORD == body["error"]["message"]
    assert 200 == (await lookup(http, sim, token))[0]
    clock.now += _api.IRP_SESSION_SECONDS - 1
    token = await login(http, sim)  # the login token has long expired
    assert 200 == (await lookup(http, sim, token, password=None))[0]
    clock.now += 1
    status, _ = await lookup(http, sim, token, password=None)
    assert _api.ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS == status
    # A session belongs to one GSTIN and username.
    assert 200 == (await lookup(http, sim, token))[0]
    status, _ = await lookup(http, sim, token, password=None, username="someone-else")
    assert _api.ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS == status


# ------------------------------------------------------------------------------------------
# Header and query checks
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message", "where"),
    [
        ({"gsp_code": None}, _api.ERR_INVALID_BODY, [IRP["gsp_code"]]),
        ({"gsp_code": "abc"}, _api.ERR_INVALID_BODY, [IRP["gsp_code"]]),
        ({"username": None}, _api.ERR_INVALID_BODY, [IRP["username"]]),
        ({"username": " "}, _api.ERR_INVALID_BODY, [IRP["username"]]),
        ({"password": ""}, _api.ERR_INVALID_BODY, [IRP["password"]]),
        ({"interop": "NIC3"}, _api.ERR_INVALID_BODY, [IRP["interop"]]),
        ({"gstin": "24aaapi3182m002"}, _api.ERR_INVALID_GSTIN, None),
        ({"gstin": None}, _api.ERR_INVALID_GSTIN, None),
    ],
)
async def test_irp_headers_are_checked(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    changes: dict[str, str | None],
    message: str,
    where: list[str] | None,
) -> None:
    status, body = await lookup_with(http, sim, token, changes)
    assert 400 == status
    assert message == body["error"]["message"]
    if where is not None:
        assert where == body["error"]["args"][_api.ERR_ARG_ERROR_LOCATION]
    else:
        assert IRP["gstin"] == body["error"]["args"][_api.ERR_ARG_PARAMETER_NAME]


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({_api.HEADER_USER_TOKEN: "nope"}, 403, _api.ERR_INVALID_TOKEN),
        ({_api.HEADER_ORG_ID: "nope"}, 403, _api.ERR_INVALID_ORG),
        ({"accept": "text/html"}, 400, _api.ERR_INVALID_BODY),
    ],
)
async def test_the_common_headers_are_checked(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    changes: dict[str, str],
    status: int,
    message: str,
) -> None:
    got, body = await lookup_with(http, sim, token, changes)
    assert status == got
    assert message == body["error"]["message"]
    assert [] == sim.einvoice.requests  # refused before the portal is reached


@pytest.mark.parametrize(
    ("query", "irp", "where"),
    [
        ({**SEED_QUERY, "doctype": "BILL"}, "ni1", ["doctype"]),
        ({**SEED_QUERY, "docnum": "0RAM"}, "ni1", ["docnum"]),
        ({**SEED_QUERY, "docnum": "A" * 17}, "ni1", ["docnum"]),
        ({**SEED_QUERY, "docdate": "2021-06-21"}, "ni1", ["docdate"]),
        ({**SEED_QUERY, "docdate": "31/02/2021"}, "ni1", ["docdate"]),
        ({"doctype": "INV"}, "ni1", ["docnum", "docdate"]),
        (SEED_QUERY, "nic", ["irp"]),
    ],
)
async def test_the_query_and_path_are_checked(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    query: dict[str, str],
    irp: str,
    where: list[str],
) -> None:
    status, body = await lookup(http, sim, token, query=query, target=url(sim, irp=irp))
    assert 400 == status
    assert where == body["error"]["args"][_api.ERR_ARG_ERROR_LOCATION]


def test_config_checks_the_error_shape() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - attrs' message
        SimulatorConfig(einvoice=EInvoiceSettings(error_shape="other"))  # type: ignore[arg-type]
    config = SimulatorConfig(einvoice=EInvoiceSettings(documents=[]))
    assert () == config.einvoice.documents
    hash(config)  # the documents are left out of the hash
