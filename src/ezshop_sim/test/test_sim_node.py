"""sim_node over real DDS: frames, lane readings and ground truth as the store would see them."""

import math
import statistics

import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import Range
from std_msgs.msg import Empty

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import GroundTruth
from ezshop_ros.stamps import stamp_seconds
from ezshop_ros.topics import CAMERA_INFO, DIAGNOSTICS, GROUND_TRUTH, ILLUMINANCE, IMAGE_RAW, RANGE
from ezshop_sim.sim_node import SimNode


def stamp_s(msg):
    return stamp_seconds(msg.header.stamp)


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def test_sim_node_plays_a_scenario_over_dds(ros, faces_root, store):
    node = ros.add(SimNode(context=ros.context, parameter_overrides=[
        Parameter('scenario', value='one_shopper'),
        Parameter('faces_dir', value=str(faces_root)),
        Parameter('time_scale', value=4.0),
        Parameter('fps', value=5.0),
        Parameter('wait_for_subscribers', value=['sim_test/go']),
    ]))
    probe = ros.node('sim_probe')
    got = {'frames': [], 'info': [], 'truth': [], 'range': [], 'lux': [], 'diag': []}
    IMAGE_RAW.subscription(probe, got['frames'].append, camera='cam_entrance')
    CAMERA_INFO.subscription(probe, got['info'].append, camera='cam_entrance')
    GROUND_TRUTH.subscription(probe, got['truth'].append)
    RANGE.subscription(probe, got['range'].append, shelf='shelf_a', lane='lane_1')
    ILLUMINANCE.subscription(probe, got['lux'].append, shelf='shelf_a', lane='lane_3')
    DIAGNOSTICS.subscription(probe, got['diag'].append)

    # The scenario clock waits for a subscriber on sim_test/go: nothing happens before.
    ros.spin_for(1.0)
    assert node.state == 'waiting' and not got['frames'] and not got['truth']
    assert ros.spin_until(lambda: got['diag'], 5.0)
    assert 'waiting for subscribers: sim_test/go' in got['diag'][-1].status[0].message
    probe.create_subscription(Empty, 'sim_test/go', lambda _: None, 1)

    done = lambda: any(m.kind == GroundTruth.SCENARIO_DONE for m in got['truth'])  # noqa: E731
    assert ros.spin_until(done, 30.0), [m.kind for m in got['truth']]

    truth = [(m.kind, m.shopper, m.enrolled, m.shelf_id, m.lane_id, m.item_id, m.quantity)
             for m in got['truth']]
    assert truth == [
        (GroundTruth.ENTERED, 'obama', True, '', '', '', 0),
        (GroundTruth.TAKE, 'obama', True, 'shelf_a', 'lane_1', 'cola', 1),
        (GroundTruth.EXITED, 'obama', True, '', '', '', 0),
        (GroundTruth.SCENARIO_DONE, '', False, '', '', '', 0),
    ]
    stamps = [stamp_s(m) for m in got['truth']]
    assert stamps == sorted(stamps)

    frames = got['frames']
    assert len(frames) > 10
    for frame in frames:
        assert (frame.width, frame.height, frame.encoding, frame.step) == (640, 480, 'bgr8', 1920)
        assert len(frame.data) == 640 * 480 * 3 and frame.header.frame_id == 'cam_entrance'
    assert [stamp_s(f) for f in frames] == sorted(stamp_s(f) for f in frames)
    assert got['info'] and got['info'][-1].width == 640

    # Range readings follow the true count: 6 colas before the take, 5 after.
    geo = store.lane('shelf_a', 'lane_1').ultrasonic
    take_t = stamps[1]
    assert all(r.radiation_type == Range.ULTRASOUND and r.max_range == geo.max_range_m
               for r in got['range'])
    before = [r.range for r in got['range'] if stamp_s(r) < take_t - 2.0 and math.isfinite(r.range)]
    after = [r.range for r in got['range'] if stamp_s(r) > take_t + 0.2 and math.isfinite(r.range)]
    assert len(before) > 5 and len(after) > 5
    assert statistics.median(before) == pytest.approx(geo.distance_for_count(6), abs=0.003)
    assert statistics.median(after) == pytest.approx(geo.distance_for_count(5), abs=0.003)
    assert statistics.median(m.illuminance for m in got['lux']) < 60.0  # sandwich still there
    status = got['diag'][-1].status[0]
    assert status.name == 'sim_node: simulator'
    assert int(dict((v.key, v.value) for v in status.values)['frames_published']) > 0
