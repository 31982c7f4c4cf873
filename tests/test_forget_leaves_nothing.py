"""Forget means gone, measured on what a running graph writes: a customer enrolled with a real
face, shopping, then forgotten while in the store leaves no byte of their name or their face
embeddings in any file the graph wrote (the store database with its write-ahead log, the ROS
logs of every node, caches, the run's temporary folder), and every such file is the owner's
only. The same scan finds both before the forget (it can fail). Their data can be exported
first with `ezshop customer export`, and `ezshop customer forget` does the forgetting."""

import json
import os
import signal
import stat
import subprocess

import pytest

from ezshop_msgs.msg import CartAction, CustomerEvent
from ezshop_msgs.srv import RegisterCustomer
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import (
    ANNOUNCEMENTS,
    CART_ACTIONS,
    CARTS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    RECEIPTS,
)
from ezshop_testing.env import ros_env
from ezshop_testing.processes import ChildProcess
from ezshop_vision.photo_encodings import photo_faces

NAME = 'Ottoline Quarrenbury-Vask'  # found nowhere else
S = 1_000_000_000
TIMEOUT = 20.0


def scan(root, needles: dict[str, bytes]) -> list[str]:
    """'<file>: <what>' for every needle found in any file under root."""
    found = []
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        data = path.read_bytes()
        found += [f'{path.relative_to(root)}: {what}' for what, needle in needles.items()
                  if needle in data]
    return found


def loose_modes(root) -> list[str]:
    """Files not 0600-or-tighter and folders not 0700-or-tighter under root."""
    return [f'{p.relative_to(root)}: {stat.filemode(p.stat().st_mode)}'
            for p in root.rglob('*') if stat.S_IMODE(p.stat().st_mode) & 0o077]


@pytest.fixture
def run_dir(tmp_path):
    root = tmp_path / 'run'
    for sub in ('store', 'log', 'cache', 'tmp', 'ros_home'):
        (root / sub).mkdir(parents=True)
    os.chmod(root, 0o700)
    return root


def test_forgotten_customer_leaves_no_byte_on_disk(ros, repo_root, config_dir, faces_root,
                                                   run_dir):
    photo = faces_root / 'dev' / 'obama' / '1.jpg'
    embedding = photo_faces([photo])[photo].embeddings[0].astype('<f4')
    env = ros_env(ROS_LOG_DIR=str(run_dir / 'log'), ROS_HOME=str(run_dir / 'ros_home'),
                  EZSHOP_CACHE=str(run_dir / 'cache'), XDG_CACHE_HOME=str(run_dir / 'cache'),
                  TMPDIR=str(run_dir / 'tmp'))
    install = repo_root / 'install'
    store = ChildProcess([str(install / 'ezshop_store/lib/ezshop_store/store_node'),
                          '--ros-args', '-p', f'database_url:=sqlite:///{run_dir}/store/store.db',
                          '-p', f'store_file:={config_dir / "store.yaml"}',
                          '-p', 'checkout_grace_s:=0.5'], env=env)
    greeter = ChildProcess([str(install / 'ezshop_web/lib/ezshop_web/greeter_node'),
                            '--ros-args', '-p', 'speak:=false'], env=env)
    try:
        assert store.wait_for_line('store ready', TIMEOUT), store.output
        probe = ros.node('forget_probe')
        events, actions = CUSTOMER_EVENTS.publisher(probe), CART_ACTIONS.publisher(probe)
        carts, receipts, words = [], [], []
        CARTS.subscription(probe, carts.append)
        RECEIPTS.subscription(probe, receipts.append)
        ANNOUNCEMENTS.subscription(probe, words.append)
        diagnostics = []
        DIAGNOSTICS.subscription(probe, diagnostics.append)
        register = probe.create_client(RegisterCustomer, 'register_customer')
        answer = ros.call(register, RegisterCustomer.Request(
            name=NAME, embeddings=embedding.tolist(), dim=128, model='dlib_face_recognition_'
            'resnet_model_v1', consent_notice='2026-12'), timeout=TIMEOUT)
        assert answer.success, answer.message
        customer = answer.customer_id
        assert ros.spin_until(lambda: probe.count_subscribers('customer_events') >= 2, TIMEOUT)
        # The greeter has fetched the gallery with them (names only) before they walk in.
        assert ros.spin_until(lambda: any(
            kv.key == 'gallery_customers' and kv.value == '1'
            for d in diagnostics for st in d.status if st.name.startswith('greeter')
            for kv in st.values), TIMEOUT), greeter.output
        t = probe.get_clock().now().nanoseconds

        def publish(kind, at):
            msg = CustomerEvent(event_id=f'{kind}-{at}', kind=kind, customer_id=customer,
                                door_id='entrance', confidence=1.0)
            msg.header.stamp = time_from_ns(at)
            events.publish(msg)

        publish(CustomerEvent.ENTERED, t)
        take = CartAction(event_id=f'take-{t}', customer_id=customer, item_id='cola',
                          quantity=1, confidence=1.0)
        take.header.stamp = time_from_ns(t + S)
        assert ros.spin_until(lambda: any(c.customer_id == customer and c.visit_id
                                          for c in carts), TIMEOUT)
        actions.publish(take)
        assert ros.spin_until(lambda: any(c.customer_id == customer and c.total_cents
                                          for c in carts), TIMEOUT)
        # The greeter welcomed them by name: it had the name (names only, from the store).
        assert ros.spin_until(lambda: any(NAME in w.text for w in words), TIMEOUT), \
            greeter.output

        needles = {'the name': NAME.encode(), 'the name (UTF-16)': NAME.encode('utf-16-le'),
                   'the embedding': embedding.tobytes()[:32]}
        before = scan(run_dir, {k: needles[k] for k in ('the name', 'the embedding')})
        assert before, 'the scan cannot see the data it looks for'

        exported = subprocess.run(
            ['scripts/run', 'ezshop', 'customer', 'export', customer], cwd=repo_root, env=env,
            capture_output=True, text=True, timeout=60)
        assert exported.returncode == 0, exported.stderr
        record = json.loads(exported.stdout)
        assert record['customer']['name'] == NAME
        assert record['customer']['consent_notice'] == '2026-12'
        assert len(record['embeddings']) == 1 and record['visits'][0]['state'] == 'open'

        forgot = subprocess.run(
            ['scripts/run', 'ezshop', 'customer', 'forget', customer], cwd=repo_root, env=env,
            capture_output=True, text=True, timeout=60)
        assert forgot.returncode == 0, forgot.stderr
        # The open visit is closed with a receipt that names nobody.
        assert ros.spin_until(lambda: any(r.customer_id == customer for r in receipts), TIMEOUT)
        (receipt,) = [r for r in receipts if r.customer_id == customer]
        assert receipt.customer_name == '' and receipt.total_cents > 0
    finally:
        for process in (greeter, store):
            process.send_signal(signal.SIGINT)
        codes = [greeter.stop(), store.stop()]
    assert codes == [0, 0], store.output + greeter.output
    # The run's own output (what this test captured) is not a file the graph wrote.
    assert scan(run_dir, needles) == []
    assert loose_modes(run_dir / 'store') == [] and loose_modes(run_dir / 'log') == []
    assert any((run_dir / 'log').rglob('*.log')), 'the nodes wrote no ROS log to scan'
    assert NAME not in store.output and NAME not in greeter.output
