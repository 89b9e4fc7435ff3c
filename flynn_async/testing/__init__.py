"""A strict, local fake of the Flynn API for tests, benchmarks and demos.

:class:`FlynnSimulator` serves the login service, the GST (OTP) session routes, the IMS
download route and the task routes on ``127.0.0.1`` over real sockets, with deterministic
seeded data, and checks what the real service checks, so that a sloppy client fails against
it. Its behaviour is set in groups of settings, each an immutable value with the real
service's plain behaviour as its defaults: :class:`RecordSettings` (the generated data),
:class:`PagingSettings`, :class:`TaskSettings` (processing time, failing tasks),
:class:`DelaySettings` (latency), :class:`ShapeSettings` (which documented answer shapes),
:class:`EInvoiceSettings` and :class:`FaultSettings` (seeded faults); :class:`SimulatorConfig`
holds one of each.

::

    from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

    async with FlynnSimulator(
        records=RecordSettings(per_section=300), paging=PagingSettings(size=100)
    ) as sim:
        ...  # point a client at sim.base_url / sim.login_url with sim.credentials

The built-in user logs in with :data:`USER_HANDLE` and :data:`USER_PASSWORD`; the simulated
GST portal accepts the OTP :data:`SIM_OTP`. The simulated e-invoice portal
(``sim.einvoice``) signs with its own key (``sim.einvoice.certificate_pem``) and knows the
documents of :func:`sample_einvoices` unless given others (:class:`SimEInvoice`).
"""

from ._einvoice_sim import SIM_EINVOICE_ISSUER, SimEInvoice, sample_einvoices
from ._objects import SimTask
from ._settings import (
    DelaySettings,
    EInvoiceSettings,
    FaultSettings,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
    SimulatorConfig,
    TaskSettings,
)
from ._simulator import SIM_OTP, USER_HANDLE, USER_PASSWORD, FlynnSimulator

__all__ = [
    "SIM_EINVOICE_ISSUER",
    "SIM_OTP",
    "USER_HANDLE",
    "USER_PASSWORD",
    "DelaySettings",
    "EInvoiceSettings",
    "FaultSettings",
    "FlynnSimulator",
    "PagingSettings",
    "RecordSettings",
    "ShapeSettings",
    "SimEInvoice",
    "SimTask",
    "SimulatorConfig",
    "TaskSettings",
    "sample_einvoices",
]
