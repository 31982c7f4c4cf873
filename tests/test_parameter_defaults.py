"""Every parameter default is written once, in code: a settings dataclass
(ezshop_common.settings) or the node's own declare_read_only / declare_parameter call. Two
copies are for operators: ezshop_bringup's config/*.yaml and the parameter tables of
docs/packages/*.md. This test fails when a copy names a parameter the node does not declare
(ROS ignores it silently), gives another default, or a table leaves a parameter out.

Plain Python: the node modules (rclpy) are read as source and never imported; the settings
dataclasses they declare from are imported.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ezshop_common.settings import setting_fields
from ezshop_testing.param_files import node_parameters

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / 'src'
CONFIG_DIR = SRC / 'ezshop_bringup' / 'config'
DOCS_DIR = ROOT / 'docs' / 'packages'
DIAGNOSTICS_SOURCE = SRC / 'ezshop_ros' / 'ezshop_ros' / 'diagnostics.py'

#: Each node's source (under src/), by the name the docs and this test give it.
NODE_SOURCES = {
    'store_node': 'ezshop_store/ezshop_store/store_node.py',
    'fusion_node': 'ezshop_store/ezshop_store/fusion_node.py',
    'analytics_node': 'ezshop_store/ezshop_store/analytics_node.py',
    'shelf_monitor': 'ezshop_sensors/ezshop_sensors/shelf_monitor_node.py',
    'lane_sensor_node': 'ezshop_sensors/ezshop_sensors/lane_sensor_node.py',
    'temperature_monitor': 'ezshop_sensors/ezshop_sensors/temperature_monitor_node.py',
    'temperature_sensor_node': 'ezshop_sensors/ezshop_sensors/temperature_sensor_node.py',
    'camera_node': 'ezshop_vision/ezshop_vision/camera_node.py',
    'face_node': 'ezshop_vision/ezshop_vision/face_node.py',
    'door_node': 'ezshop_vision/ezshop_vision/door_node.py',
    'sim_node': 'ezshop_sim/ezshop_sim/sim_node.py',
    'mqtt_bridge': 'ezshop_mqtt/ezshop_mqtt/bridge_node.py',
    'referee': 'ezshop_sim/ezshop_sim/referee_node.py',
    'record': 'ezshop_bag/ezshop_bag/record_node.py',
    'replay': 'ezshop_bag/ezshop_bag/replay_node.py',
    'web_node': 'ezshop_web/ezshop_web/web_node.py',
    'greeter_node': 'ezshop_web/ezshop_web/greeter_node.py',
    'smoke_talker': 'ezshop_testing/ezshop_testing/smoke_talker.py',
}

#: The node each section of a parameter file configures: sections are keyed by the node name
#: the launch files give each instance.
SECTION_NODES = {
    'store_node': 'store_node',
    'fusion_node': 'fusion_node',
    'analytics_node': 'analytics_node',
    'shelf_monitor': 'shelf_monitor',
    'lane_sensor_shelf_a': 'lane_sensor_node',
    'lane_sensor_shelf_b': 'lane_sensor_node',
    'temperature_monitor': 'temperature_monitor',
    'temperature_sensor_node': 'temperature_sensor_node',
    'camera_entrance': 'camera_node',
    'camera_exit': 'camera_node',
    'camera_shelf_a': 'camera_node',
    'camera_shelf_b': 'camera_node',
    'face_node': 'face_node',
    'door_entrance': 'door_node',
    'door_exit': 'door_node',
    'sim_node': 'sim_node',
    'mqtt_bridge': 'mqtt_bridge',
    'talker': 'smoke_talker',
}

#: Parameter files whose values are the operator's copy of the defaults.
DEFAULTS_FILES = ('sensors.yaml', 'store_nodes.yaml', 'vision.yaml', 'mqtt.yaml')
#: Parameter files that set their own values on purpose (the simulated store, the smoke
#: launch's talker): only their names are checked.
OVERRIDE_FILES = ('sim.yaml', 'smoke.yaml')
#: The YAML files of config/ that are not ROS parameter files.
NOT_PARAMETER_FILES = ('store.yaml',)

#: Parameters whose value in a defaults file belongs to the instance (its camera, door,
#: shelf, lanes and their wiring), not a copy of the default: only the name is checked.
#: '*.' is a per-lane prefix (`lane_1.`).
INSTANCE_PARAMETERS = {
    'camera_node': {'source', 'camera_id'},
    'face_node': {'camera_ids'},
    'door_node': {'door_id'},
    'lane_sensor_node': {'shelf_id', 'lanes', '*.kind', '*.trigger_pin', '*.echo_pin', '*.pin',
                         '*.frame_id', '*.rate_hz', '*.mock_value'},
}
#: The parameter listing the ids a node's per-item prefix ('*.') stands for.
PREFIX_ITEMS = {'lane_sensor_node': 'lanes'}

#: The node each parameter table of docs/packages describes: (file, heading above it).
DOC_TABLES = {
    ('ezshop_bag.md', 'Recorder (record_node.py)'): 'record',
    ('ezshop_bag.md', 'Replay (replay_node.py)'): 'replay',
    ('ezshop_sensors.md', 'lane_sensor_node'): 'lane_sensor_node',
    ('ezshop_sensors.md', 'shelf_monitor'): 'shelf_monitor',
    ('ezshop_sensors.md', 'temperature_monitor'): 'temperature_monitor',
    ('ezshop_sensors.md', 'temperature_sensor_node'): 'temperature_sensor_node',
    ('ezshop_sim.md', 'Parameters (config/sim.yaml)'): 'sim_node',
    ('ezshop_mqtt.md', 'Parameters (`mqtt_bridge`)'): 'mqtt_bridge',
    ('ezshop_sim.md', 'The referee and scoring'): 'referee',
    ('ezshop_store.md', 'Parameters (`store_node`)'): 'store_node',
    ('ezshop_store.md', 'Parameters (`fusion_node`)'): 'fusion_node',
    ('ezshop_store.md', 'Parameters (`analytics_node`)'): 'analytics_node',
    ('ezshop_vision.md', 'camera_node'): 'camera_node',
    ('ezshop_vision.md', 'face_node'): 'face_node',
    ('ezshop_vision.md', 'door_node'): 'door_node',
    ('ezshop_web.md', 'Parameters (web_node)'): 'web_node',
    ('ezshop_web.md', 'Parameters (greeter_node)'): 'greeter_node',
}
#: Nodes with no parameter table (test fixtures).
UNDOCUMENTED_NODES = {'smoke_talker'}

#: Units a documented default may carry after its value ("2.0 s").
UNITS = ('s', 'm', 'px', 'Hz', 'lux')
#: A parameter name ending in one of these has that unit.
NAME_UNITS = {'_s': 's', '_m': 'm', '_px': 'px', '_hz': 'Hz', '_lux': 'lux'}
#: A setting's description names its unit like this: "... this long (s)".
DESCRIBED_UNIT = re.compile(r'\((s|m|px|Hz|lux)\)')


class Unset:
    """The default of a parameter declared without a value (by its type), or of a docs cell
    that gives none (`unset`, a placeholder like `<shelf>_<lane>`)."""

    def __repr__(self) -> str:
        return 'unset'


UNSET = Unset()


@dataclasses.dataclass(frozen=True)
class Declared:
    """One parameter a node declares: its default, unit if known, and who declares it."""

    default: object
    owner: str
    unit: str | None = None


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def default_value(node: ast.expr, modules: dict[str, str]) -> object:
    """A default written as a literal or as a constant imported from a plain-Python module;
    else UNSET (a parameter type, a variable)."""
    if isinstance(node, ast.Name) and node.id in modules:
        return getattr(importlib.import_module(modules[node.id]), node.id)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return UNSET


def parameter_name(node: ast.expr) -> str | None:
    """A parameter name written as a string; an f-string's fields become '*'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ''.join(part.value if isinstance(part, ast.Constant) else '*'
                       for part in node.values)
    return None


