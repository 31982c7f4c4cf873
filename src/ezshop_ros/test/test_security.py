"""`ezshop security init`: the SROS2 keystore it writes (layout, chains, S/MIME signatures,
modes), the permissions made from the node rows, and the launch files' enclaves. Plain
pytest: no ROS graph (the rows against running nodes: tests/test_node_permissions.py)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ezshop_common.store_config import load_store
from ezshop_ros import graph_permissions as gp
from ezshop_ros import security_cli as sc

ROOT = Path(__file__).resolve().parents[3]
STORE_FILE = ROOT / 'src' / 'ezshop_bringup' / 'config' / 'store.yaml'
LAUNCH_DIR = ROOT / 'src' / 'ezshop_bringup' / 'launch'
DOMAIN_ID = 7
#: What the PyPI Fast DDS said when a node started with ROS_SECURITY_ENABLE=true (Kilted).
PYPI_ERROR = """\
[INFO] [1796552164.180434205] [rcl]: Found security directory: /k/enclaves/ezshop/store_node
Traceback (most recent call last):
  File "<string>", line 4, in <module>
rclpy._rclpy_pybind11.RCLError: error creating node: This Fast DDS version doesn't have the \
security libraries
Please compile Fast DDS using the -DSECURITY=ON CMake option, at /project/src/participant.cpp:406\
, at /project/src/rcl/node.c:249
"""


@pytest.fixture(scope='module')
def store():
    return load_store(STORE_FILE)


@pytest.fixture(scope='module')
def graph(store):
    return gp.store_graph(store)


@pytest.fixture(scope='module')
def keystore(tmp_path_factory, graph):
    path = tmp_path_factory.mktemp('security') / 'keystore'
    lines = sc.init_keystore(path, graph, DOMAIN_ID)
    return path, lines


def enclave(keystore_path: Path, path: str) -> Path:
    return sc.enclave_dir(keystore_path, path)


def allowed(keystore_path: Path, path: str) -> dict[str, set[str]]:
    """The DDS topics an enclave's permissions.xml allows to publish and subscribe."""
    root = ET.parse(enclave(keystore_path, path) / 'permissions.xml').getroot()
    grant = root.find('permissions/grant')
    assert grant.get('name') == path and grant.findtext('subject_name') == f'CN={path}'
    assert grant.findtext('default') == 'DENY'
    found = {'publish': set(), 'subscribe': set()}
    for rule in grant.findall('allow_rule'):
        assert [e.text for e in rule.findall('domains/id')] == [str(DOMAIN_ID)]
        for kind in found:
            found[kind] |= {t.text for t in rule.findall(f'{kind}/topics/topic')}
    assert not grant.findall('deny_rule')
    return found


# -- layout -------------------------------------------------------------------------------

def test_the_keystore_has_sros2s_layout(keystore, graph):
    path, lines = keystore
    assert sc.is_valid_keystore(path)
    assert {p.name for p in path.iterdir()} == {'public', 'private', 'enclaves'}
    assert {p.name for p in (path / 'public').iterdir()} == \
        {'ca.cert.pem', 'identity_ca.cert.pem', 'permissions_ca.cert.pem'}
    assert {p.name for p in (path / 'private').iterdir()} == \
        {'ca.key.pem', 'identity_ca.key.pem', 'permissions_ca.key.pem'}
    # One CA, as `ros2 security create_keystore` makes it: the other two names link to it.
    for folder, target in (('public', 'ca.cert.pem'), ('private', 'ca.key.pem')):
        for name in (p for p in (path / folder).iterdir() if p.name != target):
            assert name.is_symlink() and name.resolve() == (path / folder / target)
    assert (path / 'enclaves' / 'governance.xml').is_file()
    assert (path / 'enclaves' / 'governance.p7s').is_file()
    for node in graph:
        folder = enclave(path, node.enclave)
        assert {p.name for p in folder.iterdir()} == {
            'cert.pem', 'key.pem', 'identity_ca.cert.pem', 'permissions_ca.cert.pem',
            'governance.p7s', 'permissions.xml', 'permissions.p7s'}, node.enclave
        # rcl reads these through the links (relative: the keystore can move).
        assert (folder / 'governance.p7s').resolve() == path / 'enclaves' / 'governance.p7s'
        assert not Path(os.readlink(folder / 'identity_ca.cert.pem')).is_absolute()
    assert lines[1].startswith('CA created') and len(lines) == 3 + len(graph)


