"""E-invoice models: the seed sample, exact round trips, the IRN, signed documents and keys.

No network here: the seed's answer is decoded as it is, and signatures are made with keys
generated for the test (the seed's own signature needs the portal's certificate).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import pickle
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import (
    EInvoiceMismatch,
    FlynnError,
    InvalidInput,
    ResponseError,
    SignatureError,
    YesNo,
)
from flynn_async._core._codec import WireField, wire_fields
from flynn_async._core._json import dumps, loads
from flynn_async._core._values import _OpenEnum, thaw
from flynn_async.einvoice import (
    IST,
    BuyerDetails,
    DocumentType,
    EInvoice,
    EInvoiceDetails,
    EInvoiceQrCode,
    EInvoiceStatus,
    IrpCredentials,
    SignedDocument,
    SupplyType,
    compute_irn,
    financial_year,
)
from flynn_async.einvoice._lookup import find_mismatches
from flynn_async.einvoice._models import _Part, decode_details, decode_typed
from flynn_async.testing._einvoice_sim import SigningIdentity, make_identity

SEED_PATH = Path(__file__).parent / "data" / "einvoice_seed.json"
SEED_IRN = "9a36c874d574eda42385fd2796463577dbd66692e3b28a5301c88a1fe9429b91"


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """The seed page's sample answer ``data``, decoded with exact decimals."""
    data: dict[str, Any] = loads(SEED_PATH.read_bytes())["data"]
    return data


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return make_identity("test signer")


@pytest.fixture(scope="module")
def other_identity() -> SigningIdentity:
    return make_identity("someone else")


