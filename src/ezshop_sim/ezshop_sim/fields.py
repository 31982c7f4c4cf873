"""Scenario YAML values with their key paths (ezshop_common.yaml_fields), raising ScenarioError."""

from __future__ import annotations

from typing import Any

from ezshop_common.yaml_fields import Field as _Field


class ScenarioError(ValueError):
    """A scenario is invalid; the message names the bad key, e.g. ``shoppers[1].enter_s``."""


class Field(_Field):
    """A value from a scenario file and the key path that leads to it."""

    def __init__(self, value: Any, path: str = '', error: type[Exception] = ScenarioError):
        super().__init__(value, path, error)