def test_an_enclave_per_node_of_the_store_graph(graph):
    enclaves = {n.enclave for n in graph}
    assert len(enclaves) == len(graph)
    assert {'/ezshop/store_node', '/ezshop/door_entrance', '/ezshop/door_exit',
            '/ezshop/camera_shelf_a', '/ezshop/lane_sensor_shelf_b', '/ezshop/sim_node',
            '/ezshop/referee', '/ezshop/ezshop_record', '/ezshop/ezshop_replay'} <= enclaves


def test_files_are_0600_and_folders_0700(keystore):
    path, _ = keystore
    folders = [path] + [p for p in path.rglob('*') if p.is_dir() and not p.is_symlink()]
    files = [p for p in path.rglob('*') if p.is_file() and not p.is_symlink()]
    assert len(files) > 40
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


# -- certificates and signatures -------------------------------------------------------------

def test_every_enclave_certificate_chains_to_the_identity_ca(keystore, graph):
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import BasicConstraints

    path, _ = keystore
    ca = sc.load_cert(path / 'public' / 'identity_ca.cert.pem')
    ca.verify_directly_issued_by(ca)  # self-signed
    assert ca.extensions.get_extension_for_class(BasicConstraints).value.ca
    spki = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for node in graph:
        folder = enclave(path, node.enclave)
        cert = sc.load_cert(folder / 'cert.pem')
        cert.verify_directly_issued_by(ca)  # raises InvalidSignature otherwise
        assert cert.subject.rfc4514_string() == f'CN={node.enclave}'
        assert not cert.extensions.get_extension_for_class(BasicConstraints).value.ca
        key = sc.load_key(folder / 'key.pem')
        assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def test_a_certificate_of_another_ca_does_not_chain(tmp_path):
    _, other_ca = sc.build_key_and_cert('otherCA')
    _, ca = sc.build_key_and_cert('ezshopCA')
    key, _ = sc.build_key_and_cert('otherCA')
    _, cert = sc.build_key_and_cert('/ezshop/store_node', other_ca, key)
    assert not sc.issued_by(cert, ca)


def openssl_verify(signed: Path, ca: Path) -> subprocess.CompletedProcess:
    """`openssl smime -verify`, text/plain content expected (Fast DDS verifies with
    PKCS7_TEXT): its output is the signed document without the MIME header."""
    return subprocess.run(['openssl', 'smime', '-verify', '-text', '-in', str(signed),
                           '-CAfile', str(ca)], capture_output=True, timeout=30)


@pytest.mark.skipif(shutil.which('openssl') is None, reason='openssl is not installed')
def test_permissions_and_governance_verify_with_openssl_smime(keystore, graph):
    path, _ = keystore
    ca = path / 'public' / 'permissions_ca.cert.pem'
    signed = [(path / 'enclaves' / 'governance.p7s', path / 'enclaves' / 'governance.xml')]
    signed += [(enclave(path, n.enclave) / 'permissions.p7s',
                enclave(path, n.enclave) / 'permissions.xml') for n in graph[:3]]
    signed.append((enclave(path, '/ezshop/store_node') / 'permissions.p7s',
                   enclave(path, '/ezshop/store_node') / 'permissions.xml'))
    for p7s, document in signed:
        done = openssl_verify(p7s, ca)
        assert done.returncode == 0, done.stderr.decode()
        assert b'Verification successful' in done.stderr
        # The signed content is the document (text/plain: CRLF line ends).
        assert done.stdout.replace(b'\r\n', b'\n') == document.read_bytes()


@pytest.mark.skipif(shutil.which('openssl') is None, reason='openssl is not installed')
def test_a_changed_permissions_file_fails_verification(keystore, tmp_path):
    path, _ = keystore
    signed = (enclave(path, '/ezshop/greeter_node') / 'permissions.p7s').read_bytes()
    forged = tmp_path / 'permissions.p7s'
    forged.write_bytes(signed.replace(b'rt/announcements', b'rt/cart_actions_'))
    assert b'rt/cart_actions_' in forged.read_bytes()
    assert openssl_verify(forged, path / 'public' / 'permissions_ca.cert.pem').returncode != 0


def test_validity_is_the_certificates(keystore):
    path, _ = keystore
    folder = enclave(path, '/ezshop/store_node')
    cert = sc.load_cert(folder / 'cert.pem')
    validity = ET.parse(folder / 'permissions.xml').getroot().find('permissions/grant/validity')
    assert validity.findtext('not_before') == \
        cert.not_valid_before_utc.replace(tzinfo=None).isoformat()
    assert validity.findtext('not_after') == \
        cert.not_valid_after_utc.replace(tzinfo=None).isoformat()


