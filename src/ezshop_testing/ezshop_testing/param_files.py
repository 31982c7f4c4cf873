"""ROS 2 parameter files as the nodes read them, for tests of the shipped configuration."""

from __future__ import annotations

from pathlib import Path

import yaml

#: The key prefix that makes a section apply to a node of that name in any namespace.
ANY_NAMESPACE = '/**/'


def flat(values: dict, prefix: str = '') -> dict:
    """Nested keys as ROS reads them from a parameter file: a.b for {a: {b: ...}}."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def node_parameters(path: str | Path) -> dict[str, dict]:
    """{node name: {parameter: value}} of a parameter file; every section must be keyed
    `/**/<node name>` so a store pushed into a namespace still gets its parameters."""
    sections = yaml.safe_load(Path(path).read_text())
    out = {}
    for key, section in sections.items():
        if not key.startswith(ANY_NAMESPACE):
            raise ValueError(f'{path}: section {key!r} is not keyed {ANY_NAMESPACE}<node name>')
        out[key[len(ANY_NAMESPACE):]] = flat(section['ros__parameters'])
    return out
