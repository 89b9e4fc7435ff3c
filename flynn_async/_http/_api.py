"""Facts about the Flynn API, each in exactly one place.

Everything the client and the built-in simulator must agree on lives here: hosts, route
templates, header names, version defaults, status values, page numbering, error codes. Values
marked **unconfirmed** were inferred rather than documented by Vayana (see
``shared/flynn-api.md``); if the real service disagrees, this module is the one place to
correct, and the simulator follows automatically because it imports the same names.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------
# Hosts (flynn-api.md section 1)
# --------------------------------------------------------------------------------------------

ENVIRONMENTS: Final[dict[str, tuple[str, str]]] = {
    # name: (API base, login service base)
    "sandbox": (
        "https://solo.enriched-api.vayana.com",
        "https://sandbox.services.vayananet.com/theodore/apis/v1",
    ),
    "production": (
        "https://live.enriched-api.vayana.com",
        "https://services.vayana.com/theodore/apis/v1",
    ),
}
DEFAULT_ENVIRONMENT: Final = "sandbox"

# --------------------------------------------------------------------------------------------
# Versions that appear in routes (section 1): settings with defaults, never literals elsewhere.
# --------------------------------------------------------------------------------------------

DEFAULT_GSTN_API_VERSION: Final = "v0.2"
DEFAULT_EINVOICE_API_VERSION: Final = "v1.03"
GST_AUTH_FLYNN_VERSION: Final = "v1.0"
IMS_FLYNN_VERSION: Final = "v1.0"
TASKS_FLYNN_VERSION: Final = "v1.0"
EINVOICE_FLYNN_VERSION: Final = "v3.0"

# --------------------------------------------------------------------------------------------
# Login service, "theodore" (section 2)
# --------------------------------------------------------------------------------------------

LOGIN_ROUTE: Final = "/authtokens"  # POST to log in, PUT (Bearer) to refresh
LOGOUT_ROUTE: Final = "/logout"  # POST (Bearer)
TOKEN_MINUTES_DEFAULT: Final = 20
TOKEN_MINUTES_MAX: Final = 360
#: A token may be refreshed until this many times its duration after login.
TOKEN_HARD_EXPIRY_FACTOR: Final = 6
#: The login answer's ``expiry`` is epoch milliseconds per the spec; one public client reads
#: seconds. **Unconfirmed**: a value below this bound is taken as seconds.
EXPIRY_SECONDS_BELOW: Final = 10**11
MAX_LIVE_TOKENS: Final = 10
#: The JWT claim with the token's issue time (epoch seconds, the server's clock).
JWT_ISSUED_AT: Final = "iat"

# --------------------------------------------------------------------------------------------
# Headers (section 3)
# --------------------------------------------------------------------------------------------

HEADER_ORG_ID: Final = "X-FLYNN-N-ORG-ID"
HEADER_USER_TOKEN: Final = "X-FLYNN-N-USER-TOKEN"
ACCEPT_JSON: Final = "application/json"

#: The "common GSTN headers". Their names are **unconfirmed**; this is the one table.
GSTN_HEADERS: Final[dict[str, str]] = {
    "gstin": "X-FLYNN-N-GSTIN",
    "username": "X-FLYNN-N-GSTN-USERNAME",
    "session_id": "X-FLYNN-N-GSTN-SESSION-ID",
    "gsp_code": "X-FLYNN-N-GSTN-GSP-CODE",
}
GSP_CODE: Final = "vay"

#: E-invoice (IRP) headers.
IRP_HEADERS: Final[dict[str, str]] = {
    "gsp_code": "X-FLYNN-N-IRP-GSP-CODE",
    "gstin": "X-FLYNN-N-IRP-GSTIN",
    "username": "X-FLYNN-N-IRP-USERNAME",
    "password": "X-FLYNN-N-IRP-PWD",
    "interop": "irp",
}

# --------------------------------------------------------------------------------------------
# Envelope and error codes (section 4)
# --------------------------------------------------------------------------------------------

STATUS_OK: Final = "1"
STATUS_ERROR: Final = "0"

ERR_EXPIRED_TOKEN: Final = "err-expired-token"
ERR_INVALID_TOKEN: Final = "err-invalid-token"
ERR_INVALID_ORG: Final = "err-invalid-org"
ERR_TOKEN_LIMIT: Final = "err-active-tokens-limit-exceeded"
ERR_NOT_FOUND: Final = "err-resource-not-found"
ERR_INVALID_BODY: Final = "err-invalid-request-body"
ERR_INVALID_GSTIN: Final = "err-invalid-gstin-format"
ERR_IRP: Final = "err-irp-returned-error"
ERR_IRP_EMPTY_PASSWORD: Final = "err-unable-to-authenticate-with-empty-password"
#: How a GST portal error reaches us through Flynn. **Unconfirmed**: the portal's own codes
#: (``AUTH4033`` ...) are documented, the Flynn wrapper message is not.
ERR_GSTN: Final = "err-gstn-returned-error"
#: Wrong handle or password at login. **Unconfirmed** (the simulator uses it; the client maps
#: any HTTP 401/403 from the login service to an authentication error whatever the message).
ERR_BAD_CREDENTIALS: Final = "err-invalid-credentials"
#: Result or page asked before the task completed (HTTP 400). **Unconfirmed** message text.
ERR_TASK_NOT_COMPLETED: Final = "err-task-not-completed"
#: Login and organisation failures.
AUTH_ERROR_MESSAGES: Final = frozenset(
    {ERR_EXPIRED_TOKEN, ERR_INVALID_TOKEN, ERR_INVALID_ORG, ERR_TOKEN_LIMIT}
)

#: GST portal codes (section 5).
GST_SESSION_EXPIRED_CODES: Final = frozenset({"AUTH4038", "AUTH4033"})

# --------------------------------------------------------------------------------------------
# GST (OTP) session routes, Flynn v1.0 with the action in the path (section 5)
# --------------------------------------------------------------------------------------------

GST_AUTH_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{gstn}/authenticate/{action}"
GST_ACTION_OTP_REQUEST: Final = "OTPREQUEST"
GST_ACTION_VERIFY: Final = "AUTHTOKEN"
GST_ACTION_REFRESH: Final = "REFRESHTOKEN"
GST_ACTION_LOGOUT: Final = "LOGOUT"  # **unconfirmed** for v1.0 (v3.0 has it)
#: Body and answer keys of the OTP flow.
GST_KEY_OTP_REQUEST_ID: Final = "otp-request-id"
GST_KEY_SESSION_ID: Final = "gst-session-id"
#: How long a portal session lives before it must be refreshed (about 6 hours).
GST_SESSION_SECONDS: Final = 6 * 3600

# --------------------------------------------------------------------------------------------
# IMS (section 6)
# --------------------------------------------------------------------------------------------

IMS_ROUTE: Final = "/enriched/gstn/{flynn}/ims-invoices"
IMS_SECTIONS: Final = ("B2B", "B2BA", "B2BDN", "B2BDNA", "B2BCN", "B2BCNA", "ECOM", "ECOMA")
IMS_STATUSES: Final = ("A", "R", "P", "N")
TASK_ID_KEY: Final = "task-id"

# --------------------------------------------------------------------------------------------
# IMS counts, actions and rules (sections 10 to 12)
# --------------------------------------------------------------------------------------------

#: The GST API version of the IMS returns routes (counts, save, request status): its own
#: setting (``ims_api_version``). **Unconfirmed**: the docs' example.
DEFAULT_IMS_API_VERSION: Final = "v0.3"
IMS_RETURNS_FLYNN_VERSION: Final = "v1.0"
IMS_COUNTS_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{version}/returns/ims/GETCNT"
#: Save (PUT). **Unconfirmed** route (no enriched save task is documented).
IMS_SAVE_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{version}/returns/ims/SAVE"
IMS_REQUEST_STATUS_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{version}/returns/ims/REQSTS"
#: Reset (PUT), answered with a task id.
IMS_RESET_ROUTE: Final = "/enriched/gstn/{flynn}/ims-invoice-status-reset"
IMS_QUERY_GSTIN: Final = "gstin"
IMS_QUERY_GOODS_TYPE: Final = "goods_typ"
IMS_QUERY_REFERENCE: Final = "int_tran_id"
#: ``goods_typ`` values. Only ``ALL_OTH`` is documented; the others are **unconfirmed**.
IMS_GOODS_TYPES: Final = ("ALL_OTH", "INV_SUPP_ISD", "IMP_GDS")
IMS_DEFAULT_GOODS_TYPE: Final = "ALL_OTH"
#: Count groups and their sections (section 10).
IMS_COUNT_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "all_oth": ("b2b", "b2ba", "b2bdn", "b2bdna", "b2bcn", "b2bcna", "ecom", "ecoma"),
    "inv_supp_isd": ("isd", "isda", "isdcn", "isdcna"),
    "imp_gds": ("impg", "impga", "impgsez", "impgseza"),
}
IMS_COUNT_TOTAL: Final = "ttl_cnt"
#: The taxpayer's GSTIN in a counts answer (the portal's web version sends it).
IMS_COUNT_GSTIN: Final = "gstin"
#: Count fields by the action they count.
IMS_COUNT_FIELDS: Final[dict[str, str]] = {
    "N": "noaction",
    "A": "accept",
    "R": "reject",
    "P": "pending",
}
#: Import sections (bills of entry). Whether the download route takes them is
#: **unconfirmed**: they are downloaded only when asked for by name.
IMS_IMPORT_SECTIONS: Final = ("impg", "impga", "impgsez", "impgseza")
#: Body keys of save and reset; the long section keys are **unconfirmed**.
IMS_BODY_RECIPIENT: Final = "rtin"
IMS_BODY_REQUEST_TYPE: Final = "reqtyp"
IMS_BODY_DATA: Final = "invdata"
IMS_REQUEST_SAVE: Final = "SAVE"
IMS_REQUEST_RESET: Final = "RESET"
#: Actions of a save; a reset sends none (back to no action, ``N``).
IMS_SAVE_ACTIONS: Final = ("A", "R", "P")
IMS_RESET_ACTION: Final = "N"
#: The fields copied from the downloaded record into a save or reset body (section 11).
IMS_BODY_RECORD_FIELDS: Final = (
    "stin",
    "inum",
    "idt",
    "nt_num",
    "nt_dt",
    "oinum",
    "oidt",
    "ont_num",
    "ont_dt",
    "inv_typ",
    "srcform",
    "rtnprd",
    "pos",
    "val",
    "txval",
    "iamt",
    "camt",
    "samt",
    "cess",
    "hash",
)
#: The fields copied for an import record. **Unconfirmed** (the field names of section 6).
IMS_BODY_IMPORT_FIELDS: Final = (
    "rgstinrefId",
    "portcd",
    "boenum",
    "boedt",
    "irefdt",
    "itcprd",
    "srtinprd",
    "txval",
    "igst",
    "cess",
    "hash",
)
#: The amount fields that go as non-negative JSON numbers.
IMS_BODY_AMOUNTS: Final = frozenset({"val", "txval", "iamt", "camt", "samt", "cess", "igst"})
#: The largest save or reset body (4 x 1024 x 1024 bytes; **unconfirmed** for save).
IMS_MAX_BODY_BYTES: Final = 4 * 1024 * 1024
#: The save answer's key for the reference id. **Unconfirmed**.
IMS_REFERENCE_KEY: Final = "reference_id"
#: Request status (``REQSTS``) keys and values.
IMS_STATUS_CODE: Final = "status_cd"
IMS_STATUS_IN_PROGRESS: Final = "IP"
IMS_STATUS_PROCESSED: Final = "P"
IMS_STATUS_PROCESSED_WITH_ERRORS: Final = "PE"
IMS_STATUS_ERROR: Final = "ER"
IMS_STATUS_TRANSACTION: Final = "transTypCd"
IMS_STATUS_SAVE_TRANSACTION: Final = "SAV"
IMS_STATUS_PROCESSED_COUNT: Final = "proc_cnt"
IMS_STATUS_ERROR_COUNT: Final = "err_cnt"
IMS_STATUS_ERROR_CODE: Final = "err_cd"
IMS_STATUS_ERROR_MESSAGE: Final = "err_msg"
IMS_STATUS_ERROR_REPORT: Final = "error_report"
IMS_REPORT_SUPPLIER: Final = "stin"
IMS_REPORT_CODE: Final = "error_cd"
IMS_REPORT_MESSAGE: Final = "error_msg"
IMS_REPORT_RECORDS: Final = "inv"
IMS_REPORT_PERIOD: Final = "rtnprd"
#: The inner number key: ``inum`` even for notes.
IMS_REPORT_NUMBER: Final = "inum"
#: Short section keys of ``error_report`` and their long names.
IMS_REPORT_SHORT_SECTIONS: Final[dict[str, str]] = {
    "dn": "b2bdn",
    "cn": "b2bcn",
    "dna": "b2bdna",
    "cna": "b2bcna",
}
#: Portal codes of section 11 (``IMSSAV0020`` and ``IMSSAV0030`` are **unconfirmed**).
IMS_CODE_STALE: Final = "IMSSAV0010"
IMS_CODE_DECLARATION_MISSING: Final = "IMSSAV0054"
IMS_CODE_IN_PROGRESS: Final = "IMSSAV0015"
IMS_CODE_SCHEMA: Final = "IMSSAV005"
IMS_CODE_PENDING_NOT_ALLOWED: Final = "IMSSAV0020"
IMS_CODE_REJECT_NOT_ALLOWED: Final = "IMSSAV0030"
IMS_CODE_MISSING_PARAMETERS: Final = "GEN5001"
#: Rule 4: the sections of "specified records" and the first period it applies to (year,
#: month). Both **unconfirmed** (see flynn-api.md section 12, open points).
IMS_SPECIFIED_SECTIONS: Final = frozenset({"b2bcn", "b2bcna"})
IMS_SPECIFIED_FROM: Final = (2025, 10)
#: Rule 6: the longest remark.
IMS_REMARKS_MAX: Final = 250

# --------------------------------------------------------------------------------------------
# Long-running tasks (section 7)
# --------------------------------------------------------------------------------------------

TASK_STATUS_ROUTE: Final = "/enriched/tasks/{flynn}/status/{task_id}"
TASK_RESULT_ROUTE: Final = "/enriched/tasks/{flynn}/result/{task_id}"
TASK_PAGE_ROUTE: Final = "/enriched/tasks/{flynn}/result/{task_id}/page/{page}"
TASK_DOWNLOAD_ROUTE: Final = "/enriched/tasks/{flynn}/download/{task_id}"
#: Status values that mean "not yet". Documented: ``processing``.
TASK_PENDING_STATUSES: Final = frozenset({"processing"})
#: Status values that mean "done, results ready". Documented: ``completed``.
TASK_COMPLETED_STATUSES: Final = frozenset({"completed"})
#: Failure values are **unconfirmed**: ``failed``, ``error`` and anything unknown are terminal.
TASK_FAILED_STATUSES: Final = frozenset({"failed", "error"})
#: The first page's number. **Unconfirmed** ("from 0" in one source): a client setting.
PAGE_BASE: Final = 0
#: A page count above this is taken as a broken answer rather than obeyed.
MAX_PAGE_COUNT: Final = 1_000_000
#: Results are kept this long from the task's creation.
TASK_RESULT_DAYS: Final = 7

# --------------------------------------------------------------------------------------------
# E-invoice by document details (section 8)
# --------------------------------------------------------------------------------------------

EINVOICE_ROUTE: Final = "/basic/einv/{flynn}/{irp}/eicore/{version}/Invoice/irnbydocdetails"
EINVOICE_IRPS: Final = ("ni1", "ni2")
EINVOICE_INTEROP: Final = ("NIC1", "NIC2")
EINVOICE_DOC_TYPES: Final = ("INV", "CRN", "DBN")
EINVOICE_DOC_NUMBER_PATTERN: Final = r"^[A-Za-z1-9][A-Za-z0-9/-]{0,15}$"
#: Query parameter names of the lookup (the seed page).
EINVOICE_QUERY_DOC_TYPE: Final = "doctype"
EINVOICE_QUERY_DOC_NUMBER: Final = "docnum"
EINVOICE_QUERY_DOC_DATE: Final = "docdate"
#: Document dates, in the query and in the signed documents (``DD/MM/YYYY``).
EINVOICE_DATE_FORMAT: Final = "%d/%m/%Y"
#: Acknowledgement and e-way bill times (``AckDt``, ``EwbDt``, ``IrnDt``), India time.
EINVOICE_DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
EINVOICE_TIMEZONE: Final = "Asia/Kolkata"
#: India's fixed UTC offset in minutes, used when the tz database is missing.
EINVOICE_UTC_OFFSET_MINUTES: Final = 330
#: The only signature algorithm of the signed invoice and QR code (JWS ``alg``).
EINVOICE_SIGNATURE_ALG: Final = "RS256"
#: The signed documents' ``kid`` is the upper-case hex SHA-1 thumbprint of the portal's
#: certificate (the seed's ``kid`` equals its ``x5t``, the base64url of that thumbprint).
#: **Unconfirmed** beyond the seed: used only to match certificates given without a ``kid``.
EINVOICE_KID_IS_SHA1_THUMBPRINT: Final = True
#: The JWT claim whose value is the signed JSON document, as a string.
EINVOICE_DATA_CLAIM: Final = "data"
#: The IRN: SHA-256 hex of supplier GSTIN + financial year (``2021-22``) + document type +
#: document number. The financial year starts in April. The portal upper-cases the document
#: number before hashing (GSTN advisory, in force from 1 June 2025; earlier IRNs of numbers
#: with lower-case letters may hash the number as given, so the integrity check accepts both).
FINANCIAL_YEAR_START_MONTH: Final = 4
IRN_UPPERCASE_DOC_NUMBER: Final = True
#: How long an IRP session opened with the password lasts (section 3).
IRP_SESSION_SECONDS: Final = 6 * 3600
#: ``error.type`` of ``err-irp-returned-error`` (section 4).
ERR_TYPE_IRP: Final = "Irp"
#: HTTP status and ``error.type`` of ``err-unable-to-authenticate-with-empty-password``.
#: **Unconfirmed** (only the message is documented; the client maps by message alone).
ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS: Final = 400
ERR_IRP_EMPTY_PASSWORD_TYPE: Final = "Irp"
#: Where ``err-irp-returned-error`` carries the portal's codes: ``args.details`` as
#: ``[{ErrorCode, ErrorMessage}]``, or (older) ``args["irp-err"].details`` with lower-case
#: keys. The exact lower-case spelling is **unconfirmed**: the client matches keys ignoring
#: case, ``_`` and ``-``.
ERR_ARG_IRP_DETAILS: Final = "details"
ERR_ARG_IRP_LEGACY: Final = "irp-err"
IRP_DETAIL_CODE: Final = "ErrorCode"
IRP_DETAIL_MESSAGE: Final = "ErrorMessage"
IRP_LEGACY_DETAIL_CODE: Final = "errorcode"
IRP_LEGACY_DETAIL_MESSAGE: Final = "errormessage"
#: Portal codes (section 8).
IRP_CODE_NOT_FOUND: Final = "2154"
IRP_CODE_NOT_AVAILABLE: Final = "2148"
IRP_NOT_FOUND_CODES: Final = frozenset({IRP_CODE_NOT_FOUND, IRP_CODE_NOT_AVAILABLE})
IRP_ERROR_MEANINGS: Final[dict[str, str]] = {
    "2154": "IRN details are not found",
    "2148": "requested IRN data is not available",
    "2150": "duplicate IRN",
    "2143": "the invoice does not belong to the user's GSTIN",
    "1005": "invalid token",
    "1015": "invalid GSTIN for this user",
    "2283": "an IRN older than 2 days cannot be fetched from the portal by IRN",
}

# --------------------------------------------------------------------------------------------
# Added for the built-in simulator (flynn_async.testing); the client may use them too.
# --------------------------------------------------------------------------------------------

#: ``error.type`` values from the error table (section 4).
ERR_TYPE_AUTHORIZATION: Final = "Authorization"
ERR_TYPE_NOT_FOUND: Final = "ResourceNotFound"
ERR_TYPE_CLIENT_REQUEST: Final = "ClientRequest"
#: ``error.type`` of a GST portal error relayed by Flynn. **Unconfirmed**.
ERR_TYPE_GSTN: Final = "Gstn"
#: ``error.args`` keys: the bad fields of ``err-invalid-request-body``, the bad parameter of
#: ``err-invalid-gstin-format``, the page of ``err-resource-not-found`` (the task id is echoed
#: under :data:`TASK_ID_KEY`).
ERR_ARG_ERROR_LOCATION: Final = "errorLocation"
ERR_ARG_PARAMETER_NAME: Final = "parameter-name"
ERR_ARG_PAGE: Final = "page"
#: Where a relayed GST portal error (:data:`ERR_GSTN`) carries the portal's code and text.
#: **Unconfirmed**: the GSTN API itself names them ``error_cd`` and ``message``.
ERR_ARG_GSTN_CODE: Final = "error_cd"
ERR_ARG_GSTN_MESSAGE: Final = "message"
#: The GSTN error shapes of section 13: ``args["gstn-err"] = {"status-code", "error-code",
#: "message"}``; an older route answers ``err-gstn-returned`` with
#: ``args = {"status-code", "gstn-err": {"code", "message"}}``.
ERR_GSTN_OLDER: Final = "err-gstn-returned"
ERR_ARG_GSTN_ERR: Final = "gstn-err"
ERR_ARG_GSTN_ERROR_CODE: Final = "error-code"
ERR_ARG_GSTN_OLDER_CODE: Final = "code"
ERR_ARG_GSTN_STATUS_CODE: Final = "status-code"
#: The messages that relay a GST portal error, in every shape.
GSTN_ERROR_MESSAGES: Final = frozenset({ERR_GSTN, ERR_GSTN_OLDER})
#: GST portal codes (section 5), one by one (both are in :data:`GST_SESSION_EXPIRED_CODES`).
GST_CODE_INVALID_SESSION: Final = "AUTH4033"  # invalid session or OTP
GST_CODE_SESSION_EXPIRED: Final = "AUTH4038"  # session expired
#: Single task status values (section 7); ``failed`` is **unconfirmed**.
TASK_STATUS_PROCESSING: Final = "processing"
TASK_STATUS_COMPLETED: Final = "completed"
TASK_STATUS_FAILED: Final = "failed"

# --------------------------------------------------------------------------------------------
# GSTR-2B (section 13). The routes, query names and codes are **unconfirmed** through Flynn.
# --------------------------------------------------------------------------------------------

#: The GST API version of the 2B routes: a client setting (``gstr2b_api_version``).
DEFAULT_GSTR2B_API_VERSION: Final = "v4.0"
GSTR2B_FLYNN_VERSION: Final = "v1.0"
GSTR2B_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{v2b}/returns"
GSTR2B_REGENERATE_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{v2b}/returns/gstr2b/GEN2B"
GSTR2B_STATUS_ROUTE: Final = "/basic/gstn/{flynn}/taxpayerapi/{v2b}/returns/gstr2b/GENSTS2B"
GSTR2B_QUERY_RETURN_TYPE: Final = "gstn_ret_type"
GSTR2B_RETURN_TYPE: Final = "gstr2b"
GSTR2B_QUERY_PERIOD: Final = "rtnprd"
GSTR2B_QUERY_FILE: Final = "file_num"
GSTR2B_QUERY_GSTIN: Final = "gstin"
GSTR2B_QUERY_REFERENCE: Final = "int_tran_id"
#: The regenerate body's keys and the answer's reference id key.
GSTR2B_BODY_GSTIN: Final = "rtin"
GSTR2B_BODY_PERIOD: Final = "itcprd"
GSTR2B_REFERENCE_KEY: Final = "reference_id"
#: The get answer: ``{"chksum", "data": <2B document>}``; the document's file count.
GSTR2B_DOCUMENT_KEY: Final = "data"
GSTR2B_CHECKSUM_KEY: Final = "chksum"
GSTR2B_FILE_COUNT_KEY: Final = "fc"
#: The document lists appended file after file in a multi-file 2B.
GSTR2B_DOCUMENT_LISTS: Final = ("docdata", "docRejdata")
#: A queued answer: a request id and minutes to wait before asking again.
GSTR2B_QUEUED_ID_KEY: Final = "requestid"
GSTR2B_QUEUED_MINUTES_KEY: Final = "retryTimeInMinutes"
#: Regeneration status (``status_cd``), as the IMS request status of section 11.
GSTR2B_STATUS_KEY: Final = "status_cd"
GSTR2B_STATUS_IN_PROGRESS: Final = "IP"
GSTR2B_STATUS_PROCESSED: Final = "P"
GSTR2B_STATUS_PROCESSED_WITH_ERRORS: Final = "PE"
GSTR2B_STATUS_FAILED: Final = "ER"
#: Portal codes of the 2B routes.
GSTR2B_CODES_NOT_GENERATED: Final = frozenset({"RET2B1023", "GTR2B-002"})
GSTR2B_CODE_NO_DOCUMENTS: Final = "RET2B1016"
GSTR2B_CODE_TOO_EARLY: Final = "RET2B1018"
GSTR2B_CODE_WRONG_PERIOD: Final = "IMS2B007"
GSTR2B_CODE_DRAFT_NOT_READY: Final = "IMS2B009"
GSTR2B_CODE_UNCHANGED: Final = "IMS2005"
GSTR2B_CODE_MEANINGS: Final[dict[str, str]] = {
    "RET2B1023": "GSTR-2B is not generated yet for the period: regenerate it, or wait",
    "GTR2B-002": "GSTR-2B is not generated yet for the period: regenerate it, or wait",
    "RET2B1016": "no documents in the period",
    "RET2B1018": "asked before the period's cut-off: try later",
    "IMS2B007": "wrong ITC period, or GSTR-3B for it is already filed",
    "IMS2B009": "the draft GSTR-2B of the period is not available yet",
    "IMS2005": "nothing changed since the last generation",
}

# --------------------------------------------------------------------------------------------
# Which calls may be repeated (sections 4 and 7): the one table the client consults.
# --------------------------------------------------------------------------------------------

#: Routes that are read-only and safe to repeat after a connection fault, a timeout, a 429 or
#: a 5xx answer that is not an API error. Everything else (starting an IMS task, the OTP flow,
#: login and token refresh) is sent once: the IMS route takes no idempotency key, so repeating
#: it would start (and bill) a second task.
RETRYABLE_ROUTES: Final = frozenset(
    {
        TASK_STATUS_ROUTE,
        TASK_RESULT_ROUTE,
        TASK_PAGE_ROUTE,
        EINVOICE_ROUTE,
        GSTR2B_ROUTE,
        GSTR2B_STATUS_ROUTE,
        IMS_COUNTS_ROUTE,  # read-only IMS returns routes
        IMS_REQUEST_STATUS_ROUTE,
    }
)
