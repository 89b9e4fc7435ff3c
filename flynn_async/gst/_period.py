"""A GST return period: the value lives in :mod:`flynn_async._core._period` (the wire codec needs
it below every API layer); this module keeps the import path the GST layer uses."""

from __future__ import annotations

from flynn_async._core._period import ReturnPeriod, _parse_return_period

__all__ = ["ReturnPeriod", "_parse_return_period"]
