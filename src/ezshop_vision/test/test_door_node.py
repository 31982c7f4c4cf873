"""door_node over real DDS: exactly one ENTERED / EXITED per pass, one per person when several
pass together, UNKNOWN_PERSON event + alert for a close stranger, bad faces counted, thresholds
that `ros2 param set` really changes."""

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.parameter import Parameter
from sensor_msgs.msg import RegionOfInterest

from ezshop_msgs.msg import Alert, CustomerEvent, FaceArray, FaceDetection
from ezshop_ros.stamps import NS_PER_S, time_from_ns
from ezshop_ros.topics import ALERTS, CUSTOMER_EVENTS, FACES
from ezshop_vision.door_node import DoorNode


def _faces(seconds, people):
    msg = FaceArray(camera_id='cam')
    msg.header.stamp = time_from_ns(round(seconds * NS_PER_S))
    for track_id, customer_id, height in people:
        msg.faces.append(FaceDetection(track_id=track_id, customer_id=customer_id,
                                       confidence=0.9 if customer_id else 0.0,
                                       match_distance=0.3,
                                       roi=RegionOfInterest(x_offset=10, y_offset=10,
                                                            width=height, height=height)))
    return msg


def _door_graph(ros, config_dir, door_id):
    node = ros.add(DoorNode(context=ros.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('door_id', value=door_id),
        Parameter('diagnostic_updater.period', value=0.2)]))
    probe = ros.node(f'door_probe_{door_id}')
    events, alerts = [], []
    CUSTOMER_EVENTS.subscription(probe, events.append)
    ALERTS.subscription(probe, alerts.append)
    pub = FACES.publisher(probe, camera=node.camera_id)
    assert ros.spin_until(lambda: pub.get_subscription_count() > 0
                          and node.count_subscribers('customer_events') > 0, 10.0)
    return node, pub, events, alerts


def _play(ros, pub, start, seconds, people, fps=10):
    for i in range(int(seconds * fps)):
        pub.publish(_faces(start + i / fps, people))
        ros.spin_for(0.005)


def test_entrance_one_event_per_person_and_pass(ros, config_dir, diag_probe):
    node, pub, events, alerts = _door_graph(ros, config_dir, 'entrance')
    assert node.camera_id == 'cam_entrance'
    # Ada and Bob pass together (Bob's face a little smaller), a far face behind them.
    _play(ros, pub, 100.0, 3.0, [(1, 'ada', 140), (2, 'bob', 100), (3, '', 30)])
    assert ros.spin_until(lambda: len(events) >= 2, 5.0)
    ros.spin_for(0.3)
    assert sorted(e.customer_id for e in events) == ['ada', 'bob']
    assert all(e.kind == CustomerEvent.ENTERED and e.door_id == 'entrance' for e in events)
    assert len({e.event_id for e in events}) == 2
    assert all(e.header.stamp.sec == 100 for e in events)  # the image's stamp, 0.5 s in
    assert alerts == []
    # A stranger stays close in front of the camera: one UNKNOWN_PERSON, one alert.
    _play(ros, pub, 110.0, 3.0, [(5, '', 150)])
    assert ros.spin_until(lambda: len(events) >= 3 and alerts, 5.0)
    ros.spin_for(0.3)
    assert [e.kind for e in events[2:]] == [CustomerEvent.UNKNOWN_PERSON]
    assert events[2].customer_id == ''
    assert len(alerts) == 1 and alerts[0].kind == 'unknown_person'
    assert alerts[0].level == Alert.WARN and events[2].event_id in alerts[0].refs
    # A face with an empty box is counted, not fatal.
    pub.publish(_faces(120, [(9, 'ada', 0)]))
    assert ros.spin_until(lambda: (diag_probe('door_node: entrance') or {}).get(
        'malformed_faces') == '1', 5.0)
    assert diag_probe('door_node: entrance')['passes'] == '2'


def test_exit_door_emits_exited(ros, config_dir):
    _, pub, events, _ = _door_graph(ros, config_dir, 'exit')
    _play(ros, pub, 200.0, 1.5, [(1, 'ada', 140)])
    assert ros.spin_until(lambda: events, 5.0)
    ros.spin_for(0.2)
    assert [(e.kind, e.customer_id, e.door_id) for e in events] == \
        [(CustomerEvent.EXITED, 'ada', 'exit')]