def name_unit(name: str) -> str | None:
    return next((unit for suffix, unit in NAME_UNITS.items() if name.endswith(suffix)), None)


@functools.cache
def diagnostics_period() -> tuple[str, object]:
    """diagnostic_updater's period parameter and the default ezshop_ros.diagnostics gives it."""
    tree = ast.parse(DIAGNOSTICS_SOURCE.read_text())
    name = next(s.value.value for s in tree.body if isinstance(s, ast.Assign)
                and getattr(s.targets[0], 'id', None) == 'PERIOD_PARAMETER')
    function = next(s for s in tree.body
                    if isinstance(s, ast.FunctionDef) and s.name == 'diagnostics_updater')
    return name, ast.literal_eval(function.args.defaults[-1])


@functools.cache
def declared_parameters(node: str) -> dict[str, Declared]:
    """Every parameter in the node's source: its settings dataclasses' fields (with the
    prefix it passes), the parameters it declares itself, diagnostic_updater's period."""
    path = SRC / NODE_SOURCES[node]
    tree = ast.parse(path.read_text())
    modules = {alias.asname or alias.name: statement.module for statement in ast.walk(tree)
               if isinstance(statement, ast.ImportFrom) for alias in statement.names}
    # Function name -> position of the parameter name among its arguments.
    by_hand = {'declare_read_only': 1, 'declare_parameter': 0}
    for statement in ast.walk(tree):  # p = self.declare_parameter
        if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Attribute)
                and statement.value.attr == 'declare_parameter'):
            by_hand.update({target.id: 0 for target in statement.targets})
    declared = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        function = getattr(call.func, 'id', None) or getattr(call.func, 'attr', None)
        if function == 'declare_settings':
            type_name = call.args[1].id
            settings_type = getattr(importlib.import_module(modules[type_name]), type_name)
            prefix = next((parameter_name(k.value) for k in call.keywords if k.arg == 'prefix'),
                          '')
            for field, info in setting_fields(settings_type):
                default = (field.default if field.default is not dataclasses.MISSING
                           else field.default_factory())
                described = DESCRIBED_UNIT.search(info.description)
                declared[prefix + field.name] = Declared(
                    default, type_name, name_unit(field.name) or (described and described[1]))
        elif function in by_hand:
            position = by_hand[function]
            name = parameter_name(call.args[position])
            declared[name] = Declared(default_value(call.args[position + 1], modules),
                                      path.name, name_unit(name))
        elif function == 'diagnostics_updater':
            name, default = diagnostics_period()
            declared[name] = Declared(default, 'ezshop_ros.diagnostics', 's')
    return declared


