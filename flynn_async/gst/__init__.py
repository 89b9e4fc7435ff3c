"""GST sessions: the taxpayer's OTP session, its store, and the return period.

The names are exported at the top level (:class:`flynn_async.GstSession`, ...); this package
is where they live. Imports only the layers below (``_core``, ``_http``, ``_tasks``).
"""