def test_unknown_door_is_a_clear_error(ros, config_dir):
    with pytest.raises(ValueError, match="door_id: door 'side' is not in"):
        DoorNode(context=ros.context, parameter_overrides=[
            Parameter('store_file', value=str(config_dir / 'store.yaml')),
            Parameter('door_id', value='side')])


def test_ros2_param_set_changes_the_door_threshold_and_refuses_wiring(ros, config_dir):
    _, pub, events, _ = _door_graph(ros, config_dir, 'exit')
    _play(ros, pub, 300.0, 1.5, [(1, 'ada', 60)])  # too small for min_face_height_px 80
    ros.spin_for(0.5)
    assert events == []
    result, = ros.set_parameters('/door_node', min_face_height_px=50.0)
    assert result.successful, result.reason
    _play(ros, pub, 302.0, 1.5, [(2, 'bob', 60)])
    assert ros.spin_until(lambda: events, 5.0)
    assert [e.customer_id for e in events] == ['bob']
    # Out of range, and a parameter read once at start: refused, not silently ignored.
    too_small, door_id = ros.set_parameters('/door_node', min_face_height_px=0.5,
                                        door_id='entrance')
    assert not too_small.successful and not door_id.successful
    assert 'read-only' in door_id.reason or 'read only' in door_id.reason.lower()


def test_a_frame_stamped_in_the_future_is_refused_and_does_not_blind_the_door(
        ros, config_dir, diag_probe):
    node, pub, events, _ = _door_graph(ros, config_dir, 'entrance')
    now_s = node.get_clock().now().nanoseconds / NS_PER_S
    pub.publish(_faces(now_s + 3600.0, [(1, 'ada', 140)]))  # a camera clock gone wrong
    assert ros.spin_until(lambda: (diag_probe('door_node: entrance') or {}).get(
        'future_stamps_refused') == '1', 5.0)
    assert ros.spin_until(lambda: diag_probe.level('door_node: entrance') == DiagnosticStatus.WARN,
                          5.0)
    # Correct frames after it still make a pass (before, the door stayed blind).
    _play(ros, pub, now_s - 5.0, 3.0, [(2, 'bob', 140)])
    assert ros.spin_until(lambda: [e.customer_id for e in events] == ['bob'], 5.0)
    assert diag_probe('door_node: entrance')['future_stamp_sources'] \
        == 'cameras/cam_entrance/faces'
    # It warned while they came; quiet again, it is OK.
    assert ros.spin_until(lambda: diag_probe.level('door_node: entrance') == DiagnosticStatus.OK,
                          5.0)


def test_a_door_node_that_restarts_decides_the_passes_it_missed_once(ros, config_dir):
    """The faces topic keeps a history: a door node that starts after a crash decides the pass
    that happened while it was down, and decides again the one its predecessor had published,
    with the same event id (the store applies each id once)."""
    probe = ros.node('door_restart_probe')
    events = []
    CUSTOMER_EVENTS.subscription(probe, events.append)
    pub = FACES.publisher(probe, camera='cam_exit')

    def start():
        node = ros.add(DoorNode(context=ros.context, parameter_overrides=[
            Parameter('store_file', value=str(config_dir / 'store.yaml')),
            Parameter('door_id', value='exit')]))
        assert ros.spin_until(lambda: pub.get_subscription_count() > 0, 60.0)
        return node

    first = start()
    _play(ros, pub, 300.0, 1.5, [(1, 'ada', 140)])
    assert ros.spin_until(lambda: events, 30.0)
    ada = events[0]
    ros.remove(first)  # dies; Bob leaves while no door node watches
    _play(ros, pub, 310.0, 1.5, [(2, 'bob', 140)])
    start()
    assert ros.spin_until(lambda: any(e.customer_id == 'bob' for e in events)
                          and sum(e.customer_id == 'ada' for e in events) == 2, 30.0)
    ros.spin_for(0.5)
    assert sorted(e.customer_id for e in events) == ['ada', 'ada', 'bob']
    assert {e.event_id for e in events if e.customer_id == 'ada'} == {ada.event_id}
    assert all(e.kind == CustomerEvent.EXITED for e in events)