# -- permissions from the rows ----------------------------------------------------------------

def test_store_node_may_publish_receipts_but_not_cart_actions(keystore):
    path, _ = keystore
    store = allowed(path, '/ezshop/store_node')
    assert {'rt/receipts', 'rt/carts', 'rt/gallery_revision', 'rt/diagnostics', 'rt/rosout',
            'rt/parameter_events'} <= store['publish']
    # What another node's row has is not the store's.
    assert 'rt/cart_actions' not in store['publish']
    assert 'rt/cart_actions' in allowed(path, '/ezshop/fusion_node')['publish']
    assert 'rt/cart_actions' in store['subscribe']
    # A service it serves: it reads requests and writes replies; never the other way round.
    assert 'rq/register_customerRequest' in store['subscribe']
    assert 'rr/register_customerReply' in store['publish']
    assert 'rq/register_customerRequest' not in store['publish']
    assert 'rr/store_node/get_parametersReply' in store['publish']
    assert 'rq/store_node/get_parametersRequest' in store['subscribe']
    assert 'ros_discovery_info' in store['publish'] & store['subscribe']


def test_a_client_writes_requests_and_reads_replies(keystore):
    path, _ = keystore
    web = allowed(path, '/ezshop/web_node')
    assert 'rq/register_customerRequest' in web['publish']
    assert 'rr/register_customerReply' in web['subscribe']
    assert 'rq/face_node/get_snapshotRequest' in web['publish']
    assert 'rr/register_customerReply' not in web['publish']
    face = allowed(path, '/ezshop/face_node')
    assert 'rr/face_node/get_snapshotReply' in face['publish']
    assert 'rq/cameras/cam_shelf_a/recent_framesRequest' in face['publish']
    assert 'rt/cameras/cam_shelf_a/image_raw' in face['subscribe']
    assert 'rt/cameras/cam_shelf_a/image_raw' not in face['publish']


def test_a_door_and_a_camera_and_a_lane_sensor_get_only_their_own(keystore):
    path, _ = keystore
    door = allowed(path, '/ezshop/door_entrance')
    assert 'rt/cameras/cam_entrance/faces' in door['subscribe']
    assert 'rt/cameras/cam_exit/faces' not in door['subscribe']
    camera = allowed(path, '/ezshop/camera_exit')
    assert {t for t in camera['publish'] if t.startswith('rt/cameras/')} == \
        {'rt/cameras/cam_exit/image_raw', 'rt/cameras/cam_exit/camera_info'}
    sensor = allowed(path, '/ezshop/lane_sensor_shelf_b')
    assert {t for t in sensor['publish'] if t.startswith('rt/shelves/')} == {
        'rt/shelves/shelf_b/lane_1/range', 'rt/shelves/shelf_b/lane_2/range',
        'rt/shelves/shelf_b/lane_3/illuminance'}


def test_the_referee_enclave_covers_the_nodes_its_process_makes(keystore):
    path, _ = keystore
    referee = allowed(path, '/ezshop/referee')
    assert 'rq/forget_customerRequest' in referee['publish']
    assert 'rq/register_customerRequest' in referee['publish']  # its ezshop_enroll node
    assert 'rr/ezshop_enroll/get_parametersReply' in referee['publish']
    assert 'rq/get_galleryRequest' in referee['publish']  # its gallery client (names)
    assert 'rt/sim/ground_truth' in referee['subscribe']


def test_every_store_topic_has_a_writer_and_a_reader_in_the_graph(graph):
    """The rows agree with each other: what one node reads, some node writes."""
    rules = [gp.dds_rule(n) for n in graph]
    written = set().union(*(r.publish for r in rules))
    read = set().union(*(r.subscribe for r in rules))
    unwritten = {t for t in read - written if t.startswith('rt/')}
    assert unwritten == set(), unwritten
    for request in (t for t in written if t.startswith('rq/')):
        assert request in read, f'{request}: a client with no server in the graph'


