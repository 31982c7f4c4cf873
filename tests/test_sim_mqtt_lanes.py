"""The simulated store with its lane sensors on MQTT (`LANES=mqtt make demo`): the simulator
plays ESP32 lane controllers publishing to the real Mosquitto, mqtt_bridge turns their readings
into the lane topics, and the receipts are the ground truth, as with Raspberry Pi lanes."""

import json

import pytest

from ezshop_testing.mqtt_broker import mqtt_unavailable_reason, mqtt_url
from ezshop_testing.processes import ChildProcess

SCENARIO = 'two_shoppers_one_shelf'
DEADLINE_S = 300


def test_lanes_over_mqtt_give_the_same_receipts(faces_root, tmp_path):
    reason = mqtt_unavailable_reason()
    if reason:
        pytest.skip(reason)
    results = tmp_path / 'results.json'
    launch = ChildProcess([
        'ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml', f'scenario:={SCENARIO}',
        'lanes:=mqtt', f'mqtt_broker_url:={mqtt_url()}',
        # A store id of this run's own: its topics cross no other run on the broker.
        f'store_id:=test_{tmp_path.name}', 'log_level:=info',
        f'database_url:=sqlite:///{tmp_path / "store.db"}', f'results_file:={results}',
        'fail_on_wrong:=true', f'timeout_s:={DEADLINE_S - 60:.1f}'])
    try:
        code = launch.proc.wait(timeout=DEADLINE_S)
    finally:
        launch.stop()
    assert code == 0, launch.output[-6000:]
    report = json.loads(results.read_text())
    assert report['finished'] and report['all_right'], json.dumps(report, indent=2)
    assert report['put_back_credits'] == 1 and report['wrong_person_units'] == 0
    # The lanes really came over MQTT: the simulator played controllers (it then makes no
    # lane publisher of its own) and the bridge was connected.
    assert 'play MQTT controllers on mqtt://' in launch.output
    assert 'connected to mqtt://' in launch.output
    assert 'VERDICT: ALL RECEIPTS RIGHT' in launch.output
