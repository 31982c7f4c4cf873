"""Record a simulated visit, replay it into a fresh store graph, get the same receipts.

Everything runs as real processes over DDS: (1) sim.launch.xml with `record:=true` plays
one_shopper through the store graph (the referee judges it) while ezshop_bag's recorder
writes the bag; (2) store.launch.xml on sim time (no simulator, no cameras, no lane sensors,
a fresh database, its own recorder) and `ezshop replay` publishing the bag's camera and lane
inputs with /clock. The bags are read with rosbags, a rosbag2 reader independent of ours:
the receipts the replayed store issued must equal the recorded ones.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from ezshop_testing.processes import ChildProcess

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = 'one_shopper'
DEADLINE_S = 300
INPUTS = ('/image_raw', '/camera_info', '/range', '/illuminance', '/temperature')


def read_bag(path: Path) -> tuple[dict, list]:
    """Topic -> message count, and the final receipts (customer, lines, total) per visit,
    decoded by rosbags from the bag's own schemas."""
    store = get_typestore(Stores.EMPTY)
    with Reader(path) as bag:
        for connection in bag.connections:
            store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
            assert store.hash_rihs01(connection.msgtype) == connection.digest, connection.topic
        counts = {c.topic: c.msgcount for c in bag.connections}
        # Receipts name nobody (names stay off the bus): the gallery the recorder fetched does.
        names = {}
        galleries = [c for c in bag.connections if c.topic == '/gallery']
        for connection, _, raw in bag.messages(connections=galleries):
            names.update((c.customer_id, c.name)
                         for c in store.deserialize_cdr(raw, connection.msgtype).customers)
        receipts = {}
        wanted = [c for c in bag.connections if c.topic == '/receipts']
        for connection, _, raw in bag.messages(connections=wanted):
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if msg.visit_id not in receipts or msg.revision >= receipts[msg.visit_id][0]:
                receipts[msg.visit_id] = (msg.revision, (
                    names.get(msg.customer_id, msg.customer_id),
                    tuple(sorted((line.item_id, line.quantity) for line in msg.lines)),
                    msg.total_cents))
    return counts, sorted(r for _, r in receipts.values())


def per_customer(receipts: list) -> list:
    """Receipts added up per customer, as the referee reports what it charged."""
    lines: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for name, items, total in receipts:
        for item, quantity in items:
            lines.setdefault(name, {})[item] = lines.get(name, {}).get(item, 0) + quantity
        lines.setdefault(name, {})
        totals[name] = totals.get(name, 0) + total
    return sorted((name, tuple(sorted((i, q) for i, q in lines[name].items() if q)),
                   totals[name]) for name in totals)


def launch(args: list[str], home: Path) -> ChildProcess:
    """ros2 launch ezshop_bringup ..., with a ROS_HOME of its own: a store never opens the
    default database of another run."""
    return ChildProcess(['ros2', 'launch', 'ezshop_bringup', *args],
                        env=dict(os.environ, ROS_HOME=str(home)))


@pytest.mark.slow
def test_a_recorded_visit_replays_to_the_same_receipts(faces_root, tmp_path):
    # 1. Record the simulated visit.
    bag, results = tmp_path / 'visit', tmp_path / 'results.json'
    sim = launch(['sim.launch.xml', f'scenario:={SCENARIO}',
                  f'database_url:=sqlite:///{tmp_path / "recorded.db"}',
                  f'results_file:={results}', 'fail_on_wrong:=true',
                  f'timeout_s:={DEADLINE_S - 60:.1f}', 'record:=true', f'bag:={bag}'],
                 tmp_path / 'home_record')
    try:
        code = sim.proc.wait(timeout=DEADLINE_S)
    finally:
        sim.stop()
    assert code == 0, sim.output[-6000:]
    report = json.loads(results.read_text())
    assert report['finished'], json.dumps(report, indent=2)

    # The bag holds the receipts the referee saw (whether or not the store got them right:
    # that is test_sim_end_to_end's business; this test is about recording and replaying).
    counts, recorded = read_bag(bag)
    charged = sorted((s['shopper'], tuple(sorted((i, q) for i, q in s['charged'].items() if q)),
                      s['charged_cents']) for s in report['shoppers']
                     if s['enrolled'] and s['shopper'] not in report['missing_receipts'])
    assert per_customer(recorded) == charged, (recorded, charged)
    assert any(lines for _, lines, _ in recorded), \
        f'the recorded visit charged nothing, nothing to compare a replay with: {report}'
    for suffix in INPUTS:
        assert any(t.endswith(suffix) and n for t, n in counts.items()), (suffix, counts)
    frames = counts['/cameras/cam_entrance/image_raw']
    assert frames >= 0.8 * 10 * 18, counts  # 10 frames a second over the 18 s scenario
    for topic in ('/gallery', '/sim/ground_truth', '/shelf_events', '/cart_actions',
                  '/customer_events', '/cameras/cam_entrance/faces'):
        assert counts.get(topic), (topic, counts)

    # The recorded face arrays and events, fed offline to a fresh fusion engine
    # (bench/fusion_replay.py), decide every shelf event as the live graph did: right.
    judged = tmp_path / 'fusion_replay.json'
    offline = subprocess.run([sys.executable, str(ROOT / 'bench' / 'fusion_replay.py'), str(bag),
                              '--json', str(judged)], capture_output=True, text=True,
                             timeout=120)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    (result,) = json.loads(judged.read_text())['results']
    assert result['outcomes'] and set(result['outcomes']) == {'right'}, result
    assert result['receipts_right'] == result['receipts'] == 1, result

    # 2. Replay its inputs into a fresh store graph on sim time, recording that graph too.
    replayed_bag, replay_results = tmp_path / 'replayed', tmp_path / 'replay.json'
    home = tmp_path / 'home_replay'
    store = launch(['store.launch.xml', 'with_cameras:=false', 'with_lane_sensors:=false',
                    'use_sim_time:=true', 'log_level:=warn',
                    f'database_url:=sqlite:///{tmp_path / "replayed.db"}',
                    'record:=true', f'bag:={replayed_bag}'], home)
    replay = None
    try:
        replay = ChildProcess(['ezshop', 'replay', str(bag), '--results', str(replay_results),
                               '--fail-on-difference'], env=dict(os.environ, ROS_HOME=str(home)))
        replay_code = replay.proc.wait(timeout=DEADLINE_S)
    finally:
        if replay is not None:
            replay.stop()
        store.stop(grace=20.0)
    assert replay_code == 0, replay.output[-6000:] + store.output[-3000:]
    assert 'REPLAY: SAME RECEIPTS' in replay.output
    replay_report = json.loads(replay_results.read_text())
    assert {name for name, _, _ in recorded} <= set(replay_report['enrolled'])
    published = replay_report['published']
    inputs = {t: n for t, n in counts.items() if t.endswith(INPUTS)}
    assert published == inputs  # every recorded input message, nothing else

    replayed_counts, replayed = read_bag(replayed_bag)
    assert replayed == recorded
    # The replayed graph decided for itself: its own faces, shelf events and cart actions.
    for topic in ('/cameras/cam_entrance/faces', '/shelf_events', '/cart_actions'):
        assert replayed_counts.get(topic), (topic, replayed_counts)
    assert '/sim/ground_truth' not in replayed_counts