def test_names_resolve_as_sros2s_permissions_xsl():
    assert gp.resolve_name('~/get_snapshot', '/', 'face_node') == '/face_node/get_snapshot'
    assert gp.resolve_name('~/get_snapshot', '/north', 'face_node') == \
        '/north/face_node/get_snapshot'
    assert gp.resolve_name('receipts', '/north', 'store_node') == '/north/receipts'
    assert gp.resolve_name('/diagnostics', '/north', 'store_node') == '/diagnostics'
    assert gp.topic_dds('/receipts') == 'rt/receipts'
    assert gp.request_dds('/north/get_gallery') == 'rq/north/get_galleryRequest'
    assert gp.reply_dds('/north/get_gallery') == 'rr/north/get_galleryReply'
    assert gp.enclave_path('', 'store_node') == '/ezshop/store_node'
    assert gp.enclave_path('north', 'store_node') == '/ezshop/north/store_node'
    assert gp.enclave_path('/north/', 'store_node') == '/ezshop/north/store_node'


def test_a_namespaced_store_gets_namespaced_enclaves_and_names(tmp_path, store):
    path = tmp_path / 'keystore'
    sc.init_keystore(path, gp.store_graph(store, 'north'), DOMAIN_ID)
    store_node = allowed(path, '/ezshop/north/store_node')
    assert 'rt/north/receipts' in store_node['publish']
    assert 'rt/receipts' not in store_node['publish']
    assert 'rr/north/store_node/set_parametersReply' in store_node['publish']
    assert 'rt/diagnostics' in store_node['publish']  # global, as ROS tools expect
    assert 'rt/clock' in store_node['subscribe']


def test_governance_is_sros2s_default_for_the_domain(keystore):
    path, _ = keystore
    root = ET.parse(path / 'enclaves' / 'governance.xml').getroot()
    rule = root.find('domain_access_rules/domain_rule')
    assert rule.findtext('domains/id') == str(DOMAIN_ID)
    assert rule.findtext('allow_unauthenticated_participants') == 'false'
    assert rule.findtext('enable_join_access_control') == 'true'
    topic_rule = rule.find('topic_access_rules/topic_rule')
    assert topic_rule.findtext('topic_expression') == '*'
    assert topic_rule.findtext('enable_write_access_control') == 'true'
    assert topic_rule.findtext('data_protection_kind') == 'ENCRYPT'


# -- running it again --------------------------------------------------------------------------

def test_init_again_keeps_the_ca_and_the_keys_and_renews_the_permissions(tmp_path, graph):
    path = tmp_path / 'keystore'
    sc.init_keystore(path, graph, DOMAIN_ID)
    ca = (path / 'private' / 'ca.key.pem').read_bytes()
    folder = enclave(path, '/ezshop/store_node')
    key, signed = (folder / 'key.pem').read_bytes(), (folder / 'permissions.p7s').read_bytes()
    (folder / 'permissions.xml').write_text('tampered')
    stale = path / 'enclaves' / 'ezshop' / 'old_node'
    stale.mkdir()
    (stale / 'key.pem').write_text('x')

    lines = sc.init_keystore(path, graph, DOMAIN_ID)
    assert lines[1].startswith('CA kept') and all('key kept' in line for line in lines[3:-1])
    assert lines[-1] == 'other enclaves, left as they are: /ezshop/old_node'
    assert (path / 'private' / 'ca.key.pem').read_bytes() == ca
    assert (folder / 'key.pem').read_bytes() == key
    assert b'rt/receipts' in (folder / 'permissions.xml').read_bytes()
    assert (folder / 'permissions.p7s').read_bytes() != signed  # signed anew

    lines = sc.init_keystore(path, graph, DOMAIN_ID, new_keys=True)
    assert all('key issued' in line for line in lines[3:-1])
    assert (folder / 'key.pem').read_bytes() != key
    assert (path / 'private' / 'ca.key.pem').read_bytes() == ca


def test_an_enclave_key_of_another_ca_is_issued_again(tmp_path, graph):
    path = tmp_path / 'keystore'
    sc.init_keystore(path, graph[:1], DOMAIN_ID)
    folder = enclave(path, graph[0].enclave)
    other_key, other_ca = sc.build_key_and_cert('otherCA')
    key, cert = sc.build_key_and_cert(graph[0].enclave, other_ca, other_key)
    (folder / 'key.pem').write_bytes(sc.key_pem(key))
    (folder / 'cert.pem').write_bytes(sc.cert_pem(cert))
    assert 'key issued' in sc.init_keystore(path, graph[:1], DOMAIN_ID)[-1]
    assert sc.issued_by(sc.load_cert(folder / 'cert.pem'),
                        sc.load_cert(path / 'public' / 'ca.cert.pem'))


