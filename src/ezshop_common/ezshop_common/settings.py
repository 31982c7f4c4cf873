"""Settings dataclasses that describe themselves.

A core's settings dataclass declares each field with :func:`setting`: its default, what it
means (with units), its range and whether it may change while the node runs. The ROS layer
(ezshop_ros.parameters.declare_settings) declares one ROS parameter per field from that, so a
parameter is described in exactly one place, next to the code that uses it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: Key of the SettingInfo in a dataclass field's metadata.
SETTING_KEY = 'ezshop_setting'


@dataclass(frozen=True)
class SettingInfo:
    """What a setting means, its inclusive range (numbers) and whether it is dynamic."""

    description: str
    low: float | int | None = None
    high: float | int | None = None
    dynamic: bool = False


def setting(default: Any, description: str, low: float | int | None = None,
            high: float | int | None = None, *, dynamic: bool = False) -> Any:
    """A dataclass field carrying its SettingInfo. dynamic=True: safe to change at run time
    (a threshold or timeout read on every use); else it is read once at start (read-only)."""
    info = SettingInfo(description, low, high, dynamic)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={SETTING_KEY: info})
    return dataclasses.field(default=default, metadata={SETTING_KEY: info})


def setting_fields(settings_type: type) -> list[tuple[dataclasses.Field, SettingInfo]]:
    """The fields of a settings dataclass that were declared with :func:`setting`."""
    return [(f, f.metadata[SETTING_KEY]) for f in dataclasses.fields(settings_type)
            if SETTING_KEY in f.metadata]


def out_of_range(info: SettingInfo, value: Any) -> str | None:
    """Why value is not acceptable for the setting (NaN, below low, above high), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return 'is NaN'
    if info.low is not None and value < info.low:
        return f'{value} is below {info.low}'
    if info.high is not None and value > info.high:
        return f'{value} is above {info.high}'
    return None
