"""Every launch file of ezshop_bringup is standard ROS 2 launch XML: valid against the shared
XSD, parsed by the real launch_xml front end, and every node it names is an installed
executable of its package."""

from pathlib import Path

import pytest
from ament_index_python.packages import get_package_prefix
from launch.frontend import Parser
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'src' / 'ezshop_bringup' / 'launch').glob('*.launch.xml'))
SCHEMA = ROOT.parent / 'shared' / 'schemas' / 'ros2_launch.xsd'


@pytest.fixture(scope='module')
def schema():
    if not SCHEMA.is_file():
        pytest.skip(f'launch schema not found at {SCHEMA} (../shared beside the checkout)')
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def test_there_are_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {'store.launch.xml', 'sim.launch.xml'}


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_matches_schema(schema, path):
    document = etree.parse(str(path))
    assert schema.validate(document), '\n'.join(str(e) for e in schema.error_log)


def test_schema_rejects_a_broken_file(schema, tmp_path):
    bad = tmp_path / 'bad.launch.xml'
    bad.write_text('<launch><node exec="x"/></launch>')  # pkg is required
    assert not schema.validate(etree.parse(str(bad)))


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_the_real_launch_front_end_parses_it(path):
    root_entity, parser = Parser.load(str(path))
    description = parser.parse_description(root_entity)
    assert description.entities, f'{path.name} declares nothing'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_is_an_installed_executable(path):
    nodes = etree.parse(str(path)).iter('node')
    executables = {(n.get('pkg'), n.get('exec')) for n in nodes}
    assert executables, f'{path.name} starts no node'
    for package, executable in executables:
        installed = Path(get_package_prefix(package)) / 'lib' / package / executable
        assert installed.is_file(), f'{path.name}: {package}/{executable} is not installed'


def test_a_node_executable_that_does_not_exist_is_caught(tmp_path):
    bad = tmp_path / 'bad.launch.xml'
    bad.write_text('<launch><node pkg="ezshop_store" exec="no_such_node"/></launch>')
    with pytest.raises(AssertionError, match='no_such_node is not installed'):
        test_every_node_is_an_installed_executable(bad)