# -- the command line ---------------------------------------------------------------------------

def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='ezshop')
    sc.add_commands(parser.add_subparsers(dest='command', required=True))
    return parser.parse_args(list(argv))


def test_init_from_the_command_line(tmp_path, capsys):
    args = parse('security', 'init', '--keystore', str(tmp_path / 'ks'), '--store-file',
                 str(STORE_FILE), '--namespace', '/', '--domain-id', '3', '--no-tools')
    assert sc.run(args, []) == 0
    out = capsys.readouterr().out
    assert 'CA created' in out and '/ezshop/store_node: key issued' in out
    assert '/ezshop/ezshop_customer_cli' not in out
    assert sc.is_valid_keystore(tmp_path / 'ks')
    assert sc.run(args, []) == 0
    assert 'CA kept' in capsys.readouterr().out


def test_init_names_a_bad_store_file(tmp_path, capsys):
    bad = tmp_path / 'store.yaml'
    bad.write_text('store: {}\n')
    assert sc.run(parse('security', 'init', '--keystore', str(tmp_path / 'ks'),
                        '--store-file', str(bad)), []) == 1
    assert 'ezshop security init:' in capsys.readouterr().err
    assert not (tmp_path / 'ks').exists()


def test_the_default_keystore_is_under_ros_home(monkeypatch, tmp_path):
    monkeypatch.delenv('ROS_SECURITY_KEYSTORE', raising=False)
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    assert sc.default_keystore() == tmp_path / 'ezshop' / 'keystore'
    monkeypatch.setenv('ROS_SECURITY_KEYSTORE', '/elsewhere')
    assert sc.default_keystore() == Path('/elsewhere')


def test_check_without_a_keystore_says_how_to_make_one(tmp_path, capsys):
    assert sc.run(parse('security', 'check', '--keystore', str(tmp_path / 'none')), []) == 2
    err = capsys.readouterr().err
    assert 'no SROS2 keystore' in err and 'ezshop security init --keystore' in err


def test_the_pypi_fast_dds_error_is_recognised():
    assert sc.missing_plugins(PYPI_ERROR)
    assert sc.security_error(PYPI_ERROR).startswith(
        "rclpy._rclpy_pybind11.RCLError: error creating node: This Fast DDS version doesn't "
        'have the security libraries Please compile Fast DDS using the -DSECURITY=ON')
    other = 'rclpy._rclpy_pybind11.RCLError: failed to initialize rcl: SECURITY ERROR: ' \
            "directory '/k/enclaves' does not exist."
    assert not sc.missing_plugins(other)
    assert sc.security_error('noise\n' + other) == other


# -- the launch files ----------------------------------------------------------------------------

def launch_nodes():
    for path in sorted(LAUNCH_DIR.glob('*.launch.xml')):
        if path.name == 'smoke.launch.xml':
            continue
        for node in ET.parse(path).getroot().iter('node'):
            yield path.name, node


def test_every_node_of_the_launch_files_has_a_row_and_its_enclave():
    seen = set()
    for name, node in launch_nodes():
        row = gp.row(node.get('exec'))
        assert row.package == node.get('pkg'), (name, node.get('exec'))
        args = node.get('ros_args', '')
        assert re.search(r'--enclave \$\(var enclaves\)/' + re.escape(node.get('name')) + '$',
                         args), f'{name}: {node.get("name")} ros_args {args!r}'
        seen.add(node.get('exec'))
    assert seen >= {'shelf_monitor', 'face_node', 'door_node', 'fusion_node', 'store_node',
                    'lane_sensor_node', 'camera_node', 'web_node', 'greeter_node', 'record',
                    'sim_node', 'referee'}


def test_the_launch_files_name_nodes_as_the_graph_does(store):
    names = {n.name for n in gp.store_graph(store)}
    launched = {node.get('name') for _, node in launch_nodes()}
    assert launched <= names, launched - names


def test_secure_launch_sets_rcls_variables_and_checks_first():
    text = (LAUNCH_DIR / 'store.launch.xml').read_text()
    for name, value in (('ROS_SECURITY_KEYSTORE', '$(var keystore)'),
                        ('ROS_SECURITY_ENABLE', 'true'), ('ROS_SECURITY_STRATEGY', 'Enforce')):
        assert f'<set_env name="{name}" value="{value}" if="$(var secure)"/>' in text
    check = text.index('security check')
    assert check < text.index('<node '), 'the check runs before any node starts'