def declared_key(node: str, name: str, values: dict | None = None) -> str | None:
    """The node's parameter that name (from a file or a docs table) is: itself, or
    '*.<rest>' for a per-item one (with values: its item must be one the node lists)."""
    declared = declared_parameters(node)
    if name in declared:
        return name
    if values is None:  # a docs row names the part after the prefix
        return f'*.{name}' if f'*.{name}' in declared else None
    item, _, rest = name.partition('.')
    if f'*.{rest}' in declared and item in values.get(PREFIX_ITEMS.get(node), ()):
        return f'*.{rest}'
    return None


def same(value: object, default: object) -> bool:
    """Equal and of the same type, as ROS takes a value for a declared parameter (1 is no
    double, so a file that writes 1 for 1.0 stops the node)."""
    if isinstance(default, list):
        return isinstance(value, list) and value == default
    return type(value) is type(default) and value == default


def config_problems(path: Path, values_are_defaults: bool) -> list[str]:
    """What a parameter file gets wrong: sections of no known node, names the node does not
    declare and (values_are_defaults) values that are not the default."""
    problems = []
    where = relative(path)
    for section, values in node_parameters(path).items():
        node = SECTION_NODES.get(section)
        if node is None:
            problems.append(f'{where}: section {section}: no node of that name is known '
                            '(add it to SECTION_NODES)')
            continue
        declared = declared_parameters(node)
        for name, value in values.items():
            key = declared_key(node, name, values)
            if key is None:
                problems.append(f'{where}: {section}: {name} is not a parameter of {node} '
                                '(ROS would ignore it)')
            elif (values_are_defaults and key not in INSTANCE_PARAMETERS.get(node, ())
                  and not same(value, declared[key].default)):
                problems.append(f'{where}: {section}: {name} is {value!r}, the default '
                                f'({declared[key].owner}) is {declared[key].default!r}')
    return problems


@dataclasses.dataclass(frozen=True)
class DocRow:
    """One parameter in a docs table: where, for which node, and its default cell."""

    where: str
    node: str
    name: str
    alternatives: list  # [(value, unit)]: one default, or one per kind ("0.3 m / 400.0 lux")


