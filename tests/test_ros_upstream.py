"""requirements-ros-upstream.txt, what `make setup` installs when there is no ROS 2 vendor
folder, pins the same commits as the vendor folder's SOURCES.md, and covers every wheel and
source folder of it."""

import importlib.util
import re

import pytest


@pytest.fixture(scope='module')
def upstream(repo_root):
    spec = importlib.util.spec_from_file_location('ros_upstream',
                                                  repo_root / 'scripts' / 'ros_upstream.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def vendor(repo_root):
    folder = repo_root.parent / 'shared' / 'vendor' / 'ros2'
    if not (folder / 'SOURCES.md').is_file():
        pytest.skip(f'no ROS 2 vendor folder at {folder} to compare with')
    return folder


def test_the_upstream_pins_are_the_vendor_folders_commits(repo_root, upstream, vendor):
    pins = upstream.pins(repo_root / 'requirements-ros-upstream.txt')
    sources = (vendor / 'SOURCES.md').read_text()
    vendored = dict(re.findall(r'github\.com/([\w-]+/[\w-]+) \| ([0-9a-f]{40})', sources))
    assert {repo: commit for repo, commit, _, _ in pins} == vendored


def test_every_vendored_package_has_an_upstream_pin(repo_root, upstream, vendor):
    pinned = {sub for _, _, _, subdirs in upstream.pins(repo_root / 'requirements-ros-upstream.txt')
              for sub in subdirs}
    pinned |= {repo.split('/')[1] for repo, _, _, subdirs in
               upstream.pins(repo_root / 'requirements-ros-upstream.txt') if subdirs == ['.']}
    wheels = {wheel.name.split('-')[0] for wheel in (vendor / 'wheels').glob('*.whl')}
    sources = {folder.name for folder in (vendor / 'src').iterdir() if folder.is_dir()}
    assert wheels | sources <= pinned, sorted((wheels | sources) - pinned)


def test_pins_parse_and_urls_follow_the_template(tmp_path, upstream, monkeypatch):
    pins_file = tmp_path / 'pins.txt'
    pins_file.write_text('# comment\nros2/launch  abc123  pip  launch launch_xml  # note\n\n')
    assert upstream.pins(pins_file) == [('ros2/launch', 'abc123', 'pip',
                                         ['launch', 'launch_xml'])]
    assert upstream.url('ros2/launch') == 'https://github.com/ros2/launch.git'
    monkeypatch.setenv('EZSHOP_ROS_GIT_URL', 'file:///mirror/{owner}+{name}')
    assert upstream.url('ros2/launch') == 'file:///mirror/ros2+launch'
