"""ROS parameters declared from a core's settings dataclass (ezshop_common.settings).

Every field becomes one parameter with its description and range. Dynamic fields can be set
while the node runs (`ros2 param set`): the value is checked (type and range by rclpy from the
descriptor, NaN here), the settings object is rebuilt and handed to the node's ``on_change``.
Every other field is read_only in its descriptor, so `ros2 param set` refuses it instead of
reporting a success that changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_common.settings import SettingInfo, out_of_range, setting_fields

SettingsT = TypeVar('SettingsT')


def descriptor(info: SettingInfo, default: Any, read_only: bool) -> ParameterDescriptor:
    """The ParameterDescriptor of one setting: description, range (numbers), read_only."""
    described = ParameterDescriptor(description=info.description, read_only=read_only)
    if info.low is None or info.high is None or isinstance(default, bool):
        return described
    if isinstance(default, int):
        described.integer_range = [IntegerRange(from_value=int(info.low),
                                                to_value=int(info.high), step=1)]
    elif isinstance(default, float):
        described.floating_point_range = [FloatingPointRange(
            from_value=float(info.low), to_value=float(info.high), step=0.0)]
    return described


def declare_settings(node: Node, settings_type: type[SettingsT], *, prefix: str = '',
                     on_change: Callable[[SettingsT], None] | None = None,
                     **overrides: Any) -> SettingsT:
    """Declare one parameter per setting of settings_type (named prefix + field name) and
    return the settings built from their values. overrides replace a field's default (e.g. a
    node-specific default). Without on_change every parameter is read-only. A settings type
    with a problems() method (cross-field checks) has it checked at start (ValueError) and on
    every change (refused)."""
    values: dict[str, Any] = {}
    dynamic: dict[str, tuple[str, SettingInfo]] = {}
    for field, info in setting_fields(settings_type):
        if field.name in overrides:
            default = overrides[field.name]
        elif field.default is not dataclasses.MISSING:
            default = field.default
        else:
            default = field.default_factory()
        live = info.dynamic and on_change is not None
        name = prefix + field.name
        if isinstance(default, float):
            _whole_number_as_float(node, name)
        values[field.name] = node.declare_parameter(
            name, default, descriptor(info, default, read_only=not live)).value
        if live:
            dynamic[name] = (field.name, info)
    current = settings_type(**values)
    problems = _problems(current)
    if problems:
        raise ValueError(f'{node.get_name()}: ' + '; '.join(problems))
    if not dynamic:
        return current

    def validate(parameters) -> SetParametersResult:
        changes = {}
        for parameter in parameters:
            if parameter.name in dynamic:
                field_name, info = dynamic[parameter.name]
                problem = out_of_range(info, parameter.value)
                if problem:
                    return SetParametersResult(successful=False,
                                               reason=f'{parameter.name}: {problem}')
                changes[field_name] = parameter.value
        if not changes:
            return SetParametersResult(successful=True)
        try:  # a settings class may refuse a combination in its own constructor
            problems = _problems(dataclasses.replace(current, **changes))
        except (TypeError, ValueError) as exc:
            problems = [str(exc)]
        return SetParametersResult(successful=not problems, reason='; '.join(problems))

    def apply(parameters) -> None:
        nonlocal current
        changes = {dynamic[p.name][0]: p.value for p in parameters if p.name in dynamic}
        if not changes:
            return
        current = dataclasses.replace(current, **changes)
        node.get_logger().info('settings changed: ' + ', '.join(
            f'{prefix}{k}={v}' for k, v in sorted(changes.items())))
        on_change(current)

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(apply)
    return current


def _whole_number_as_float(node: Node, name: str) -> None:
    """A whole number given for a float setting (`-p rate:=2`, a launch file's `value="2"`)
    counts as that float, as a reader of the command line means it; rclpy would refuse it."""
    given = node._parameter_overrides.get(name)  # rclpy keeps the overrides only there
    if given is not None and given.type_ == Parameter.Type.INTEGER:
        node._parameter_overrides[name] = Parameter(name, value=float(given.value))


def _problems(settings: Any) -> list[str]:
    """A settings object's own cross-field checks (its problems() method), if it has them."""
    check = getattr(settings, 'problems', None)
    return list(check()) if callable(check) else []


def declare_read_only(node: Node, name: str, default: Any, description: str) -> Any:
    """Declare a parameter read once at start (wiring: files, ids, topics); return its value."""
    return node.declare_parameter(
        name, default, ParameterDescriptor(description=description, read_only=True)).value
