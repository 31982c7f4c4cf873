"""Every package.xml is a valid format 3 manifest whose dependencies cover what the package
imports (its code: exec, its tests: test) and what its launch files start, and whose every
dependency key exists: a ROS package of the ament index, or a key of tests/data/rosdep_keys.txt
(taken from a ros/rosdistro snapshot, its commit at the top of the file)."""

import ast
import re
import sys
from pathlib import Path

import pytest
from ament_index_python.packages import get_packages_with_prefixes
from catkin_pkg.package import InvalidPackage, parse_package

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / 'src'
KEYS_FILE = ROOT / 'tests' / 'data' / 'rosdep_keys.txt'
PACKAGE_DIRS = sorted(p.parent for p in SRC.glob('*/package.xml'))
WORKSPACE = {p.name for p in PACKAGE_DIRS}

#: Third-party import name -> its rosdep key (ros/rosdistro rosdep/python.yaml). Any other
#: import that is neither the standard library nor in NO_ROSDEP_KEY is a ROS package of that name.
ROSDEP_KEY = {
    'alembic': 'python3-alembic',
    'cv2': 'python3-opencv',
    'cryptography': 'python3-cryptography',
    'dlib': 'python3-dlib-pip',
    'face_recognition': 'python-face-recognition-pip',
    'fastapi': 'python3-fastapi',
    'gpiozero': 'python3-gpiozero',
    'httpx': 'python3-httpx',
    'hypothesis': 'python3-hypothesis',
    'jinja2': 'python3-jinja2',
    'matplotlib': 'python3-matplotlib',
    'numpy': 'python3-numpy',
    'paho': 'python3-paho-mqtt',
    'PIL': 'python3-pil',
    'prometheus_client': 'python3-prometheus-client',
    'pytest': 'python3-pytest',
    'rosbags': 'python3-rosbags-pip',
    'selenium': 'python3-selenium',
    'sqlalchemy': 'python3-sqlalchemy',
    'uvicorn': 'python3-uvicorn',
    'w1thermsensor': 'python-w1thermsensor-pip',
    'yaml': 'python3-yaml',
}
#: PyPI packages rosdep has no key for: the package.xml names them in an XML comment, with the
#: requirements file that pins them.
NO_ROSDEP_KEY = {
    'argon2': 'requirements.txt',
    'faiss': 'requirements.txt',
    'face_recognition_models': 'requirements.txt',
    'itsdangerous': 'requirements.txt',
    'mcap': 'requirements.txt',
    'starlette': 'requirements.txt',
}
#: What XML launch files need: `ros2 launch`, the XML front end, launch_ros (node, find-pkg-share).
LAUNCH_XML_KEYS = {'ros2launch', 'launch_xml', 'launch_ros'}


def manifest(package_dir: Path):
    warnings = []
    package = parse_package(str(package_dir / 'package.xml'), warnings=warnings)
    return package, warnings


def dependency_names(package, *kinds: str) -> set[str]:
    return {d.name for kind in kinds for d in getattr(package, kind)}


def all_dependency_names(package) -> set[str]:
    return dependency_names(package, 'buildtool_depends', 'build_depends', 'build_export_depends',
                            'exec_depends', 'test_depends', 'doc_depends')


def _python_sources(package_dir: Path):
    for path in sorted(package_dir.rglob('*.py')):
        if path != package_dir / 'setup.py':  # setuptools: implied by build_type ament_python
            yield path
    for path in sorted((package_dir / 'scripts').glob('*')):
        if path.is_file() and path.suffix != '.py' and 'python' in path.read_text().split('\n')[0]:
            yield path


def imports(package_dir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Top-level modules imported (absolute imports), as {module: files}: by code, by tests."""
    code, tests = {}, {}
    for path in _python_sources(package_dir):
        relative = path.relative_to(package_dir)
        found = tests if relative.parts[0] == 'test' else code
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                if top not in sys.stdlib_module_names and top != package_dir.name:
                    found.setdefault(top, set()).add(str(relative))
    if any((package_dir / 'test').glob('test_*.py')):
        tests.setdefault('pytest', set()).add('test/ (run by pytest)')
    return code, tests


def launch_needs(package_dir: Path) -> set[str]:
    """Packages the package's launch files start nodes of or find, and what XML launch needs."""
    files = sorted((package_dir / 'launch').glob('*.launch.xml'))
    needs = set(LAUNCH_XML_KEYS) if files else set()
    for path in files:
        text = path.read_text()
        needs |= set(re.findall(r'\bpkg="([A-Za-z0-9_]+)"', text))
        needs |= set(re.findall(r'\$\(find-pkg-(?:share|prefix) ([A-Za-z0-9_]+)\)', text))
    return needs - {package_dir.name}


def coverage_problems(package_dir: Path, package) -> list[str]:
    """Imports and launch needs the manifest does not declare, one sentence each."""
    comments = ' '.join(re.findall(r'<!--(.*?)-->', (package_dir / 'package.xml').read_text(),
                                   re.DOTALL))
    runtime = dependency_names(package, 'exec_depends')  # <depend> is exec_depend too
    testing = runtime | dependency_names(package, 'test_depends')
    code, tests = imports(package_dir)
    problems = []
    for kind, found, declared in (('code', code, runtime), ('test', tests, testing)):
        for module in sorted(found):
            if module in NO_ROSDEP_KEY:
                if module not in comments or NO_ROSDEP_KEY[module] not in comments:
                    problems.append(f'{kind} imports {module} (no rosdep key): name it and '
                                    f'{NO_ROSDEP_KEY[module]} in an XML comment')
                continue
            key = ROSDEP_KEY.get(module, module)
            if key not in declared:
                where = 'exec_depend' if kind == 'code' else 'test_depend or exec_depend'
                problems.append(f'{kind} imports {module}: declare {key}'
                                + ('' if kind == 'test' else f' ({where})'))
    for needed in sorted(launch_needs(package_dir) - runtime):
        problems.append(f'launch files need {needed}: declare it (exec_depend)')
    return problems


def interface_problems(package_dir: Path, package) -> list[str]:
    """An interface package: rosidl generators and runtime, and every package its fields use."""
    files = sorted(package_dir.glob('msg/*.msg')) + sorted(package_dir.glob('srv/*.srv'))
    used = {m for path in files
            for m in re.findall(r'^\s*([a-z][a-z0-9_]*)/[A-Z]\w*', path.read_text(), re.M)}
    problems = []
    for name in sorted(used - {package.name}):
        if not {name} <= dependency_names(package, 'build_depends') & \
                dependency_names(package, 'exec_depends'):
            problems.append(f'fields use {name}: declare it with <depend>')
    if 'rosidl_default_generators' not in dependency_names(package, 'buildtool_depends'):
        problems.append('declare <buildtool_depend>rosidl_default_generators')
    if 'rosidl_default_runtime' not in dependency_names(package, 'exec_depends'):
        problems.append('declare <exec_depend>rosidl_default_runtime')
    if 'rosidl_interface_packages' not in {g.name for g in package.member_of_groups}:
        problems.append('declare <member_of_group>rosidl_interface_packages')
    return problems


def rosdep_keys() -> set[str]:
    lines = KEYS_FILE.read_text().splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith('#')}


