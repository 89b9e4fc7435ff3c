"""The simulator's settings groups, and the flat settings of 0.1: each still accepted (by
``FlynnSimulator``, ``SimulatorConfig``, ``replace`` and as an attribute) with a
``DeprecationWarning`` naming the new spelling, to the same effect."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import pytest

from flynn_async.testing import (
    DelaySettings,
    EInvoiceSettings,
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
    SimEInvoice,
    SimulatorConfig,
    TaskSettings,
    sample_einvoices,
)
from flynn_async.testing._settings import FLAT_NAMES, GROUP_NAMES, new_spelling

#: A value other than the default for every flat name of 0.1.
OLD_VALUES: dict[str, Any] = {
    "seed": 7,
    "records_per_section": 3,
    "unknown_sections": ("impg",),
    "all_sections_in_every_task": True,
    "empty_other_sections": True,
    "page_size": 4,
    "page_base": 1,
    "processing_polls": 5,
    "processing_seconds": 30.0,
    "terminal_status": "failed",
    "failing_tasks": 2,
    "failing_gstins": frozenset({"27AAPFU0939F1ZV"}),
    "latency": 0.5,
    "page_latency": 0.25,
    "envelope": "old",
    "status_shape": "wrapped",
    "expiry_unit": "s",
    "flag_style": "boolean",
    "gst_error_shape": "older",
    "einvoice_documents": (SimEInvoice(invoice=sample_einvoices("24AAAPI3182M002")[0].invoice),),
    "irp_error_code": "2150",
    "irp_error_shape": "irp-err",
    "einvoice_tamper": True,
    "fault_seed": 11,
    "fault_routes": frozenset({"task_page"}),
    "error_rate": 0.25,
    "error_statuses": (504,),
    "rate_limit_rate": 0.125,
    "retry_after": "3",
    "reset_rate": 0.0625,
    "slow_rate": 0.5,
    "slow_seconds": 2.0,
    "truncate_rate": 0.03125,
    "malformed_rate": 0.015625,
    "page_not_found_once": 0.5,
    "token_expiry_every": 9,
}
GROUP_CLASSES: dict[str, type] = {
    "records": RecordSettings,
    "paging": PagingSettings,
    "tasks": TaskSettings,
    "delays": DelaySettings,
    "shapes": ShapeSettings,
    "einvoice": EInvoiceSettings,
    "faults": FaultSettings,
}


def test_every_old_name_has_a_value_and_a_home() -> None:
    assert set(OLD_VALUES) == set(FLAT_NAMES)
    assert len(FLAT_NAMES) == 36  # every field of 0.1's SimulatorConfig
    assert GROUP_NAMES == tuple(GROUP_CLASSES)
    assert [f.name for f in attrs.fields(SimulatorConfig)] == list(GROUP_NAMES)
    homes = [(group, field) for group, field in FLAT_NAMES.values()]
    assert len(set(homes)) == len(homes)  # no two old names land on one field
    for group, field in homes:
        assert field in attrs.fields_dict(GROUP_CLASSES[group])
    # and every field of every group has an old name (nothing new was added on the way)
    assert sum(len(attrs.fields(cls)) for cls in GROUP_CLASSES.values()) == len(homes)


def new(name: str) -> dict[str, Any]:
    """The new spelling of ``name=OLD_VALUES[name]``: its group, with that one field set."""
    group, field = FLAT_NAMES[name]
    return {group: GROUP_CLASSES[group](**{field: OLD_VALUES[name]})}


def deprecated(name: str) -> Any:
    spelling = new_spelling(name)
    assert spelling.endswith("(" + FLAT_NAMES[name][1] + "=...)")
    return pytest.warns(
        DeprecationWarning, match=rf"\b{name}= is deprecated.*{re.escape(spelling)}"
    )


@pytest.mark.parametrize("name", sorted(FLAT_NAMES))
def test_each_old_name_warns_and_has_the_same_effect(name: str) -> None:
    expected = SimulatorConfig(**new(name))
    assert expected != SimulatorConfig()  # the value is not the default: the test can fail
    with deprecated(name):
        assert FlynnSimulator(**{name: OLD_VALUES[name]}).config == expected
    with deprecated(name):
        assert SimulatorConfig(**{name: OLD_VALUES[name]}) == expected
    with deprecated(name):
        assert SimulatorConfig().replace(**{name: OLD_VALUES[name]}) == expected
    with deprecated(name):
        value = getattr(expected, name)
    group, field = FLAT_NAMES[name]
    assert value == getattr(getattr(expected, group), field) == OLD_VALUES[name]


def test_the_warning_points_at_the_caller() -> None:
    calls = [
        lambda: FlynnSimulator(page_size=4),
        lambda: SimulatorConfig(page_size=4),
        lambda: SimulatorConfig().replace(page_size=4),
        lambda: SimulatorConfig().page_size,  # type: ignore[attr-defined]
    ]
    for call in calls:
        with pytest.warns(DeprecationWarning, match="page_size") as caught:
            call()
        assert [w.filename for w in caught] == [__file__]


def test_old_names_change_one_field_on_top_of_the_groups() -> None:
    base = SimulatorConfig(paging=PagingSettings(size=3, base=1), records=RecordSettings(seed=5))
    with pytest.warns(DeprecationWarning, match="deprecated"):
        changed = base.replace(page_size=9, records_per_section=2)
    assert changed.paging == PagingSettings(size=9, base=1)
    assert changed.records == RecordSettings(seed=5, per_section=2)
    # a group and an old name of it: the name on top
    with pytest.warns(DeprecationWarning, match="page_size"):
        sim = FlynnSimulator(base, paging=PagingSettings(base=1), page_size=7)
    assert sim.config.paging == PagingSettings(size=7, base=1)
    assert sim.config.records is base.records
    # several old names of one group are applied at once: checks see them all together
    with pytest.warns(DeprecationWarning, match="rate"):
        faults = SimulatorConfig(error_rate=0.6, slow_rate=0.4).faults
    assert (faults.error_rate, faults.slow_rate) == (0.6, 0.4)
    with pytest.warns(DeprecationWarning, match="rate"), pytest.raises(ValueError, match="add up"):
        SimulatorConfig(error_rate=0.6, slow_rate=0.6)


def test_unknown_names_are_type_errors_without_a_warning() -> None:
    with pytest.raises(TypeError, match="page_sise"):
        FlynnSimulator(page_sise=4)
    with pytest.raises(TypeError, match="page_sise"):
        SimulatorConfig().replace(page_sise=4)
    with pytest.raises(AttributeError, match="page_sise"):
        _ = SimulatorConfig().page_sise  # type: ignore[attr-defined]


def test_groups_replace_whole_and_keep_the_others() -> None:
    config = SimulatorConfig(
        records=RecordSettings(per_section=4), faults=FaultSettings(error_rate=0.5)
    )
    changed = config.replace(faults=FaultSettings(seed=3))
    assert changed.faults == FaultSettings(seed=3)  # the whole group: error_rate back to 0
    assert changed.records is config.records
    assert config.replace() == config
    sim = FlynnSimulator(config, tasks=TaskSettings(processing_polls=0))
    assert sim.config == config.replace(tasks=TaskSettings(processing_polls=0))
    hash(config)  # immutable values all the way down
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.paging = PagingSettings()  # type: ignore[misc]


def test_the_benchmarks_send_settings_groups_as_json() -> None:
    from benchmarks._common import RemoteSimulator
    from benchmarks._simserver import settings_groups

    groups = {
        "records": RecordSettings(per_section=7, seed=3),
        "paging": PagingSettings(size=9),
        "tasks": TaskSettings(processing_polls=0),
        "delays": DelaySettings(page=0.05),
        "faults": FaultSettings(routes=["task_page"], error_rate=0.5),
    }
    sent = json.loads(json.dumps(RemoteSimulator(**groups).config))
    assert sent["paging"] == {"size": 9}  # only what differs from the defaults
    assert settings_groups(sent) == groups
