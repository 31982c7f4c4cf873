"""Deterministic sample values for any ROS message type, for round-trip tests."""

from __future__ import annotations

import importlib
import math

import numpy as np

_PRIMITIVES = {
    'boolean': True, 'octet': b'\x07', 'char': 'c',
    'float': 1.5, 'double': 2.25, 'int8': -8, 'uint8': 8, 'int16': -16, 'uint16': 16,
    'int32': -32, 'uint32': 32, 'int64': -(2 ** 40), 'uint64': 2 ** 40, 'string': 'text',
    'wstring': 'wide',
}


def message_class(type_name: str):
    """'pkg/msg/Name' (or 'pkg/Name') -> the Python class."""
    parts = type_name.split('/')
    pkg, name = parts[0], parts[-1]
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


def sample(cls, tag: str = ''):
    """An instance of cls with every field set to a non-default, deterministic value."""
    msg = cls()
    for name, type_str in msg.get_fields_and_field_types().items():
        setattr(msg, name, _value(type_str, f'{tag}{name}'))
    return msg


def _value(type_str: str, tag: str):
    if type_str.startswith('sequence<') or '[' in type_str:
        inner = type_str[len('sequence<'):-1] if type_str.startswith('sequence<') \
            else type_str[:type_str.index('[')]
        inner = inner.split(',')[0]
        count = 2
        if '[' in type_str and not type_str.endswith('[]'):
            count = int(type_str[type_str.index('[') + 1:-1])
        values = [_value(inner, f'{tag}{i}') for i in range(count)]
        if inner in ('float', 'double'):
            return np.array(values, dtype=np.float32 if inner == 'float' else np.float64)
        return values
    base = type_str.split('<')[0]
    if base in _PRIMITIVES:
        value = _PRIMITIVES[base]
        return f'{value}-{tag}' if base in ('string', 'wstring') else value
    return sample(message_class(base), tag)


def equal(a, b) -> bool:
    """Field-by-field equality that treats numpy arrays and float32 rounding sanely."""
    if hasattr(a, 'get_fields_and_field_types'):
        return type(a) is type(b) and all(
            equal(getattr(a, f), getattr(b, f)) for f in a.get_fields_and_field_types())
    if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    return a == b
