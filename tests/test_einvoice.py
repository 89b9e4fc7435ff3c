"""E-invoice lookups against the simulator over real loopback sockets, error mapping, the CLI.

The simulator signs with its own key (``sim.einvoice``); the client is given that key, its
certificate, or another key. Portal errors are made with the ``sim`` marker
(``einvoice=EInvoiceSettings(error_code=, error_shape=, tamper=, documents=)``).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flynn_async import (
    ApiError,
    EInvoiceMismatch,
    EInvoiceNotFound,
    FlynnClient,
    FlynnError,
    InvalidInput,
    IrpError,
    IrpPasswordRequired,
    NotFound,
    ResponseError,
    SignatureError,
)
from flynn_async._core._json import loads
from flynn_async._core._values import thaw
from flynn_async._http import _api
from flynn_async._http._envelope import api_error, irp_details
from flynn_async.cli._main import build_parser, main, run_einvoice_get
from flynn_async.einvoice import DocumentType, EInvoiceDetails, EInvoiceStatus, IrpCredentials
from flynn_async.testing import (
    EInvoiceSettings,
    FlynnSimulator,
    ShapeSettings,
    SimEInvoice,
    sample_einvoices,
)
from flynn_async.testing._einvoice_sim import SigningIdentity, make_identity
from tests.lazy import check_every_name_resolves, modules_imported

SEED = {"doc_type": "INV", "doc_number": "RAMIRNINA199", "doc_date": date(2021, 6, 21)}
SEED_IRN = "9a36c874d574eda42385fd2796463577dbd66692e3b28a5301c88a1fe9429b91"
IRP_PASSWORD = "irp-pw-never-shown"


@pytest.fixture(scope="module")
def other_identity() -> SigningIdentity:
    return make_identity("not the portal")


def irp_creds(sim: FlynnSimulator, *, password: str | None = IRP_PASSWORD) -> IrpCredentials:
    return IrpCredentials(sim.gstin, "api-user", password)


async def fetch(client: FlynnClient, sim: FlynnSimulator, **changes: Any) -> EInvoiceDetails:
    kwargs: dict[str, Any] = {"irp": "ni1", **SEED, "irp_credentials": irp_creds(sim)}
    kwargs.update(changes)
    return await client.einvoice.get_by_document(**kwargs)


# ------------------------------------------------------------------------------------------
# Found documents
# ------------------------------------------------------------------------------------------


async def test_a_found_document(sim: FlynnSimulator, client: FlynnClient) -> None:
    details = await fetch(client, sim)
    assert SEED_IRN == details.irn
    assert 162310048427387 == details.ack_number
    assert EInvoiceStatus.ACTIVE == details.status
    assert "24AAAPI3182M002" == details.invoice.seller.gstin
    assert Decimal("32342.32") == details.invoice.value.total_invoice_value
    assert "34013090" == details.invoice.items[0].hsn_code
    assert sim.einvoice.kid == details.signed_invoice.kid
    assert "FlynnSimulator" == details.signed_invoice.issuer
    # The answer's time is rounded to the minute; the signed one is to the second.
    assert datetime(2023, 7, 6, 16, 43, tzinfo=details.signed_ack_date.tzinfo) == details.ack_date  # type: ignore[union-attr]
    assert "2023-07-06 16:42:38" == details.signed_invoice.data["AckDt"]
    assert not details.verified  # no key given: nothing verified
    assert not client.einvoice.verifies
    assert 1 == sim.calls["einvoice"]


async def test_the_simulated_seed_document_is_the_seed_invoice(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    seed_path = Path(__file__).parent / "data" / "einvoice_seed.json"
    seed = EInvoiceDetails.from_dict(loads(seed_path.read_bytes())["data"])
    details = await fetch(client, sim)
    assert seed.invoice == details.invoice
    assert seed.signed_invoice.data == details.signed_invoice.data


async def test_the_request_carries_the_documented_query_and_headers(
    sim: FlynnSimulator, make_client: Any
) -> None:
    client = await make_client(einvoice_api_version="v1.04")
    await fetch(client, sim, irp="NI2", interop="nic1", doc_type="inv")
    (request,) = sim.einvoice.requests
    assert "ni2" == request.irp
    assert "v1.04" == request.version
    assert "NIC1" == request.interop
    assert ("INV", "RAMIRNINA199", "21/06/2021") == (
        request.doc_type,
        request.doc_number,
        request.doc_date,
    )
    assert (sim.gstin, "api-user", True) == (request.gstin, request.username, request.password_sent)


async def test_a_slash_in_the_number_is_sent_percent_encoded(
    sim: FlynnSimulator, make_client: Any
) -> None:
    sent: list[str] = []

    async def on_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        sent.append(params.url.raw_query_string)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        client = await make_client(session=http)
        await fetch(
            client, sim, doc_type="CRN", doc_number="CRN/2024/0042", doc_date=date(2024, 5, 15)
        )
        await client.aclose()
    query = next(q for q in sent if "docnum" in q)
    assert "docnum=CRN%2F2024%2F0042" in query
    assert "docdate=15%2F05%2F2024" in query
    assert "CRN/2024/0042" == sim.einvoice.requests[-1].doc_number


async def test_a_number_with_slashes_in_lower_case(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    details = await fetch(
        client, sim, doc_type="CRN", doc_number="crn/2024/0042", doc_date=date(2024, 5, 15)
    )
    assert "crn/2024/0042" == sim.einvoice.requests[-1].doc_number
    assert DocumentType.CREDIT_NOTE == details.invoice.document.type
    assert "CRN/2024/0042" == details.invoice.document.number
    assert "12.000" == str(details.invoice.items[0].quantity)
    assert details.invoice.dispatch is not None
    assert details.invoice.ship_to is not None
    assert details.invoice.payment is not None
    assert 30 == details.invoice.payment.credit_days
    assert 2 == details.qr_code.item_count


async def test_a_cancelled_export_and_an_older_qr_code(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    export = await fetch(client, sim, doc_number="EXP-7", doc_date=date(2025, 1, 2))
    assert EInvoiceStatus.CANCELLED == export.status
    assert export.cancelled
    assert "Wrong buyer details" == export.remarks
    assert export.invoice.export is not None
    assert "USD" == export.invoice.export.foreign_currency
    assert export.invoice.items[0].batch is not None
    assert date(2026, 12, 31) == export.invoice.items[0].batch.expiry_date
    debit = await fetch(client, sim, doc_type="DBN", doc_number="DBN12", doc_date=date(2025, 3, 31))
    assert debit.qr_code.irn_date is None
    assert debit.ewb_number is None


@pytest.mark.sim(shapes=ShapeSettings(envelope="old"))
async def test_the_older_envelope(sim: FlynnSimulator, client: FlynnClient) -> None:
    assert SEED_IRN == (await fetch(client, sim)).irn


# ------------------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------------------

KEYS = {
    "public key": lambda sim: sim.einvoice.public_key_pem,
    "public key bytes": lambda sim: sim.einvoice.public_key_pem.encode(),
    "certificate": lambda sim: sim.einvoice.certificate_pem,
    "certificate bytes": lambda sim: sim.einvoice.certificate_pem.encode(),
    "mapping by kid": lambda sim: {sim.einvoice.kid: sim.einvoice.certificate_pem},
    "list of certificates": lambda sim: [sim.einvoice.certificate_pem],
}


@pytest.mark.parametrize("form", list(KEYS), ids=list(KEYS))
async def test_verified_with_the_portal_key(
    sim: FlynnSimulator, make_client: Any, form: str
) -> None:
    client = await make_client(einvoice_keys=KEYS[form](sim))
    assert client.einvoice.verifies
    details = await fetch(client, sim)
    assert details.verified


@pytest.mark.parametrize("form", ["public key", "certificate"])
async def test_another_key_fails(
    sim: FlynnSimulator, make_client: Any, other_identity: SigningIdentity, form: str
) -> None:
    key = other_identity.public_key_pem if form == "public key" else other_identity.certificate_pem
    client = await make_client(einvoice_keys=key)
    with pytest.raises(SignatureError) as caught:
        await fetch(client, sim)
    assert sim.einvoice.kid == caught.value.kid
    assert _api.EINVOICE_ROUTE == caught.value.route


async def test_an_unknown_kid_fails(
    sim: FlynnSimulator, make_client: Any, other_identity: SigningIdentity
) -> None:
    client = await make_client(einvoice_keys={other_identity.kid: other_identity.certificate_pem})
    with pytest.raises(SignatureError, match="no verification key for kid"):
        await fetch(client, sim)


@pytest.mark.sim(einvoice=EInvoiceSettings(tamper=True))
async def test_a_tampered_signature(sim: FlynnSimulator, make_client: Any) -> None:
    verifying = await make_client(einvoice_keys=sim.einvoice.certificate_pem)
    with pytest.raises(SignatureError, match="does not verify"):
        await fetch(verifying, sim)
    # Without a key nothing is verified: the documented (and flagged) result.
    trusting = await make_client()
    details = await fetch(trusting, sim)
    assert not details.verified
    with pytest.raises(SignatureError):
        details.verify(sim.einvoice.public_key_pem)


async def test_details_can_be_verified_later(sim: FlynnSimulator, client: FlynnClient) -> None:
    details = await fetch(client, sim)
    checked = details.verify(sim.einvoice.certificate_pem)
    assert checked.verified
    assert not details.verified


async def test_unusable_keys_fail_before_any_request(sim: FlynnSimulator) -> None:
    with pytest.raises(InvalidInput):
        FlynnClient(
            sim.credentials, base_url=sim.base_url, login_url=sim.login_url, einvoice_keys="x"
        )
    assert 0 == sum(sim.calls.values())


# ------------------------------------------------------------------------------------------
# Portal errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["details", "irp-err"])
async def test_not_found(make_sim: Any, make_client: Any, shape: Any) -> None:
    sim = await make_sim(einvoice=EInvoiceSettings(error_shape=shape))
    client = await make_client(sim)
    with pytest.raises(EInvoiceNotFound) as caught:
        await fetch(client, sim, doc_number="NOPE1")
    error = caught.value
    assert ("2154",) == error.codes
    assert "2154" == error.portal_code
    assert "IRN details are not found" == error.details[0].message
    assert 502 == error.http_status
    assert _api.ERR_IRP == error.code
    assert isinstance(error, IrpError)
    assert isinstance(error, ApiError)
    assert "2154 IRN details are not found" in str(error)
    assert 1 == sim.calls["einvoice"]  # a final answer: not retried


@pytest.mark.parametrize(
    ("code", "kind", "text"),
    [
        ("2148", EInvoiceNotFound, "requested IRN data is not available"),
        ("2150", IrpError, "duplicate IRN"),
        ("2143", IrpError, "does not belong to the user's GSTIN"),
        ("1005", IrpError, "invalid token"),
        ("1015", IrpError, "invalid GSTIN for this user"),
        ("2283", IrpError, "older than 2 days"),
        ("9999", IrpError, "9999"),
    ],
)
@pytest.mark.parametrize("shape", ["details", "irp-err"])
async def test_other_portal_codes(
    make_sim: Any, make_client: Any, code: str, kind: type[IrpError], text: str, shape: Any
) -> None:
    sim = await make_sim(einvoice=EInvoiceSettings(error_code=code, error_shape=shape))
    client = await make_client(sim)
    with pytest.raises(IrpError) as caught:
        await fetch(client, sim)
    assert kind is type(caught.value)
    assert (code,) == caught.value.codes
    assert text in str(caught.value)


async def test_the_password_is_needed_without_a_session(
    sim: FlynnSimulator, client: FlynnClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    without = irp_creds(sim, password=None)
    with pytest.raises(IrpPasswordRequired) as caught:
        await fetch(client, sim, irp_credentials=without)
    assert "IrpCredentials(..., password=...)" in str(caught.value)
    assert not sim.einvoice.requests[-1].password_sent
    await fetch(client, sim)  # opens the IRP session
    assert sim.einvoice.requests[-1].password_sent
    await fetch(client, sim, irp_credentials=without)  # the session lives 6 hours
    assert not sim.einvoice.requests[-1].password_sent
    sim.einvoice.expire_sessions()
    with pytest.raises(IrpPasswordRequired):
        await fetch(client, sim, irp_credentials=without)
    assert IRP_PASSWORD not in caplog.text


async def test_error_texts_hold_no_secret(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim(einvoice=EInvoiceSettings(error_code="2150"))
    client = await make_client(sim)
    with pytest.raises(IrpError) as caught:
        await fetch(client, sim)
    assert IRP_PASSWORD not in str(caught.value)
    assert IRP_PASSWORD not in repr(caught.value.error_args)


async def test_an_inconsistent_answer_is_a_mismatch(make_sim: Any, make_client: Any) -> None:
    (seed, *_) = sample_einvoices()
    wrong = SimEInvoice(invoice=seed.invoice, irn="f" * 64)
    sim = await make_sim(einvoice=EInvoiceSettings(documents=[wrong]))
    client = await make_client(sim, einvoice_keys=sim.einvoice.certificate_pem)
    with pytest.raises(EInvoiceMismatch) as caught:
        await fetch(client, sim)
    assert [f"IRN: answer {'f' * 64} != computed {SEED_IRN}"] == [
        d.split(" (seller")[0] for d in caught.value.differences
    ]
    assert "RAMIRNINA199" in str(caught.value)


async def test_a_signed_invoice_off_the_schema_is_a_response_error_naming_route_and_path(
    make_sim: Any, make_client: Any
) -> None:
    (seed, *_) = sample_einvoices()
    invoice = thaw(seed.invoice)
    invoice["ItemList"][0]["GstRt"] = "18"  # text where a rate (a JSON number) is due
    invoice["FutureBlock"] = {"kept": True}
    sim = await make_sim(einvoice=EInvoiceSettings(documents=(SimEInvoice(invoice=invoice),)))
    client = await make_client(sim, einvoice_keys=sim.einvoice.certificate_pem)
    with pytest.raises(ResponseError) as caught:
        await fetch(client, sim)
    assert type(caught.value) is ResponseError
    assert _api.EINVOICE_ROUTE == caught.value.route
    assert "signed invoice: " in str(caught.value)
    assert "@ $.ItemList[0].GstRt" in str(caught.value)


async def test_a_signed_invoice_with_unknown_fields_keeps_them(
    make_sim: Any, make_client: Any
) -> None:
    (seed, *_) = sample_einvoices()
    invoice = {**thaw(seed.invoice), "FutureBlock": {"New": [1, Decimal("2.50")]}}
    sim = await make_sim(einvoice=EInvoiceSettings(documents=(SimEInvoice(invoice=invoice),)))
    client = await make_client(sim, einvoice_keys=sim.einvoice.certificate_pem)
    details = await fetch(client, sim)
    assert details.verified
    assert {"New": (1, Decimal("2.50"))} == details.invoice.extra["FutureBlock"]
    assert details.signed_invoice.data == details.invoice.to_dict()


# ------------------------------------------------------------------------------------------
# Bad inputs: refused before any request
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"irp": "nic"},
        {"irp": 1},
        {"doc_type": "BILL"},
        {"doc_number": "0123"},
        {"doc_number": "/A1"},
        {"doc_number": "A" * 17},
        {"doc_number": "AB 1"},
        {"doc_number": ""},
        {"doc_date": "21/06/2021"},
        {"doc_date": datetime(2021, 6, 21, 10, 0)},
        {"interop": "NIC3"},
        {"irp_credentials": ("24AAAPI3182M002", "api-user")},
    ],
    ids=lambda change: f"{next(iter(change))}={next(iter(change.values()))!r}"[:40],
)
async def test_bad_inputs_fail_before_any_request(
    sim: FlynnSimulator, client: FlynnClient, change: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await fetch(client, sim, **change)
    assert isinstance(caught.value, ValueError)
    assert 0 == sim.calls["einvoice"]


def test_a_bad_gstin_fails_when_the_credentials_are_made() -> None:
    with pytest.raises(InvalidInput):
        IrpCredentials("24AAAPI3182M00", "api-user")


# ------------------------------------------------------------------------------------------
# Error envelopes, both shapes
# ------------------------------------------------------------------------------------------


def test_irp_details_in_both_shapes() -> None:
    new = {"details": [{"ErrorCode": "2154", "ErrorMessage": "IRN details are not found"}]}
    old = {"irp-err": {"details": [{"errorcode": "2150", "errormessage": "Duplicate IRN"}]}}
    assert [("2154", "IRN details are not found")] == list(irp_details(new))
    assert [("2150", "Duplicate IRN")] == list(irp_details(old))
    assert [("2148", "requested IRN data is not available")] == list(
        irp_details({"details": [{"error_code": 2148}]})
    )
    assert () == irp_details({"details": "oops"})


def test_the_error_classes() -> None:
    error = {"message": _api.ERR_IRP, "type": "Irp", "args": {}}
    bare = api_error(error, http_status=502)
    assert type(bare) is IrpError
    assert () == bare.codes
    assert "without codes" in str(bare)
    found = api_error(
        {**error, "args": {"details": [{"ErrorCode": "2148"}, {"ErrorCode": "2150"}]}},
        http_status=502,
    )
    assert isinstance(found, EInvoiceNotFound)
    assert not isinstance(found, NotFound)  # not a task's NotFound
    password = api_error({"message": _api.ERR_IRP_EMPTY_PASSWORD}, http_status=400)
    assert isinstance(password, IrpPasswordRequired)
    assert isinstance(password, FlynnError)


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------


def cli_args(*extra: str) -> argparse.Namespace:
    base = ["einvoice", "get", "--irp", "ni1", "--type", "inv", "--number", "RAMIRNINA199"]
    return build_parser().parse_args([*base, "--date", "21/06/2021", *extra])


def sim_env(sim: FlynnSimulator) -> dict[str, str]:
    return {
        "FLYNN_HANDLE": sim.credentials.handle,
        "FLYNN_PASSWORD": sim.credentials.password.reveal(),
        "FLYNN_BASE_URL": sim.base_url,
        "FLYNN_LOGIN_URL": sim.login_url,
        "FLYNN_IRP_GSTIN": sim.gstin,
        "FLYNN_IRP_USERNAME": "api-user",
        "FLYNN_IRP_PASSWORD": IRP_PASSWORD,
    }


async def test_cli_out_cut_off_mid_write_keeps_the_file_of_before(
    sim: FlynnSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "invoice.json"
    target.write_bytes(b'{"kept": true}')

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")  # the disk fills as the file is flushed

    monkeypatch.setattr(os, "fsync", full)
    args = cli_args("--out", str(target))
    with pytest.raises(OSError, match="No space left"):
        await run_einvoice_get(args, io.StringIO(), io.StringIO(), sim_env(sim))
    assert b'{"kept": true}' == target.read_bytes()  # whole: the old file, not a torn one


async def test_cli_with_the_environment(sim: FlynnSimulator, tmp_path: Path) -> None:
    key = tmp_path / "portal.pem"
    key.write_text(sim.einvoice.certificate_pem)
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "invoice.json"
    env = {**sim_env(sim), "FLYNN_EINVOICE_KEYS": str(key)}
    assert 0 == await run_einvoice_get(cli_args("--out", str(target)), out, err, env)
    text = out.getvalue()
    assert SEED_IRN in text
    assert "32,342.32" in text
    assert "verified" in text
    assert "NOT verified" not in text
    assert IRP_PASSWORD not in text + err.getvalue()
    written = loads(target.read_bytes())
    assert "24AAAPI3182M002" == written["SellerDtls"]["Gstin"]
    assert Decimal("32342.32") == written["ValDtls"]["TotInvVal"]
    assert sim.einvoice.requests[-1].password_sent


async def test_cli_with_a_config_file(sim: FlynnSimulator, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "portal.pem").write_text(sim.einvoice.certificate_pem)
    env = sim_env(sim)
    config = tmp_path / "flynn.toml"
    config.write_text(
        f'handle = "{env["FLYNN_HANDLE"]}"\n'
        f'password = "{env["FLYNN_PASSWORD"]}"\n'
        f'base_url = "{sim.base_url}"\n'
        f'login_url = "{sim.login_url}"\n'
        "[irp]\n"
        f'gstin = "{sim.gstin}"\n'
        'username = "api-user"\n'
        f'password = "{IRP_PASSWORD}"\n'
        'keys = ["keys/portal.pem"]\n'
    )
    out = io.StringIO()
    assert 0 == await run_einvoice_get(cli_args("--config", str(config)), out, io.StringIO(), {})
    assert "signatures" in out.getvalue()
    assert "verified (key" in out.getvalue()


async def test_cli_without_a_key_says_nothing_is_verified(sim: FlynnSimulator) -> None:
    out = io.StringIO()
    assert 0 == await run_einvoice_get(cli_args(), out, io.StringIO(), sim_env(sim))
    assert "NOT verified" in out.getvalue()


async def test_cli_needs_credentials(sim: FlynnSimulator) -> None:
    env = sim_env(sim)
    del env["FLYNN_IRP_USERNAME"]
    with pytest.raises(InvalidInput, match="FLYNN_IRP_USERNAME"):
        await run_einvoice_get(cli_args(), io.StringIO(), io.StringIO(), env)
    assert 0 == sum(sim.calls.values())


@pytest.mark.parametrize("flag", ["--password", "--irp-password"])
def test_cli_takes_no_password_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli_args(flag, "secret")
    assert 2 == caught.value.code
    assert "unrecognized arguments" in capsys.readouterr().err


def test_cli_against_the_built_in_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "invoice.json"
    argv = ["einvoice", "get", "--simulator", "--irp", "ni1", "--type", "CRN"]
    argv += ["--number", "CRN/2024/0042", "--date", "15/05/2024", "--out", str(target)]
    assert 0 == main(argv)
    captured = capsys.readouterr()
    assert "CRN CRN/2024/0042 of 15/05/2024" in captured.out
    assert "verified (key" in captured.out
    assert Decimal("12.000") == loads(target.read_bytes())["ItemList"][0]["Qty"]
    assert [] == [line for line in captured.out.splitlines() if len(line) > 80]  # the IRN too
    argv = ["einvoice", "get", "--simulator", "--irp", "ni1", "--type", "INV"]
    assert 1 == main([*argv, "--number", "NOPE", "--date", "01/01/2024"])
    assert "EInvoiceNotFound" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# The package loads its models on first use (import time)
# ----------------------------------------------------------------------------------------------


def test_the_models_are_imported_on_first_use_not_with_the_package() -> None:
    first, after = modules_imported("from flynn_async.einvoice import EInvoice")
    assert {"flynn_async.einvoice", "flynn_async.einvoice._keys"} <= first
    assert "flynn_async.einvoice._models" not in first
    assert "flynn_async.einvoice._models" in after


def test_every_public_name_of_the_package_resolves() -> None:
    from flynn_async import einvoice
    from flynn_async.einvoice import _keys, _models

    assert set(einvoice._LAZY.values()) == {"_models"}
    homes = dict.fromkeys(einvoice._LAZY, _models)
    homes |= {name: _keys for name in _keys.__all__ if name in einvoice.__all__}
    assert set(einvoice._LAZY) <= set(einvoice.__all__)
    check_every_name_resolves(einvoice, homes)