def split_row(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r'(?<!\\)\|', line.strip().strip('|'))]


def parse_value(text: str) -> tuple[object, str | None]:
    """A documented default (YAML, as written in config/*.yaml) and its unit, if any."""
    match = re.fullmatch(rf'(.+?)(?: ({"|".join(UNITS)}))?', text.strip())
    value, unit = match[1].strip(), match[2]
    if value == 'unset' or re.fullmatch(r'<.*>', value):
        return UNSET, unit
    return yaml.safe_load(value), unit


def parse_defaults(cell: str, count: int) -> list[list[tuple[object, str | None]]]:
    """The defaults a table cell gives count parameters ("640, 480" or one for all); each a
    list of alternatives. A trailing remark in parentheses is left out."""
    text = re.sub(r'\s*\([^)]*\)$', '', cell.replace('`', '').strip())
    parts = re.split(r',\s*(?![^\[]*\])', text)
    if len(parts) not in (1, count):
        raise ValueError(f'{len(parts)} defaults for {count} names')
    alternatives = [[parse_value(alt) for alt in part.split(' / ')] for part in parts]
    return alternatives * count if len(parts) == 1 else alternatives


def parameter_tables(path: Path) -> Iterator[tuple[str, int, list[tuple[int, list[str]]]]]:
    """The tables of a markdown file whose columns start `name|parameter`, `default`: the
    heading above each, its line and its rows (line, cells)."""
    lines = path.read_text().splitlines()
    heading, in_code, index = '', False, 0
    while index < len(lines):
        line = lines[index]
        in_code ^= line.startswith('```')
        if line.startswith('#') and not in_code:
            heading = line.lstrip('#').strip()
        cells = split_row(line) if line.startswith('|') else []
        if cells[:2] in (['name', 'default'], ['parameter', 'default']):
            end = index + 2
            while end < len(lines) and lines[end].startswith('|'):
                end += 1
            yield heading, index + 1, [(n + 1, split_row(lines[n]))
                                       for n in range(index + 2, end)]
            index = end
        else:
            index += 1


def doc_rows(paths: list[Path]) -> tuple[list[DocRow], list[str]]:
    """Every parameter row of the docs' tables, and what could not be read."""
    rows, problems = [], []
    for path in paths:
        for heading, line, table in parameter_tables(path):
            node = DOC_TABLES.get((path.name, heading))
            if node is None:
                problems.append(f'{relative(path)}:{line}: a parameter table under '
                                f'"{heading}" describes no known node (add it to DOC_TABLES)')
                continue
            for row_line, cells in table:
                where = f'{relative(path)}:{row_line}'
                names = [n.strip().strip('`') for n in cells[0].split(',')]
                try:
                    defaults = parse_defaults(cells[1], len(names))
                except (ValueError, yaml.YAMLError) as exc:
                    problems.append(f'{where}: {node}: cannot read default {cells[1]!r}: {exc}')
                    continue
                rows += [DocRow(where, node, name, alternatives)
                         for name, alternatives in zip(names, defaults, strict=True)]
    return rows, problems


def doc_problems(paths: list[Path]) -> list[str]:
    """Docs rows that name no parameter of their node, or give another default or unit."""
    rows, problems = doc_rows(paths)
    for row in rows:
        key = declared_key(row.node, row.name)
        if key is None:
            problems.append(f'{row.where}: {row.node}: {row.name} is not one of its parameters')
            continue
        declared = declared_parameters(row.node)[key]
        values = [value for value, _ in row.alternatives]
        if UNSET not in values and not any(same(v, declared.default) for v in values):
            problems.append(f'{row.where}: {row.node}: {row.name} documented as '
                            f"{' / '.join(map(repr, values))}, the default "
                            f'({declared.owner}) is {declared.default!r}')
        units = {unit for value, unit in row.alternatives if value is not UNSET}
        if declared.unit and units != {declared.unit}:
            problems.append(f'{row.where}: {row.node}: {row.name} is in {declared.unit}: '
                            f'write its default as "<value> {declared.unit}"')
    return problems