def unknown_keys(package, known: set[str]) -> list[str]:
    return sorted(all_dependency_names(package) - WORKSPACE - known)


@pytest.fixture(scope='module')
def known_keys() -> set[str]:
    return set(get_packages_with_prefixes()) | rosdep_keys()


def test_there_are_packages():
    assert {'ezshop_msgs', 'ezshop_bringup', 'ezshop_vision', 'ezshop_store'} <= WORKSPACE


# (a) Valid format 3 manifests.
@pytest.mark.parametrize('package_dir', PACKAGE_DIRS, ids=lambda p: p.name)
def test_manifest_is_valid_format_3(package_dir):
    package, warnings = manifest(package_dir)  # raises InvalidPackage on any error
    assert package.package_format == 3
    assert package.name == package_dir.name
    assert not warnings
    head = (package_dir / 'package.xml').read_text()[:300]
    assert 'href="http://download.ros.org/schema/package_format3.xsd"' in head


def test_catkin_pkg_rejects_a_broken_manifest(tmp_path):
    text = (SRC / 'ezshop_ros' / 'package.xml').read_text()
    (tmp_path / 'package.xml').write_text(text.replace('<version>0.1.0</version>', ''))
    with pytest.raises(InvalidPackage):
        manifest(tmp_path)


# (b) Declared dependencies cover imports and launch files.
@pytest.mark.parametrize('package_dir', PACKAGE_DIRS, ids=lambda p: p.name)
def test_dependencies_cover_imports_and_launch_files(package_dir):
    package, _ = manifest(package_dir)
    problems = coverage_problems(package_dir, package)
    if package.get_build_type() == 'ament_cmake':
        problems += interface_problems(package_dir, package)
    assert problems == []


def test_coverage_reports_a_missing_dependency():
    package_dir = SRC / 'ezshop_vision'
    package, _ = manifest(package_dir)
    package.exec_depends = [d for d in package.exec_depends if d.name != 'python3-opencv']
    assert 'code imports cv2: declare python3-opencv (exec_depend)' in \
        coverage_problems(package_dir, package)


def test_every_import_maps_to_a_key_or_a_ros_package(known_keys):
    """A third-party import missing from ROSDEP_KEY would be taken for a ROS package."""
    for package_dir in PACKAGE_DIRS:
        for found in imports(package_dir):
            for module in found:
                key = ROSDEP_KEY.get(module, module)
                assert module in NO_ROSDEP_KEY or key in known_keys or key in WORKSPACE, \
                    f'{package_dir.name} imports {module}: add its rosdep key to ROSDEP_KEY'


# (c) Every key exists.
@pytest.mark.parametrize('package_dir', PACKAGE_DIRS, ids=lambda p: p.name)
def test_every_key_is_a_ros_package_or_a_rosdep_key(package_dir, known_keys):
    package, _ = manifest(package_dir)
    assert unknown_keys(package, known_keys) == [], \
        f'not a ROS package of the ament index nor in {KEYS_FILE.name}'


def test_unknown_key_is_reported(known_keys):
    package, _ = manifest(SRC / 'ezshop_store')
    package.exec_depends = list(package.exec_depends)
    package.exec_depends.append(type(package.exec_depends[0])('python3-psycopg'))
    assert unknown_keys(package, known_keys) == ['python3-psycopg']


def test_keys_file_records_its_snapshot_and_only_used_keys():
    header = KEYS_FILE.read_text()
    assert re.search(r'ros/rosdistro commit [0-9a-f]{40}\s*\n#\s*\(\d{4}-\d{2}-\d{2}', header)
    used = set()
    for package_dir in PACKAGE_DIRS:
        used |= all_dependency_names(manifest(package_dir)[0])
        for found in imports(package_dir):
            used |= {ROSDEP_KEY[m] for m in found if m in ROSDEP_KEY}
    assert sorted(rosdep_keys() - used) == [], 'keys no package uses'
