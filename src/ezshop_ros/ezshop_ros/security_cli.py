"""`ezshop security init|check`: DDS Security (SROS2) for the store graph (docs/security.md).

  ezshop security init [--keystore DIR] [--store-file config/store.yaml] [--namespace /]
  ezshop security check [--keystore DIR] [--enclave /ezshop/store_node]

init makes the keystore `ros2 security create_keystore` and `create_enclave` make (sros2's
layout, files and signatures), with one enclave per node of the store graph whose
permissions allow exactly that node's row of ezshop_ros.graph_permissions (its topics and
services from the topic contract), default DENY:

  public/ca.cert.pem, identity_ca.cert.pem, permissions_ca.cert.pem (-> ca.cert.pem)
  private/ca.key.pem, identity_ca.key.pem, permissions_ca.key.pem (-> ca.key.pem)
  enclaves/governance.xml, governance.p7s
  enclaves/ezshop/<node>/cert.pem, key.pem, identity_ca.cert.pem, permissions_ca.cert.pem,
                         governance.p7s, permissions.xml, permissions.p7s

Run again, it keeps the CA (and each enclave's key while its certificate is good), and writes
the governance and every permissions file afresh. Keys and files are 0600, folders 0700.

check starts a ROS context the way a secured node starts (ROS_SECURITY_ENABLE=true, Enforce,
the keystore, an enclave) and exits 0 when it works; store.launch.xml runs it first when
`secure:=true`, so a ROS install without DDS Security stops the launch with one line.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

#: sros2's layout.
PUBLIC, PRIVATE, ENCLAVES = 'public', 'private', 'enclaves'
CA_CERT, CA_KEY = 'ca.cert.pem', 'ca.key.pem'
IDENTITY_CA_CERT, IDENTITY_CA_KEY = 'identity_ca.cert.pem', 'identity_ca.key.pem'
PERMISSIONS_CA_CERT, PERMISSIONS_CA_KEY = 'permissions_ca.cert.pem', 'permissions_ca.key.pem'
GOVERNANCE_XML, GOVERNANCE_P7S = 'governance.xml', 'governance.p7s'
PERMISSIONS_XML, PERMISSIONS_P7S = 'permissions.xml', 'permissions.p7s'
CERT, KEY = 'cert.pem', 'key.pem'
#: What rcl reads from an enclave folder.
ENCLAVE_FILES = (IDENTITY_CA_CERT, CERT, KEY, PERMISSIONS_CA_CERT, GOVERNANCE_P7S,
                 PERMISSIONS_P7S)
CA_COMMON_NAME = 'ezshopCA'
#: Certificates are valid from a day back (sros2: Connext reads the permissions' not_before
#: as local time) for ten years.
VALID_DAYS = 3650
#: An enclave's key is issued again when its certificate ends sooner than this.
RENEW_BEFORE_DAYS = 30
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
#: The one line a launch with secure:=true stops with where the middleware cannot do it.
NOT_AVAILABLE = ('DDS Security is not available in this ROS install (Fast DDS from PyPI is '
                 'built without it): see docs/security.md')
#: What Fast DDS says (at the first node: rclpy.init itself succeeds) when it was built without
#: the security plugins, as the PyPI wheels are: "RCLError: error creating node: This Fast DDS
#: version doesn't have the security libraries / Please compile Fast DDS using the
#: -DSECURITY=ON CMake option".
NO_PLUGIN_SIGNS = ("doesn't have the security libraries", '-DSECURITY=ON')
EXIT_OK, EXIT_FAILED, EXIT_NO_KEYSTORE = 0, 1, 2
CHECK_NODE = '_ezshop_security_check'
CHECK_TIMEOUT_S = 60.0
CHECK_PROBE = f'''
import rclpy
rclpy.init()
node = rclpy.create_node({CHECK_NODE!r})
node.destroy_node()
rclpy.shutdown()
print('started a node with DDS Security')
'''


def default_keystore() -> Path:
    """$ROS_SECURITY_KEYSTORE, else $ROS_HOME/ezshop/keystore ($ROS_HOME: ~/.ros)."""
    if os.environ.get('ROS_SECURITY_KEYSTORE'):
        return Path(os.environ['ROS_SECURITY_KEYSTORE'])
    ros_home = os.environ.get('ROS_HOME') or str(Path.home() / '.ros')
    return Path(ros_home) / 'ezshop' / 'keystore'


def default_domain_id() -> int:
    return int(os.environ.get('ROS_DOMAIN_ID') or 0)


def add_commands(commands) -> None:
    """The `security` command group of the ezshop CLI."""
    security = commands.add_parser('security', help='DDS Security (SROS2): a keystore with an '
                                   "enclave per node, each allowed only its node's topics")
    actions = security.add_subparsers(dest='action', required=True)
    init = actions.add_parser('init', help='create the keystore (or renew its enclaves)')
    init.add_argument('--keystore', type=Path, default=None,
                      help='keystore folder (default: $ROS_SECURITY_KEYSTORE, else '
                           '$ROS_HOME/ezshop/keystore)')
    init.add_argument('--store-file', default='',
                      help="store description (default: $EZSHOP_STORE_FILE, else "
                           "ezshop_bringup's config/store.yaml)")
    init.add_argument('--namespace', default='/',
                      help="the store's namespace (launch arg namespace; default: /)")
    init.add_argument('--domain-id', type=int, default=None,
                      help='ROS_DOMAIN_ID the permissions are for (default: $ROS_DOMAIN_ID, '
                           'else 0)')
    init.add_argument('--no-tools', action='store_true',
                      help='no enclaves for the command line tools (enroll, ezshop customer)')
    init.add_argument('--new-keys', action='store_true',
                      help="issue every enclave a new key (the CA's is kept)")
    check = actions.add_parser('check', help='can a node start with DDS Security here?')
    check.add_argument('--keystore', type=Path, default=None,
                       help='keystore folder (default: as init)')
    check.add_argument('--enclave', default='/ezshop/store_node',
                       help='enclave to start with (default: %(default)s)')
    check.add_argument('-v', '--verbose', action='store_true',
                       help='also print what the middleware said')


def run(args, ros_args: list[str]) -> int:
    keystore = (args.keystore or default_keystore()).expanduser()
    if args.action == 'init':
        from ezshop_common.store_config import StoreConfigError, load_store
        from ezshop_ros.graph_permissions import store_graph

        try:
            store = load_store(args.store_file or None)
        except (StoreConfigError, OSError) as exc:
            print(f'ezshop security init: {exc}', file=sys.stderr)
            return EXIT_FAILED
        domain_id = default_domain_id() if args.domain_id is None else args.domain_id
        nodes = store_graph(store, args.namespace, tools=not args.no_tools)
        for line in init_keystore(keystore, nodes, domain_id, new_keys=args.new_keys):
            print(line)
        return EXIT_OK
    code, line, detail = check_security(keystore, args.enclave)
    print(line, file=sys.stdout if code == EXIT_OK else sys.stderr)
    if args.verbose and detail:
        print(detail, file=sys.stderr)
    return code


# -- files ---------------------------------------------------------------------------------

def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)
    return path


def _write(path: Path, data: bytes) -> None:
    """Write a file 0600, whole or not at all."""
    temporary = path.with_name(f'.{path.name}.tmp')
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if path.is_symlink():
        path.unlink()
    os.replace(temporary, path)


def _symlink(target: Path, link: Path) -> None:
    """link -> target (a relative path, as sros2 makes them)."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


