"""Every launch file is standard ROS 2 launch XML (validated against the shared XSD) and is
accepted by the project's runner with its default arguments."""

import os
from pathlib import Path

import pytest
from lxml import etree

from ezshop_launch.description import LaunchDescription

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.xml'))
SCHEMA = ROOT.parent / 'shared' / 'schemas' / 'ros2_launch.xsd'


@pytest.fixture(scope='module')
def schema():
    if not SCHEMA.is_file():
        pytest.skip(f'launch schema not found at {SCHEMA} (../shared beside the checkout)')
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def test_there_are_launch_files():
    assert LAUNCH_FILES, 'no launch/*.launch.xml'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_matches_schema(schema, path):
    document = etree.parse(str(path))
    assert schema.validate(document), '\n'.join(str(e) for e in schema.error_log)


def test_schema_rejects_a_broken_file(schema, tmp_path):
    bad = tmp_path / 'bad.launch.xml'
    bad.write_text('<launch><node exec="x"/></launch>')  # pkg is required
    assert not schema.validate(etree.parse(str(bad)))


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_runner_accepts_launch_file(path):
    description = LaunchDescription(str(path))
    assert description.processes, f'{path.name} starts no process'
    for spec in description.processes:
        assert os.access(spec.cmd[0], os.X_OK), spec.cmd[0]
