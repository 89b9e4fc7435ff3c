"""The HTTP layer: the one table of API facts, the envelope, one request and its retries, login.

``_api`` is the table of facts (routes, headers, codes); ``_envelope`` reads the API's answer
envelope; ``_transport`` sends one request (retries, body caps, errors to exceptions);
``_auth`` keeps the login token (single-flight renewal); ``_credentials`` and
``_token_store`` hold what logging in needs. Imports only :mod:`flynn_async._core`.
"""