def same(a: Any, b: Any) -> bool:
    """Equal, with equal types all the way down and equal Decimal digits (key order aside)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    return bool(a == b)


# ------------------------------------------------------------------------------------------
# The seed sample
# ------------------------------------------------------------------------------------------


def test_seed_sample_decodes(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    invoice = details.invoice
    assert "24AAAPI3182M002" == invoice.seller.gstin
    assert Decimal("32342.32") == invoice.value.total_invoice_value
    assert 1 == len(invoice.items)
    assert "34013090" == invoice.items[0].hsn_code
    assert SEED_IRN == details.irn == invoice.irn == details.qr_code.irn
    assert DocumentType.INVOICE == invoice.document.type
    assert "RAMIRNINA199" == invoice.document.number
    assert date(2021, 6, 21) == invoice.document.date
    assert SupplyType.B2B == invoice.transaction.supply_type
    assert YesNo.NO == invoice.items[0].is_service
    assert (Decimal("27388.20"),) == tuple(
        Decimal(a.value or "") for a in invoice.items[0].attributes or ()
    )
    assert invoice.dispatch is None
    assert invoice.ship_to is None
    assert invoice.reference is not None
    assert invoice.reference.document_period is not None
    assert date(2021, 12, 31) == invoice.reference.document_period.end_date
    assert invoice.eway_bill is not None
    assert "ABCAS" == invoice.eway_bill.transporter_name


def test_seed_acknowledgement_and_eway_bill(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    assert 162310048427387 == details.ack_number  # sent as a string outside the token
    assert 162310048427387 == details.invoice.ack_number  # and as a number inside it
    # Outside the token the time is rounded to the minute; inside it, to the second.
    assert datetime(2023, 7, 6, 16, 43, tzinfo=IST) == details.ack_date
    assert datetime(2023, 7, 6, 16, 42, 38, tzinfo=IST) == details.signed_ack_date
    assert timedelta(hours=5, minutes=30) == details.ack_date.utcoffset()
    assert EInvoiceStatus.ACTIVE == details.status
    assert not details.cancelled
    assert 661010233323 == details.ewb_number
    assert datetime(2023, 7, 13, 23, 59, tzinfo=IST) == details.ewb_valid_till
    assert details.remarks is None
    assert not details.verified


def test_seed_signed_documents_expose_header_and_claims(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    for signed in (details.signed_invoice, details.signed_qr_code):
        assert "RS256" == signed.alg
        assert "1513B821EE46C749A63B86E318BF711099287D1F" == signed.kid
        assert "FRO4Ie5Gx0mmO4bjGL9xEJkofR8" == signed.x5t
        assert "NIC Sandbox" == signed.issuer
        assert "NIC Sandbox" == signed.claims["iss"]
        assert isinstance(signed.claims["data"], str)  # the claim is a JSON string
        assert 256 == len(signed.signature)
        assert signed.token not in repr(signed)
    assert "24AAAPI3182M002" == details.signed_invoice.data["SellerDtls"]["Gstin"]
    assert SignedDocument.parse(details.signed_invoice.token) == details.signed_invoice
    assert details.signed_invoice != details.signed_qr_code
    assert 2 == len({details.signed_invoice, details.signed_qr_code, details.signed_invoice})
    assert Decimal("32342.32") == details.signed_qr_code.data["TotInvVal"]


def test_seed_qr_code(seed: dict[str, Any]) -> None:
    qr = EInvoiceDetails.from_dict(seed).qr_code
    assert (
        EInvoiceQrCode(
            seller_gstin="24AAAPI3182M002",
            buyer_gstin="29AAAPI3182M000",
            doc_number="RAMIRNINA199",
            doc_type=DocumentType.INVOICE,
            doc_date=date(2021, 6, 21),
            total_invoice_value=Decimal("32342.32"),
            item_count=1,
            main_hsn_code="34013090",
            irn=SEED_IRN,
            irn_date=datetime(2023, 7, 6, 16, 42, 38, tzinfo=IST),
        )
        == qr
    )


def test_seed_invoice_to_dict_gives_back_the_signed_data_exactly(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    signed = details.signed_invoice.data
    assert same(signed, details.invoice.to_dict())
    assert dumps(signed) == dumps(details.invoice.to_dict())  # key order included
    assert same(details.signed_qr_code.data, details.qr_code.to_dict())


def test_compute_irn_reproduces_the_seed(seed: dict[str, Any]) -> None:
    invoice = EInvoiceDetails.from_dict(seed).invoice
    doc = invoice.document
    assert SEED_IRN == compute_irn(invoice.seller.gstin, doc.type, doc.number, doc.date)
    assert SEED_IRN == compute_irn("24AAAPI3182M002", "INV", "RAMIRNINA199", date(2021, 6, 21))


def test_irn_concatenation_rule_checked_against_the_seed() -> None:
    # GSTIN + financial year + type + number, no separators, as given; hex digest lower case.
    text = "24AAAPI3182M002" + "2021-22" + "INV" + "RAMIRNINA199"
    assert SEED_IRN == hashlib.sha256(text.encode()).hexdigest()
    # Not lower-cased, not separated, not with the calendar year.
    for wrong in (
        text.lower(),
        "24AAAPI3182M002|2021-22|INV|RAMIRNINA199",
        text.replace("2021-22", "2021"),
    ):
        assert SEED_IRN != hashlib.sha256(wrong.encode()).hexdigest()


def test_compute_irn_upper_cases_the_document_number() -> None:
    # The portal upper-cases document numbers before hashing (GSTN advisory, June 2025).
    assert SEED_IRN == compute_irn("24AAAPI3182M002", "inv", "ramirnina199", date(2021, 6, 21))


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2021, 3, 31), "2020-21"),
        (date(2021, 4, 1), "2021-22"),
        (date(2022, 3, 31), "2021-22"),
        (date(1999, 4, 1), "1999-00"),
        (date(2099, 12, 31), "2099-00"),
    ],
)
def test_financial_year(day: date, year: str) -> None:
    assert year == financial_year(day)


@pytest.mark.parametrize(
    "args",
    [
        ("24aaapi3182m002", "INV", "RAMIRNINA199", date(2021, 6, 21)),
        ("24AAAPI3182M00", "INV", "RAMIRNINA199", date(2021, 6, 21)),
        ("24AAAPI3182M002", "BILL", "RAMIRNINA199", date(2021, 6, 21)),
        ("24AAAPI3182M002", "INV", "0RAMIRNINA199", date(2021, 6, 21)),
        ("24AAAPI3182M002", "INV", "RAMIRNINA199RAMIR", date(2021, 6, 21)),
        ("24AAAPI3182M002", "INV", "RAM IRN", date(2021, 6, 21)),
        ("24AAAPI3182M002", "INV", "RAMIRNINA199", "21/06/2021"),
        ("24AAAPI3182M002", "INV", "RAMIRNINA199", datetime(2021, 6, 21)),
    ],
)
def test_compute_irn_rejects_bad_inputs(args: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        compute_irn(*args)
    assert isinstance(caught.value, ValueError)


doc_numbers = st.from_regex(r"[A-Za-z1-9][A-Za-z0-9/-]{0,15}", fullmatch=True)
gstins = st.from_regex(r"[0-9A-Z]{15}", fullmatch=True)
doc_types = st.sampled_from(["INV", "CRN", "DBN"])
days = st.dates(min_value=date(2017, 7, 1), max_value=date(2099, 12, 31))


@given(gstins, doc_types, doc_numbers, days)
def test_compute_irn_is_the_sha256_of_the_concatenation(
    gstin: str, doc_type: str, number: str, day: date
) -> None:
    irn = compute_irn(gstin, doc_type, number, day)
    assert 64 == len(irn)
    assert set(irn) <= set("0123456789abcdef")
    text = f"{gstin}{financial_year(day)}{doc_type}{number.upper()}"
    assert hashlib.sha256(text.encode()).hexdigest() == irn
    assert irn == compute_irn(gstin, doc_type.lower(), number.swapcase(), day)


@given(gstins, doc_types, doc_numbers, days, days)
def test_compute_irn_depends_on_the_date_only_through_the_financial_year(
    gstin: str, doc_type: str, number: str, one: date, two: date
) -> None:
    same_year = financial_year(one) == financial_year(two)
    assert same_year == (
        compute_irn(gstin, doc_type, number, one) == compute_irn(gstin, doc_type, number, two)
    )


# ------------------------------------------------------------------------------------------
# Decoding: exact, lossless, with readable errors
# ------------------------------------------------------------------------------------------


def minimal_invoice(**changes: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "Version": "1.1",
        "TranDtls": {"TaxSch": "GST", "SupTyp": "B2B"},
        "DocDtls": {"Typ": "INV", "No": "A1", "Dt": "01/04/2024"},
        "SellerDtls": {"Gstin": "24AAAPI3182M002", "LglNm": "Seller"},
        "BuyerDtls": {"Gstin": "29AAAPI3182M000", "LglNm": "Buyer", "Pos": "29"},
        "ItemList": [
            {
                "SlNo": "1",
                "IsServc": "N",
                "HsnCd": "1001",
                "Qty": Decimal("12.000"),
                "UnitPrice": 10,
                "TotAmt": Decimal("120.00"),
                "AssAmt": Decimal("120.00"),
                "GstRt": 5,
                "TotItemVal": Decimal("126.00"),
            }
        ],
        "ValDtls": {"AssVal": Decimal("120.00"), "TotInvVal": Decimal("126.00")},
    }
    invoice.update(changes)
    return invoice


def test_amounts_keep_their_digits_and_whole_numbers_stay_whole() -> None:
    invoice = EInvoice.from_dict(minimal_invoice())
    item = invoice.items[0]
    assert "12.000" == str(item.quantity)
    assert Decimal("12.000").as_tuple() == item.quantity.as_tuple()  # type: ignore[union-attr]
    assert Decimal(10) == item.unit_price
    out = invoice.to_dict()["ItemList"][0]
    assert same(Decimal("12.000"), out["Qty"])
    assert same(10, out["UnitPrice"])  # sent as a whole number, given back as one


def test_unknown_fields_and_nulls_are_kept_everywhere() -> None:
    data = minimal_invoice(
        FutureBlock={"New": [1, Decimal("2.50")]},
        PayDtls=None,
        SellerDtls={"Gstin": "24AAAPI3182M002", "LglNm": "Seller", "Em": None, "NewKey": "x"},
    )
    data["ItemList"][0]["Barcde"] = None
    data["ItemList"][0]["ItemCess"] = Decimal("0.00")
    invoice = EInvoice.from_dict(data)
    # kept deeply read-only (arrays as tuples); to_dict gives lists back
    assert {"FutureBlock": {"New": (1, Decimal("2.50"))}, "PayDtls": None} == dict(invoice.extra)
    assert {"Em": None, "NewKey": "x"} == dict(invoice.seller.extra)
    assert invoice.seller.email is None
    assert {"Barcde": None, "ItemCess": Decimal("0.00")} == dict(invoice.items[0].extra)
    assert same(data, invoice.to_dict())
    # to_dict hands out copies: changing them changes nothing inside the invoice.
    out = invoice.to_dict()
    out["FutureBlock"]["New"].append(3)
    assert (1, Decimal("2.50")) == invoice.extra["FutureBlock"]["New"]


def test_unknown_codes_stay_text() -> None:
    data = minimal_invoice(TranDtls={"TaxSch": "GST", "SupTyp": "NEWTYP"})
    invoice = EInvoice.from_dict(data)
    assert "NEWTYP" == invoice.transaction.supply_type
    assert not isinstance(invoice.transaction.supply_type, _OpenEnum)
    assert data == invoice.to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DocDtls": {"Typ": "INV", "No": "A1", "Dt": "2024-04-01"}}, "$.DocDtls.Dt"),
        ({"DocDtls": {"Typ": "INV", "No": 17, "Dt": "01/04/2024"}}, "$.DocDtls.No"),
        ({"SellerDtls": {"LglNm": "Seller"}}, "required field is missing @ $.SellerDtls.Gstin"),
        ({"ValDtls": {"AssVal": "120.00", "TotInvVal": 1}}, "$.ValDtls.AssVal"),
        ({"ItemList": {"SlNo": "1"}}, "expected a list"),
        ({"Version": None}, "must not be null @ $.Version"),
        ({"AckDt": "2023-07-06T16:42:38"}, "$.AckDt"),
    ],
)
def test_data_that_does_not_fit_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ResponseError, match=message.replace("$", r"\$").replace(".", r"\.")):
        EInvoice.from_dict(minimal_invoice(**change))


def test_item_errors_name_the_item() -> None:
    data = minimal_invoice()
    data["ItemList"].append({**data["ItemList"][0], "GstRt": "5"})
    with pytest.raises(ResponseError, match=r"@ \$\.ItemList\[1\]\.GstRt"):
        EInvoice.from_dict(data)


def test_from_dict_raises_the_public_response_error() -> None:
    # Not a private exception: the one public type every decoding error has.
    bad = minimal_invoice(ValDtls={"AssVal": "1.00", "TotInvVal": 1})
    for call in (
        lambda: EInvoice.from_dict(bad),
        lambda: EInvoiceQrCode.from_dict({"SellerGstin": 1}),
        lambda: BuyerDetails.from_dict([]),  # type: ignore[arg-type]
    ):
        with pytest.raises(ResponseError) as caught:
            call()
        assert type(caught.value) is ResponseError
        assert isinstance(caught.value, FlynnError)


def test_every_bad_field_of_a_part_is_named() -> None:
    data = minimal_invoice(DocDtls={"Typ": 1, "No": "A1", "Dt": "1/4/2024"})
    with pytest.raises(ResponseError) as caught:
        EInvoice.from_dict(data)
    message = str(caught.value)
    assert "@ $.DocDtls.Typ" in message
    assert "@ $.DocDtls.Dt" in message


def test_details_errors_name_the_document_the_path_and_the_route(
    seed: dict[str, Any], identity: SigningIdentity
) -> None:
    invoice = minimal_invoice()
    invoice["ItemList"][0]["GstRt"] = "5"
    qr = EInvoiceDetails.from_dict(seed).signed_qr_code.data
    data = {
        **seed,
        "SignedInvoice": signed(identity, invoice).token,
        "SignedQRCode": signed(identity, thaw(qr)).token,
    }
    with pytest.raises(ResponseError, match=r"signed invoice: .* @ \$\.ItemList\[0\]\.GstRt"):
        EInvoiceDetails.from_dict(data)
    with pytest.raises(ResponseError) as caught:
        decode_details(data, route="/einvoice/route")
    assert "/einvoice/route" == caught.value.route
    with pytest.raises(ResponseError, match=r"not base64url @ \$\.SignedQRCode"):
        EInvoiceDetails.from_dict({**seed, "SignedQRCode": "!!!.e30.c2ln"})
    with pytest.raises(ResponseError, match=r"got int 5 @ \$\.SignedInvoice"):
        EInvoiceDetails.from_dict({**seed, "SignedInvoice": 5})
    with pytest.raises(ResponseError, match=r"\$\.AckDt.*\$\.EwbNo|\$\.EwbNo.*\$\.AckDt"):
        EInvoiceDetails.from_dict({**seed, "AckDt": "06/07/2023", "EwbNo": "12a"})


def test_documents_of_known_fields_take_the_typed_path(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    for cls, document in (
        (EInvoice, details.signed_invoice),
        (EInvoiceQrCode, details.signed_qr_code),
    ):
        raw = document.claims["data"].encode()
        typed = decode_typed(cls, raw)
        assert typed is not None
        lossless = cls.from_dict(document.data)
        assert lossless == typed
        assert same(lossless.to_dict(), typed.to_dict())
    assert isinstance(details.invoice.ack_date, datetime)
    assert "datetime.datetime(2023, 7, 6, 16, 42, 38, tzinfo=" in repr(details.invoice.ack_date)
    assert isinstance(details.invoice.document.date, date)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("NewBlock", 1),  # an unknown field
        lambda d: d.__setitem__("PayDtls", None),  # a null
        lambda d: d["TranDtls"].__setitem__("SupTyp", "NEWTYP"),  # an unknown code
        lambda d: d["ItemList"][0].__setitem__("IsServc", "n"),  # a flag in another form
        lambda d: d["ValDtls"].__setitem__("AssVal", "120.00"),  # text where money belongs
        lambda d: d["DocDtls"].__setitem__("Dt", "2024-04-01"),  # a date in another form
    ],
    ids=["unknown field", "null", "unknown code", "flag form", "text amount", "date form"],
)
def test_documents_that_carry_more_take_the_lossless_path(
    change: Callable[[dict[str, Any]], None],
) -> None:
    data = minimal_invoice()
    change(data)
    assert decode_typed(EInvoice, dumps(data)) is None


def test_a_repeated_key_takes_the_lossless_path() -> None:
    body = dumps(minimal_invoice()).replace(b'"Version":"1.1"', b'"Version":"1.0","Version":"1.1"')
    assert decode_typed(EInvoice, body) is None


def test_older_qr_codes_lack_the_irn_date(seed: dict[str, Any]) -> None:
    data = dict(EInvoiceDetails.from_dict(seed).signed_qr_code.data)
    del data["IrnDt"]
    qr = EInvoiceQrCode.from_dict(data)
    assert qr.irn_date is None
    assert data == qr.to_dict()


def test_india_time_without_the_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoneinfo

    from flynn_async.einvoice import _models as _einvoice_models

    def missing(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    fallback = _einvoice_models._india()
    moment = datetime(2023, 7, 6, 16, 42, 38, tzinfo=fallback)
    assert timedelta(hours=5, minutes=30) == moment.utcoffset()
    assert datetime(2023, 7, 6, 16, 42, 38, tzinfo=IST) == moment


def test_details_pickle_and_invoices_hash(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    again = pickle.loads(pickle.dumps(details))
    assert details == again
    assert details.invoice.to_dict() == again.invoice.to_dict()
    assert hash(details.invoice) == hash(again.invoice)
    assert 1 == len({details.invoice, again.invoice, EInvoice.from_dict(details.invoice.to_dict())})


def test_parts_are_frozen() -> None:
    buyer = BuyerDetails.from_dict({"Gstin": "URP", "LglNm": "B", "Pos": "96"})
    with pytest.raises(AttributeError):
        buyer.gstin = "X"  # type: ignore[misc]


# Hypothesis: any invoice shaped like the schema (known fields, nulls, unknown fields) comes
# back exactly from to_dict.

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), _text)
_amounts = st.one_of(
    st.integers(-(10**9), 10**9),
    *(
        st.decimals(
            min_value=-(10**9), max_value=10**9, places=p, allow_nan=False, allow_infinity=False
        )
        for p in (1, 2, 3)
    ),
)


def _value_strategy(f: WireField, plain: bool) -> st.SearchStrategy[Any]:
    if f.kind in ("enum", "flag"):
        known = st.sampled_from([m.value for m in f.type])
        return known if plain else st.one_of(known, _text)
    if f.kind == "list":
        return st.lists(_part_strategy(f.type, plain=plain), max_size=2)
    if f.kind == "object":
        return _part_strategy(f.type, plain=plain)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "text": _text,
        "int": st.integers(0, 10**12),
        "money": _amounts,
        "date": st.dates(date(1900, 1, 1), date(2099, 12, 31)).map(
            lambda d: d.strftime("%d/%m/%Y")
        ),
        "time": st.datetimes(datetime(1900, 1, 1), datetime(2099, 12, 31)).map(
            lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
        ),
    }
    return simple[f.kind]


def _part_strategy(cls: type[_Part], *, plain: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Documents of ``cls``: with nulls, unknown fields and codes, or (``plain``) without."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for f in wire_fields(cls):
        strategy = _value_strategy(f, plain)
        if f.required:
            required[f.wire] = strategy
        else:
            optional[f.wire] = strategy if plain else st.one_of(st.none(), strategy)
    if plain:
        return st.fixed_dictionaries(required, optional=optional)
    known = set(required) | set(optional)
    unknown = st.dictionaries(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz", min_size=1, max_size=8).filter(
            lambda k: k not in known
        ),
        st.one_of(_scalars, st.lists(_scalars, max_size=2)),
        max_size=2,
    )

    def merge(fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return {**fields, **extra}

    return st.builds(merge, st.fixed_dictionaries(required, optional=optional), unknown)


@given(_part_strategy(EInvoice))
def test_any_invoice_round_trips_exactly(data: dict[str, Any]) -> None:
    invoice = EInvoice.from_dict(data)
    assert same(data, invoice.to_dict())
    assert invoice == EInvoice.from_dict(invoice.to_dict())


@given(_part_strategy(EInvoice, plain=True))
def test_documents_of_known_fields_always_take_the_typed_path(data: dict[str, Any]) -> None:
    typed = decode_typed(EInvoice, dumps(data))
    assert typed is not None
    assert EInvoice.from_dict(data) == typed
    assert same(data, typed.to_dict())


@given(_part_strategy(EInvoice))
def test_the_typed_path_agrees_with_the_lossless_one(data: dict[str, Any]) -> None:
    # Unknown fields, nulls and unknown codes: the typed call declines, never guesses.
    typed = decode_typed(EInvoice, dumps(data))
    if typed is not None:
        assert EInvoice.from_dict(data) == typed
        assert same(data, typed.to_dict())


@given(_part_strategy(EInvoiceQrCode))
def test_any_qr_code_round_trips_exactly(data: dict[str, Any]) -> None:
    assert same(data, EInvoiceQrCode.from_dict(data).to_dict())


# ------------------------------------------------------------------------------------------
# Signed documents and keys
# ------------------------------------------------------------------------------------------


def signed(identity: SigningIdentity, data: dict[str, Any] | None = None) -> SignedDocument:
    claims = {"data": dumps(data or {"Irn": "x"}).decode(), "iss": "test"}
    return SignedDocument.parse(identity.sign(claims))


@functools.cache
def _third() -> SigningIdentity:
    return make_identity("a third signer")


KeyForm = Callable[[SigningIdentity], Any]
KEY_FORMS: dict[str, KeyForm] = {
    "public key text": lambda i: i.public_key_pem,
    "public key bytes": lambda i: i.public_key_pem.encode(),
    "certificate text": lambda i: i.certificate_pem,
    "certificate bytes": lambda i: i.certificate_pem.encode(),
    "certificate DER": lambda i: i.certificate.public_bytes(serialization.Encoding.DER),
    "certificate object": lambda i: i.certificate,
    "mapping by kid": lambda i: {i.kid: i.public_key_pem},
    "mapping by lower-case kid": lambda i: {i.kid.lower(): i.certificate_pem},
    "list of certificates": lambda i: [_third().certificate_pem, i.certificate_pem],
}


@pytest.mark.parametrize("form", list(KEY_FORMS), ids=list(KEY_FORMS))
def test_verify_accepts_every_key_form(identity: SigningIdentity, form: str) -> None:
    document = signed(identity)
    document.verify(KEY_FORMS[form](identity))


@pytest.mark.parametrize("form", list(KEY_FORMS)[:6], ids=list(KEY_FORMS)[:6])
def test_verify_refuses_another_key(
    identity: SigningIdentity, other_identity: SigningIdentity, form: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        signed(identity).verify(KEY_FORMS[form](other_identity))
    assert identity.kid == caught.value.kid


def test_verify_names_a_rotated_key(
    identity: SigningIdentity, other_identity: SigningIdentity
) -> None:
    with pytest.raises(SignatureError, match="rotated"):
        signed(identity).verify(other_identity.certificate_pem)


def test_verify_refuses_an_unknown_kid(
    identity: SigningIdentity, other_identity: SigningIdentity
) -> None:
    with pytest.raises(SignatureError, match=f"no verification key for kid '{identity.kid}'"):
        signed(identity).verify({other_identity.kid: other_identity.certificate_pem})


def test_verify_refuses_a_changed_payload(identity: SigningIdentity) -> None:
    token = signed(identity, {"TotInvVal": Decimal("100.00")}).token
    head, _, sig = token.split(".")
    forged_claims = {"data": dumps({"TotInvVal": Decimal("1.00")}).decode(), "iss": "test"}
    payload = SignedDocument.parse(identity.sign(forged_claims)).token.split(".")[1]
    forged = SignedDocument.parse(f"{head}.{payload}.{sig}")
    assert Decimal("1.00") == forged.data["TotInvVal"]
    with pytest.raises(SignatureError):
        forged.verify(identity.public_key_pem)


def test_verify_refuses_other_algorithms(identity: SigningIdentity) -> None:
    document = signed(identity)
    header = dumps({"alg": "none", "kid": identity.kid}).decode()
    import base64

    fake_head = base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode()
    _, payload, sig = document.token.split(".")
    with pytest.raises(SignatureError, match="alg 'none'"):
        SignedDocument.parse(f"{fake_head}.{payload}.{sig}").verify(identity.public_key_pem)


@pytest.mark.parametrize(
    "material",
    [
        "not a key",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        42,
        {},
        [],
        {"kid": 42},
    ],
    ids=["text", "broken pem", "int", "empty mapping", "empty list", "bad mapping value"],
)
def test_unusable_keys_are_invalid_input(identity: SigningIdentity, material: Any) -> None:
    with pytest.raises(InvalidInput):
        signed(identity).verify(material)


def test_non_rsa_keys_are_invalid_input(identity: SigningIdentity) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(InvalidInput, match="not an RSA key"):
        signed(identity).verify(pem)


def test_bare_public_keys_in_a_list_are_refused(identity: SigningIdentity) -> None:
    with pytest.raises(InvalidInput, match="mapping from kid"):
        signed(identity).verify([identity.public_key_pem])


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.bm90IGpzb24.c2ln", "W10.e30.c2ln"],
)
def test_malformed_tokens_are_response_errors(token: str) -> None:
    with pytest.raises(ResponseError):
        SignedDocument.parse(token)


def test_a_token_that_is_not_text_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="must be a str"):
        SignedDocument.parse(17)  # type: ignore[arg-type]


def test_the_seed_does_not_verify_with_another_key(
    seed: dict[str, Any], identity: SigningIdentity
) -> None:
    details = EInvoiceDetails.from_dict(seed)
    with pytest.raises(SignatureError, match="1513B821EE46C749A63B86E318BF711099287D1F"):
        details.verify(identity.certificate_pem)
    with pytest.raises(SignatureError):
        details.verify({identity.kid: identity.certificate_pem})


# ------------------------------------------------------------------------------------------
# Integrity checks
# ------------------------------------------------------------------------------------------


def test_the_seed_is_consistent_with_its_document(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    kind = DocumentType.INVOICE
    assert [] == find_mismatches(
        details, doc_type=kind, doc_number="RAMIRNINA199", doc_date=date(2021, 6, 21)
    )
    # The portal ignores the case of document numbers.
    assert [] == find_mismatches(
        details, doc_type=kind, doc_number="ramirnina199", doc_date=date(2021, 6, 21)
    )
    # An IRN is hex: one sent in capitals is the same IRN.
    upper = attrs.evolve(details, irn=details.irn.upper())
    assert [] == find_mismatches(
        upper, doc_type=kind, doc_number="RAMIRNINA199", doc_date=date(2021, 6, 21)
    )


def test_mismatches_name_what_differs(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    found = find_mismatches(
        details,
        doc_type=DocumentType.INVOICE,
        doc_number="RAMIRNINA199",
        doc_date=date(2022, 6, 21),
    )
    assert any(f.startswith("IRN: answer") for f in found)
    assert "document date: requested 21/06/2022 != signed invoice 21/06/2021" in found
    assert "document date: requested 21/06/2022 != signed QR code 21/06/2021" in found
    found = find_mismatches(
        details,
        doc_type=DocumentType.CREDIT_NOTE,
        doc_number="RAMIRNINA199",
        doc_date=date(2021, 6, 21),
    )
    assert "document type: requested CRN != signed invoice INV" in found


def test_mismatches_between_the_answer_and_its_tokens(seed: dict[str, Any]) -> None:
    details = EInvoiceDetails.from_dict(seed)
    other = "0" * 64
    changed = attrs.evolve(details, irn=other, ack_number=1)
    found = find_mismatches(
        changed,
        doc_type=DocumentType.INVOICE,
        doc_number="RAMIRNINA199",
        doc_date=date(2021, 6, 21),
    )
    assert f"IRN: answer {other} != signed invoice {SEED_IRN}" in found
    assert f"IRN: answer {other} != signed QR code {SEED_IRN}" in found
    assert "ack number: answer 1 != signed invoice 162310048427387" in found
    qr = msgspec.structs.replace(details.qr_code, seller_gstin="24AAAPI3182M003")
    found = find_mismatches(
        attrs.evolve(details, qr_code=qr),
        doc_type=DocumentType.INVOICE,
        doc_number="RAMIRNINA199",
        doc_date=date(2021, 6, 21),
    )
    assert [
        "seller GSTIN: signed invoice 24AAAPI3182M002 != signed QR code 24AAAPI3182M003"
    ] == found
    assert issubclass(EInvoiceMismatch, ResponseError)


# ------------------------------------------------------------------------------------------
# Credentials
# ------------------------------------------------------------------------------------------


def test_irp_credentials_hide_the_password() -> None:
    creds = IrpCredentials("24AAAPI3182M002", "api-user", "s3cret-pw")
    assert "s3cret-pw" not in repr(creds)
    assert "s3cret-pw" not in str(creds)
    assert creds.password is not None
    assert "s3cret-pw" == creds.password.reveal()
    assert IrpCredentials("24AAAPI3182M002", "api-user").password is None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("24aaapi3182m002", "u"), {}),
        (("24AAAPI3182M002", ""), {}),
        (("24AAAPI3182M002", " u"), {}),
        (("24AAAPI3182M002", "u", ""), {}),
        (("24AAAPI3182M002", "u", 42), {}),
        (("24AAAPI3182M002", "u"), {"strict_gstin": True}),  # a sandbox GSTIN
    ],
)
def test_irp_credentials_are_checked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        IrpCredentials(*args, **kwargs)


def test_strict_gstin_accepts_a_real_one() -> None:
    assert "27AAPFU0939F1ZV" == IrpCredentials("27AAPFU0939F1ZV", "u", strict_gstin=True).gstin


# ------------------------------------------------------------------------------------------
# Heavy parts load lazily
# ------------------------------------------------------------------------------------------


def test_cryptography_is_imported_only_to_verify() -> None:
    # No module of the library (the simulator aside) imports cryptography when it is
    # imported: only inside the functions that load keys and verify, or for type checkers.
    package = Path(__file__).parent.parent / "flynn_async"
    found = []
    for path in sorted(package.rglob("*.py")):
        if "testing" in path.relative_to(package).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = [
            node
            for stmt in tree.body
            if not (isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test))
            for node in ast.walk(stmt)
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        for node in body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n == "cryptography" or n.startswith("cryptography.") for n in names):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert [] == found
    assert "cryptography" in (package / "einvoice" / "_models.py").read_text(encoding="utf-8")