# -- certificates and signatures (sros2's _utilities, with cryptography) ----------------------

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def build_key_and_cert(subject: str, ca_cert=None, ca_key=None):
    """A P-256 key (DDS Security 9.3.1: prime256v1) and its certificate: a CA's (self-signed,
    basic constraints CA, path length 1, critical) or an enclave's (signed by the CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    is_ca = ca_cert is None
    now = _now()
    cert = (x509.CertificateBuilder()
            .issuer_name(name if is_ca else ca_cert.subject)
            .subject_name(name)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=1 if is_ca else None),
                           critical=is_ca)
            .sign(key if is_ca else ca_key, hashes.SHA256()))
    return key, cert


def key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(path: Path):
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(path.read_bytes(), None)


def smime_sign(cert, key, content: bytes) -> bytes:
    """S/MIME, detached, text/plain, SHA-256: sros2's create_smime_signed_file (what Fast DDS
    and `openssl smime -verify` read)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    return (pkcs7.PKCS7SignatureBuilder().set_data(content)
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.SMIME,
                  [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature]))


def issued_by(cert, ca_cert) -> bool:
    """Whether `cert` is signed by `ca_cert`'s key (and names it as issuer)."""
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _xml_time(moment: datetime.datetime) -> str:
    """The validity times sros2 writes: ISO 8601, UTC, no zone suffix."""
    return moment.replace(tzinfo=None).isoformat()


