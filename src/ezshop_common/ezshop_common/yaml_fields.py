"""A parsed YAML value with its key path, so every validation error names the bad key.

Used by the store description loader and the simulator's scenario loader:

    root = Field(yaml.safe_load(text), error=StoreConfigError)
    price = root.child('catalogue').sequence()[0].child('price_cents').integer(minimum=0)
    # -> StoreConfigError('catalogue[0].price_cents: must be >= 0 (got -1)')
"""

from __future__ import annotations

import math
from typing import Any

_MISSING = object()


class Field:
    """A value from a YAML document and the key path that leads to it."""

    def __init__(self, value: Any, path: str = '', error: type[Exception] = ValueError):
        self.value = value
        self.path = path
        self.error = error

    def _at(self, value: Any, path: str) -> Field:
        return Field(value, path, self.error)

    def fail(self, message: str):
        raise self.error(f'{self.path or "<top level>"}: {message}')

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def child(self, key: str, default: Any = _MISSING) -> Field:
        path = f'{self.path}.{key}' if self.path else key
        if not isinstance(self.value, dict) or key not in self.value:
            if default is _MISSING:
                raise self.error(f'{path}: missing required key')
            return self._at(default, path)
        return self._at(self.value[key], path)

    def mapping(self, *allowed: str) -> Field:
        """Check this is a mapping whose keys are all in ``allowed``."""
        if not isinstance(self.value, dict):
            self.fail(f'must be a mapping (got {type(self.value).__name__})')
        for key in self.value:
            if key not in allowed:
                path = f'{self.path}.{key}' if self.path else str(key)
                raise self.error(f'{path}: unknown key (expected one of: {", ".join(allowed)})')
        return self

    def sequence(self, min_len: int = 0) -> list[Field]:
        if not isinstance(self.value, list):
            self.fail(f'must be a list (got {type(self.value).__name__})')
        if len(self.value) < min_len:
            self.fail(f'needs at least {min_len} entries')
        return [self._at(v, f'{self.path}[{i}]') for i, v in enumerate(self.value)]

    def string(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            self.fail(f'must be a non-empty string (got {self.value!r})')
        return self.value

    def text(self) -> str:
        """A string that may be empty."""
        if self.value is None:
            return ''
        if not isinstance(self.value, str):
            self.fail(f'must be a string (got {self.value!r})')
        return self.value

    def identifier(self) -> str:
        """A name that becomes part of ROS topic names: a letter, then letters, digits, _."""
        text = self.string()
        if not all(c.isalnum() or c == '_' for c in text) or not text[0].isalpha():
            self.fail(f'{text!r} must start with a letter and hold only letters, digits '
                      'and _ (it becomes part of ROS topic names)')
        return text

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail(f'must be true or false (got {self.value!r})')
        return self.value

    def choice(self, options: tuple[str, ...]) -> str:
        if self.value not in options:
            self.fail(f'must be one of {", ".join(options)} (got {self.value!r})')
        return self.value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(f'must be an integer (got {self.value!r})')
        if minimum is not None and self.value < minimum:
            self.fail(f'must be >= {minimum} (got {self.value})')
        if maximum is not None and self.value > maximum:
            self.fail(f'must be <= {maximum} (got {self.value})')
        return self.value

    def number(self, minimum: float | None = None, maximum: float | None = None,
               exclusive_minimum: float | None = None) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) \
                or not math.isfinite(self.value):
            self.fail(f'must be a finite number (got {self.value!r})')
        if minimum is not None and self.value < minimum:
            self.fail(f'must be >= {minimum} (got {self.value})')
        if maximum is not None and self.value > maximum:
            self.fail(f'must be <= {maximum} (got {self.value})')
        if exclusive_minimum is not None and self.value <= exclusive_minimum:
            self.fail(f'must be > {exclusive_minimum} (got {self.value})')
        return float(self.value)

    def int_list(self, length: int) -> list[int]:
        if not isinstance(self.value, list) or len(self.value) != length or any(
                isinstance(v, bool) or not isinstance(v, int) for v in self.value):
            self.fail(f'must be a list of {length} integers (got {self.value!r})')
        return list(self.value)
