"""IMS (Invoice Management System) invoices: the records, the merged result, the downloads.

``_models`` holds the records and the merged :class:`~flynn_async.ImsInvoices`; ``_decoding``
turns pages into records (and back); ``_download`` is the IMS API (submit, resume, download
sections). Imports only the layers below (``_core``, ``_http``, ``_tasks``, ``gst``); the
batch runner sits above it and this package never imports it.
"""