# -- the keystore ------------------------------------------------------------------------------

def is_valid_keystore(keystore: Path) -> bool:
    """sros2's test: both CAs' certificates and keys and the signed governance."""
    return all((keystore / part).is_file() for part in (
        f'{PUBLIC}/{PERMISSIONS_CA_CERT}', f'{PUBLIC}/{IDENTITY_CA_CERT}',
        f'{PRIVATE}/{PERMISSIONS_CA_KEY}', f'{PRIVATE}/{IDENTITY_CA_KEY}',
        f'{ENCLAVES}/{GOVERNANCE_P7S}'))


def enclave_dir(keystore: Path, enclave: str) -> Path:
    return keystore / ENCLAVES / os.path.normpath(enclave.lstrip('/'))


def _ensure_ca(keystore: Path) -> str:
    public, private = keystore / PUBLIC, keystore / PRIVATE
    required = (public / PERMISSIONS_CA_CERT, public / IDENTITY_CA_CERT,
                private / PERMISSIONS_CA_KEY, private / IDENTITY_CA_KEY)
    if all(path.is_file() for path in required):
        cert = load_cert(public / IDENTITY_CA_CERT)
        return (f'CA kept: {cert.subject.rfc4514_string()}, valid until '
                f'{cert.not_valid_after_utc:%Y-%m-%d}')
    key, cert = build_key_and_cert(CA_COMMON_NAME)
    _write(private / CA_KEY, key_pem(key))
    _write(public / CA_CERT, cert_pem(cert))
    for name in (IDENTITY_CA_CERT, PERMISSIONS_CA_CERT):
        _symlink(Path(CA_CERT), public / name)
    for name in (IDENTITY_CA_KEY, PERMISSIONS_CA_KEY):
        _symlink(Path(CA_KEY), private / name)
    return (f'CA created: {cert.subject.rfc4514_string()} (one CA for identities and '
            f'permissions, as sros2 makes it), private/{CA_KEY}')


def _good_enclave_key(folder: Path, enclave: str, ca_cert) -> bool:
    """The enclave's key and certificate may stay: issued by this CA to this enclave, the
    key matching, valid for RENEW_BEFORE_DAYS more."""
    from cryptography.hazmat.primitives import serialization

    try:
        cert, key = load_cert(folder / CERT), load_key(folder / KEY)
    except (OSError, ValueError):
        return False
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    return (issued_by(cert, ca_cert)
            and cert.subject.rfc4514_string() == f'CN={enclave}'
            and cert.public_key().public_bytes(pem, raw) == key.public_key().public_bytes(pem, raw)
            and cert.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_BEFORE_DAYS))