def test_every_node_parameter_file_and_section_is_known():
    nodes = {str(path.relative_to(SRC)) for path in SRC.glob('*/*/*_node.py')
             if path.parent.name == path.parent.parent.name}  # a package's module, no test
    unknown = sorted(nodes - set(NODE_SOURCES.values()))
    assert not unknown, f'add to NODE_SOURCES: {unknown}'
    files = {path.name for path in CONFIG_DIR.glob('*.yaml')} - set(NOT_PARAMETER_FILES)
    assert files == set(DEFAULTS_FILES + OVERRIDE_FILES)
    assert set(SECTION_NODES.values()) <= set(NODE_SOURCES)


@pytest.mark.parametrize('file_name', DEFAULTS_FILES)
def test_defaults_file_sets_declared_parameters_to_their_defaults(file_name):
    problems = config_problems(CONFIG_DIR / file_name, values_are_defaults=True)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('file_name', OVERRIDE_FILES)
def test_override_file_sets_only_declared_parameters(file_name):
    problems = config_problems(CONFIG_DIR / file_name, values_are_defaults=False)
    assert not problems, '\n'.join(problems)


def test_docs_tables_give_declared_parameters_with_their_defaults():
    problems = doc_problems(sorted(DOCS_DIR.glob('*.md')))
    assert not problems, '\n'.join(problems)


def test_docs_tables_list_every_parameter():
    rows, _ = doc_rows(sorted(DOCS_DIR.glob('*.md')))
    documented = {(row.node, declared_key(row.node, row.name)) for row in rows}
    missing = [f'{node}: {key.replace("*.", "<lane>.")} ({declared.owner}) is in no table of '
               'docs/packages' for node in sorted(set(NODE_SOURCES) - UNDOCUMENTED_NODES)
               for key, declared in declared_parameters(node).items()
               if (node, key) not in documented]
    assert not missing, '\n'.join(missing)


def test_reading_the_nodes_imports_no_rclpy():
    script = ('import sys; sys.path.insert(0, sys.argv[1]); import test_parameter_defaults as t; '
              '[t.declared_parameters(node) for node in t.NODE_SOURCES]; '
              "print('rclpy' in sys.modules)")
    result = subprocess.run([sys.executable, '-c', script, str(Path(__file__).parent)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == 'False', result.stdout + result.stderr


def test_the_checks_catch_a_wrong_default_a_typo_and_a_missing_unit(tmp_path):
    config = tmp_path / 'store_nodes.yaml'
    config.write_text('/**/store_node:\n  ros__parameters:\n    batch_period_s: 0.5\n'
                      '    batch_periode: 0.02\n    batch_max_events: 1000.0\n')
    assert config_problems(config, values_are_defaults=True) == [
        f'{config}: store_node: batch_period_s is 0.5, the default (StoreSettings) is 0.02',
        f'{config}: store_node: batch_periode is not a parameter of store_node (ROS would '
        'ignore it)',
        f'{config}: store_node: batch_max_events is 1000.0, the default (StoreSettings) is '
        '1000']
    assert config_problems(config, values_are_defaults=False) == [
        f'{config}: store_node: batch_periode is not a parameter of store_node (ROS would '
        'ignore it)']
    docs = tmp_path / 'ezshop_store.md'
    docs.write_text('### Parameters (`store_node`)\n\n| name | default | meaning |\n|---|---|---|\n'
                    '| markers_period_s | 0.5 s | fine |\n| batch_period_s | 0.2 s | wrong |\n'
                    '| `batch_max_events`, `nope` | 1000 | one unknown |\n'
                    '| `timeout_check_period_s` | 1.0 | not a store_node parameter |\n')
    assert doc_problems([docs]) == [
        f'{docs}:6: store_node: batch_period_s documented as 0.2, the default (StoreSettings) '
        'is 0.02',
        f'{docs}:7: store_node: nope is not one of its parameters',
        f'{docs}:8: store_node: timeout_check_period_s is not one of its parameters']
    shelf = tmp_path / 'ezshop_sensors.md'
    shelf.write_text('## lane_sensor_node\n\n| name | default | meaning |\n|---|---|---|\n'
                     '| `rate_hz` | 10.0 | no unit |\n| `mock_value` | 0.3 m / 400.0 lux | ok |\n')
    assert doc_problems([shelf]) == [
        f'{shelf}:5: lane_sensor_node: rate_hz is in Hz: write its default as "<value> Hz"']