def init_keystore(keystore: Path, nodes, domain_id: int, new_keys: bool = False) -> list[str]:
    """Create or renew the keystore for the graph's nodes (graph_permissions.GraphNode);
    returns what it did, a line each."""
    from ezshop_ros.graph_permissions import dds_rule, governance_xml, permissions_xml

    keystore = keystore.resolve()
    for folder in (keystore, keystore / PUBLIC, keystore / PRIVATE, keystore / ENCLAVES):
        _private_dir(folder)
    lines = [f'keystore {keystore} (ROS_DOMAIN_ID {domain_id})']
    lines.append(_ensure_ca(keystore))
    identity_cert = load_cert(keystore / PUBLIC / IDENTITY_CA_CERT)
    identity_key = load_key(keystore / PRIVATE / IDENTITY_CA_KEY)
    permissions_cert = load_cert(keystore / PUBLIC / PERMISSIONS_CA_CERT)
    permissions_key = load_key(keystore / PRIVATE / PERMISSIONS_CA_KEY)

    governance = governance_xml(domain_id)
    _write(keystore / ENCLAVES / GOVERNANCE_XML, governance)
    _write(keystore / ENCLAVES / GOVERNANCE_P7S,
           smime_sign(permissions_cert, permissions_key, governance))
    lines.append(f'{ENCLAVES}/{GOVERNANCE_P7S}: signed (authenticated participants only, '
                 'access control on, everything encrypted)')

    made = set()
    for node in nodes:
        folder = enclave_dir(keystore, node.enclave)
        for parent in reversed(folder.relative_to(keystore).parents):
            _private_dir(keystore / parent)
        _private_dir(folder)
        for name in (IDENTITY_CA_CERT, PERMISSIONS_CA_CERT):
            _symlink(Path(os.path.relpath(keystore / PUBLIC / name, folder)), folder / name)
        _symlink(Path(os.path.relpath(keystore / ENCLAVES / GOVERNANCE_P7S, folder)),
                 folder / GOVERNANCE_P7S)
        if not new_keys and _good_enclave_key(folder, node.enclave, identity_cert):
            key_done = 'key kept'
        else:
            key, cert = build_key_and_cert(node.enclave, identity_cert, identity_key)
            _write(folder / KEY, key_pem(key))
            _write(folder / CERT, cert_pem(cert))
            key_done = 'key issued'
        cert = load_cert(folder / CERT)
        document = permissions_xml(node, domain_id, _xml_time(cert.not_valid_before_utc),
                                   _xml_time(cert.not_valid_after_utc))
        _write(folder / PERMISSIONS_XML, document)
        _write(folder / PERMISSIONS_P7S,
               smime_sign(permissions_cert, permissions_key, document))
        rule = dds_rule(node)
        lines.append(f'{node.enclave}: {key_done}, permissions signed ({len(rule.publish)} '
                     f'DDS topics to publish, {len(rule.subscribe)} to subscribe)')
        made.add(folder)
    others = sorted(f'/{p.parent.relative_to(keystore / ENCLAVES).as_posix()}'
                    for p in (keystore / ENCLAVES).glob(f'**/{KEY}') if p.parent not in made)
    if others:
        lines.append('other enclaves, left as they are: ' + ', '.join(others))
    return lines


# -- does DDS Security work here? -------------------------------------------------------------

def security_environment(keystore: Path) -> dict[str, str]:
    """What a secured node runs with (store.launch.xml secure:=true sets the same)."""
    return {'ROS_SECURITY_ENABLE': 'true', 'ROS_SECURITY_STRATEGY': 'Enforce',
            'ROS_SECURITY_KEYSTORE': str(keystore)}


def start_secured_node(keystore: Path, enclave: str, timeout_s: float = CHECK_TIMEOUT_S
                       ) -> tuple[bool, str]:
    """Start a node with DDS Security on, Enforce, in `enclave` (in a process of its own):
    (it worked, what it printed)."""
    env = {**os.environ, **security_environment(keystore)}
    env.pop('ROS_SECURITY_ENCLAVE_OVERRIDE', None)
    try:
        done = subprocess.run(
            [sys.executable, '-c', CHECK_PROBE, '--ros-args', '--enclave', enclave],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        return False, f'no node started within {timeout_s:g} s: {exc.output or ""}'
    return done.returncode == 0, done.stdout.strip()


def security_error(output: str) -> str:
    """Why a start failed: the exception's message (on one line), else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for at in range(len(lines) - 1, -1, -1):
        if 'Error:' in lines[at] or 'Exception:' in lines[at]:
            return ' '.join(lines[at:])
    return lines[-1] if lines else 'no output'


def missing_plugins(output: str) -> bool:
    """Whether a failed start says the middleware has no security plugins."""
    return any(sign.lower() in output.lower() for sign in NO_PLUGIN_SIGNS)


def check_security(keystore: Path, enclave: str) -> tuple[int, str, str]:
    """(exit code, the one line to print, what the middleware said)."""
    folder = enclave_dir(keystore, enclave)
    missing = [name for name in ENCLAVE_FILES if not (folder / name).is_file()]
    if not is_valid_keystore(keystore) or missing:
        return (EXIT_NO_KEYSTORE, f'no SROS2 keystore with enclave {enclave} at {keystore}: '
                f'run `ezshop security init --keystore {keystore}` (docs/security.md)', '')
    ok, output = start_secured_node(keystore, enclave)
    if ok:
        return EXIT_OK, f'DDS Security works here: a node started in enclave {enclave} of ' \
                        f'{keystore}', output
    if missing_plugins(output):
        return EXIT_FAILED, NOT_AVAILABLE, output
    return (EXIT_FAILED, f'a node could not start with DDS Security (enclave {enclave} of '
            f'{keystore}): {security_error(output)}', output)
