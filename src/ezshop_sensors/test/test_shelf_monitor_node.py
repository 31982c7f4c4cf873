"""shelf_monitor over real DDS: generated readings in, ShelfEvent / ShelfState / Alert /
diagnostics out. The expected events come from running the same trace through the core
filter offline; the node must publish exactly those, stamped exactly as they began."""

import itertools
import math
import random
import struct
import uuid

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.parameter import Parameter

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import Alert, ShelfEvent
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import (
    ALERTS,
    CLOCK,
    DIAGNOSTICS,
    RANGE,
    SHELF_EVENTS,
    SHELF_STATE,
    lane_fields,
    lane_reading,
)
from ezshop_sensors.lane_filter import NS, FilterParams, LaneFilter
from ezshop_sensors.messages import illuminance_msg, range_msg
from ezshop_sensors.shelf_monitor_node import ShelfMonitorNode
from ezshop_testing.lane_traces import CountChange, HandDip, generate_trace
from ezshop_testing.param_files import node_parameters
from ezshop_testing.ros import RosHarness

TIMEOUT_S = 1.0
#: Deadline (s) for what the tests wait for: a bound on a hang, never a speed target.
DEADLINE_S = 60.0


def float32(value: float) -> float:
    """Range.range is float32: the offline filter must see what the node sees."""
    return struct.unpack('f', struct.pack('f', value))[0]


@pytest.fixture(scope='module')
def graph(config_dir):
    store = load_store(config_dir / 'store.yaml')
    harness = RosHarness()
    got = {'events': [], 'states': [], 'alerts': [], 'diag': []}
    probe = harness.node('probe')
    SHELF_EVENTS.subscription(probe, got['events'].append)
    SHELF_STATE.subscription(probe, got['states'].append)
    ALERTS.subscription(probe, got['alerts'].append)
    DIAGNOSTICS.subscription(probe, got['diag'].append)
    pubs = {lane.lane_id: lane_reading(lane).publisher(probe, **lane_fields(lane))
            for lane in store.lanes if lane.shelf_id == 'shelf_a'}
    monitor = harness.add(ShelfMonitorNode(context=harness.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('shelves', value=['shelf_a']),
        Parameter('sensor_timeout_s', value=TIMEOUT_S),
        Parameter('diagnostic_updater.period', value=0.2),
        Parameter('timeout_check_period_s', value=0.2),
        Parameter('state_period_s', value=1.0),
        # The tests play minutes of readings in seconds: their stamps run ahead of the clock.
        Parameter('max_clock_skew_s', value=3600.0)]))
    # Alerts are volatile: the probe must be matched before lane_2's timeout alert goes out.
    assert harness.spin_until(lambda: all(p.get_subscription_count() > 0
                                          for p in pubs.values())
                              and monitor.alert_pub.get_subscription_count() > 0,
                              timeout=DEADLINE_S)
    yield {'harness': harness, 'monitor': monitor, 'pubs': pubs, 'got': got, 'store': store,
           'probe': probe}
    harness.close()


def feed(graph, lane_id, samples, base_ns):
    """Publish readings one by one, each once the monitor has taken the previous one."""
    harness, monitor = graph['harness'], graph['monitor']
    lane_filter = monitor.filters[('shelf_a', lane_id)]
    frame = lane_filter.lane.frame_id
    for t, value in samples:
        stamp = base_ns + int(round(t * NS))
        if lane_id == 'lane_3':
            msg = illuminance_msg(stamp, frame, value)
        else:
            msg = range_msg(stamp, frame, 0.5, 4.0)
            msg.range = value
        before = lane_filter.counters['readings']
        graph['pubs'][lane_id].publish(msg)
        assert harness.spin_until(lambda n=before: lane_filter.counters['readings'] > n,
                                  DEADLINE_S)


def expected_events(lane, samples, base_ns):
    offline = LaneFilter(lane, FilterParams(sensor_timeout_s=TIMEOUT_S), start_ns=base_ns)
    events = []
    for t, value in samples:
        events += offline.add(base_ns + int(round(t * NS)), value)[0]
    return events


def event_key(e):
    if isinstance(e, ShelfEvent):
        return (e.quantity_delta, e.count_before, e.count_after, stamp_ns(e.header.stamp))
    return (e.delta, e.count_before, e.count_after, e.stamp_ns)


def test_pick_and_two_item_grab_are_published_once_each_with_their_start_stamp(graph):
    lane = graph['store'].lane('shelf_a', 'lane_1')
    episodes = [HandDip(4.0, 1.5), CountChange(8.0, 1.2, 3), CountChange(13.0, 1.5, 1)]
    trace = generate_trace(lane, episodes, 19.0, random.Random(7), initial_count=4)
    samples = [(t, float32(v)) for t, v in trace.samples]
    base_ns = graph['monitor'].get_clock().now().nanoseconds
    expected = expected_events(lane, samples, base_ns)
    assert [(e.count_before, e.count_after) for e in expected] == [(4, 3), (3, 1)]

    feed(graph, 'lane_1', samples, base_ns)
    got = graph['got']
    assert graph['harness'].spin_until(lambda: len(got['events']) >= 2, DEADLINE_S)
    graph['harness'].spin_for(0.3)  # nothing more may come
    events = [e for e in got['events'] if e.lane_id == 'lane_1']
    assert [event_key(e) for e in events] == [event_key(e) for e in expected]
    for event in events:
        assert (event.shelf_id, event.item_id) == ('shelf_a', 'cola')
        assert event.header.frame_id == 'shelf_a_lane_1'
        assert uuid.UUID(event.event_id).version == 5  # named by the change it reports
        assert 0.5 <= event.confidence <= 1.0
    assert len({e.event_id for e in events}) == 2

    def lane_1_count():
        lanes = {s.lane_id: s for s in got['states'][-1].lanes} if got['states'] else {}
        return lanes.get('lane_1') and lanes['lane_1'].count

    assert graph['harness'].spin_until(lambda: lane_1_count() == 1, DEADLINE_S)


def test_light_lane_pick_is_one_event(graph):
    lane = graph['store'].lane('shelf_a', 'lane_3')
    trace = generate_trace(lane, [HandDip(4.0, 1.0), CountChange(8.0, 1.0, 0)], 14.0,
                           random.Random(3), initial_count=1)
    base_ns = graph['monitor'].get_clock().now().nanoseconds
    expected = expected_events(lane, trace.samples, base_ns)
    assert [(e.count_before, e.count_after) for e in expected] == [(1, 0)]
    feed(graph, 'lane_3', trace.samples, base_ns)
    got = graph['got']
    assert graph['harness'].spin_until(
        lambda: any(e.lane_id == 'lane_3' for e in got['events']), DEADLINE_S)
    events = [e for e in got['events'] if e.lane_id == 'lane_3']
    assert [event_key(e) for e in events] == [event_key(e) for e in expected]
    assert events[0].item_id == 'sandwich'


def lane_diag(graph, lane_id):
    for array in reversed(graph['got']['diag']):
        for status in array.status:
            if status.name == f'shelf_monitor: lane shelf_a/{lane_id}':
                return status
    return None


def test_dead_lane_is_unmonitored_with_alert_and_error_then_recovers(graph):
    harness, got = graph['harness'], graph['got']

    def alerts(kind):
        return [a for a in got['alerts'] if a.kind == kind and 'shelf_a/lane_2' in a.refs]

    # lane_2 never got a reading: after the timeout it is unmonitored.
    assert harness.spin_until(lambda: alerts('sensor_dead'), DEADLINE_S)
    dead = alerts('sensor_dead')[0]
    assert dead.level == Alert.ERROR and dead.source == 'shelf_monitor'
    assert harness.spin_until(
        lambda: (lane_diag(graph, 'lane_2') or DiagnosticStatus()).level
        == DiagnosticStatus.ERROR, DEADLINE_S)
    state = {s.lane_id: s for s in got['states'][-1].lanes}['lane_2']
    assert state.sensor_ok is False

    # Readings come back: the lane recovers by itself.
    water = graph['store'].lane('shelf_a', 'lane_2')
    level = water.ultrasonic.distance_for_count(5)
    base_ns = graph['monitor'].get_clock().now().nanoseconds
    feed(graph, 'lane_2', [(0.1 * i, float32(level)) for i in range(20)], base_ns)
    assert harness.spin_until(lambda: alerts('sensor_recovered'), DEADLINE_S)
    assert alerts('sensor_recovered')[0].level == Alert.INFO
    assert harness.spin_until(
        lambda: lane_diag(graph, 'lane_2').level != DiagnosticStatus.ERROR, DEADLINE_S)
    state = {s.lane_id: s for s in got['states'][-1].lanes}['lane_2']
    assert state.sensor_ok is True and math.isclose(state.raw_reading, level, rel_tol=1e-6)
    assert len(alerts('sensor_dead')) == 1


def test_nan_reading_is_counted_in_diagnostics_not_fatal(graph):
    harness = graph['harness']
    lane_filter = graph['monitor'].filters[('shelf_a', 'lane_1')]
    before = lane_filter.counters['rejected_nan']
    base_ns = lane_filter.last_raw_ns + NS // 10
    feed(graph, 'lane_1', [(0.0, math.nan)], base_ns)

    def nan_count():
        status = lane_diag(graph, 'lane_1')
        values = {kv.key: kv.value for kv in status.values} if status else {}
        return int(values.get('rejected_nan', -1))

    assert harness.spin_until(lambda: nan_count() == before + 1, DEADLINE_S)


def test_late_subscriber_gets_the_shelf_state(graph):
    harness = graph['harness']
    late = []
    listener = harness.node('late_listener')
    SHELF_STATE.subscription(listener, late.append)
    assert harness.spin_until(lambda: late, DEADLINE_S)
    lanes = {s.lane_id: s for s in late[-1].lanes}
    assert set(lanes) == {'lane_1', 'lane_2', 'lane_3'}
    assert lanes['lane_1'].item_id == 'cola' and lanes['lane_1'].capacity == 6
    assert lanes['lane_3'].kind == 'light'


def test_sensor_timeout_runs_on_sim_time(ros, config_dir):
    from rosgraph_msgs.msg import Clock

    alerts = []
    probe = ros.node('sim_probe')
    clock_pub = CLOCK.publisher(probe)
    ALERTS.subscription(probe, alerts.append)
    monitor = ros.add(ShelfMonitorNode(context=ros.context, parameter_overrides=[
        Parameter('use_sim_time', value=True),
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('shelves', value=['shelf_b']),
        Parameter('sensor_timeout_s', value=2.0),
        Parameter('timeout_check_period_s', value=0.1),
        Parameter('diagnostic_updater.period', value=0.1)]))
    assert ros.spin_until(lambda: clock_pub.get_subscription_count() > 0
                          and monitor.alert_pub.get_subscription_count() > 0, DEADLINE_S)

    def tick(sim_s):
        clock_pub.publish(Clock(clock=time_from_ns(int(sim_s * NS))))
        assert ros.spin_until(
            lambda: monitor.get_clock().now().nanoseconds == int(sim_s * NS), DEADLINE_S)
        ros.spin_for(0.4)  # several timer periods

    tick(1000.0)   # sim time starts long after 0: no lane is dead yet
    # The timeout counts from the first check on sim time: the one at 1000 s, however long
    # the machine took to run it.
    assert ros.spin_until(lambda: all(f.last_valid_ns == 1000 * NS
                                      for f in monitor.filters.values()), DEADLINE_S)
    tick(1001.5)
    assert alerts == []
    tick(1002.5)   # 2.5 s of sim time without readings: every shelf_b lane is dead
    assert ros.spin_until(lambda: len(alerts) == 3, DEADLINE_S)
    assert {a.refs[0] for a in alerts} == {'shelf_b/lane_1', 'shelf_b/lane_2', 'shelf_b/lane_3'}


def test_shelves_unset_watches_every_lane_with_the_shipped_parameters(ros, config_dir):
    """config/sensors.yaml leaves `shelves` unset (rclpy cannot declare an empty list)."""
    params = node_parameters(config_dir / 'sensors.yaml')['shelf_monitor']
    assert 'shelves' not in params
    overrides = [Parameter(name, value=value) for name, value in params.items()]
    overrides.append(Parameter('store_file', value=str(config_dir / 'store.yaml')))
    monitor = ros.add(ShelfMonitorNode(context=ros.context, parameter_overrides=overrides))
    store = load_store(config_dir / 'store.yaml')
    assert set(monitor.filters) == {lane.key for lane in store.lanes}
    for name, value in params.items():
        if name != 'store_file':
            assert monitor.get_parameter(name).value == value, name


def test_ros2_param_set_changes_the_settle_time_and_refuses_wiring(ros, config_dir):
    """A second monitor (own node name, shelf_b; the module's graph on shelf_a still runs)."""
    events = []
    probe = ros.node('settle_probe')
    SHELF_EVENTS.subscription(probe, events.append)
    pub = RANGE.publisher(probe, shelf='shelf_b', lane='lane_1')
    monitor = ros.add(ShelfMonitorNode(
        context=ros.context, cli_args=['--ros-args', '-r', '__node:=shelf_monitor_settle'],
        parameter_overrides=[Parameter('store_file', value=str(config_dir / 'store.yaml')),
                             Parameter('shelves', value=['shelf_b'])]))
    assert ros.spin_until(lambda: pub.get_subscription_count() > 0, DEADLINE_S)
    lane_filter = monitor.filters[('shelf_b', 'lane_1')]
    geometry = lane_filter.lane.ultrasonic
    base_ns = monitor.get_clock().now().nanoseconds

    def play(start_s, seconds, count):
        """Readings at 10 Hz (stamped from base_ns + start_s) at the level of count items."""
        for i in range(int(seconds * 10)):
            msg = range_msg(base_ns + int((start_s + i / 10) * NS), lane_filter.lane.frame_id,
                            float32(geometry.distance_for_count(count)), 4.0)
            before = lane_filter.counters['readings']
            pub.publish(msg)
            assert ros.spin_until(lambda n=before: lane_filter.counters['readings'] > n,
                                  DEADLINE_S)

    def chips_events():
        return [e for e in events if (e.shelf_id, e.lane_id) == ('shelf_b', 'lane_1')]

    play(0.0, 2.0, 4)                 # the first steady level: count 4, no event
    assert lane_filter.count == 4
    play(2.0, 0.7, 3)                 # 0.7 s at 3 items: shorter than settle_s 1.0
    play(2.7, 1.0, 4)
    ros.spin_for(0.2)
    assert chips_events() == [] and lane_filter.count == 4
    result, = ros.set_parameters('/shelf_monitor_settle', settle_s=0.5)
    assert result.successful, result.reason
    play(3.7, 0.7, 3)                 # the same 0.7 s now settles
    assert ros.spin_until(lambda: chips_events(), DEADLINE_S)
    assert [(e.count_before, e.count_after) for e in chips_events()] == [(4, 3)]
    # Wiring read once at start, out of range, and two thresholds FilterParams rejects
    # together: refused, not silently ignored.
    store_file, window, too_long = ros.set_parameters('/shelf_monitor_settle', store_file='', median_window=7, settle_s=60.0)
    for refused in (store_file, window):
        assert not refused.successful and 'read-only' in refused.reason.replace(' ', '-')
    assert not too_long.successful
    hysteresis, = ros.set_parameters('/shelf_monitor_settle', hysteresis_items=0.2)
    assert not hysteresis.successful and 'hysteresis_items' in hysteresis.reason
    assert monitor.params.hysteresis_items == 0.6 and lane_filter.params.settle_s == 0.5


class RestartRig:
    """shelf_a/lane_1 with a lane sensor (this test's writer) and a shelf monitor that keeps
    its counts in a file and can be stopped and started again, in a namespace of its own (the
    other tests' monitors and readings stay out of it)."""

    def __init__(self, config_dir, tmp_path, namespace):
        self.config_dir = config_dir
        self.lane = load_store(config_dir / 'store.yaml').lane('shelf_a', 'lane_1')
        self.counts_file = tmp_path / 'lane_counts.json'
        self.namespace = namespace
        self.harness = RosHarness()
        self.probe = self.harness.node(f'{namespace}_probe', namespace=namespace)
        self.events, self.alerts = [], []
        SHELF_EVENTS.subscription(self.probe, self.events.append)
        ALERTS.subscription(self.probe, self.alerts.append)
        self.pub = None
        self.new_sensor()

    def new_sensor(self):
        """The lane sensor restarts: a new writer, without the old one's history."""
        if self.pub is not None:
            self.probe.destroy_publisher(self.pub)
        self.pub = lane_reading(self.lane).publisher(self.probe, **lane_fields(self.lane))

    def start_monitor(self):
        node = self.harness.add(ShelfMonitorNode(context=self.harness.context, parameter_overrides=[
            Parameter('store_file', value=str(self.config_dir / 'store.yaml')),
            Parameter('shelves', value=['shelf_a']),
            Parameter('counts_file', value=str(self.counts_file)),
            Parameter('max_clock_skew_s', value=3600.0)], namespace=self.namespace))
        assert self.harness.spin_until(lambda: self.pub.get_subscription_count() > 0, 60.0)
        return node

    def stop_monitor(self, node):
        self.harness.remove(node)
        node.destroy_node()

    def publish(self, samples, base_ns, node=None):
        """Readings at base + t; with a node, each once that node has read the previous."""
        lane_filter = node.filters[self.lane.key] if node is not None else None
        for t, value in samples:
            at = base_ns + int(t * NS)
            msg = range_msg(at, self.lane.frame_id, 0.02, 4.0)
            msg.range = value
            self.pub.publish(msg)
            if lane_filter is not None:
                assert self.harness.spin_until(lambda at=at: lane_filter.last_raw_ns >= at,
                                               60.0)
        return lane_filter


_RIGS = itertools.count()


@pytest.fixture
def restart_rig(config_dir, tmp_path):
    rig = RestartRig(config_dir, tmp_path, f'restart_rig_{next(_RIGS)}')
    yield rig
    rig.harness.close()


def test_a_restarted_monitor_keeps_its_counts_and_flags_a_change_nobody_watched(restart_rig):
    rig, lane = restart_rig, restart_rig.lane

    def untouched(count):
        """The lane standing untouched at `count` items for a few seconds."""
        return generate_trace(lane, [], 4.0, random.Random(7), initial_count=count).samples

    first = rig.start_monitor()
    base = first.get_clock().now().nanoseconds
    assert rig.publish(untouched(5), base, first).count == 5  # found at 5 (no event), kept
    assert rig.counts_file.exists()
    rig.stop_monitor(first)

    # Two are taken while it is down, and the lane sensor restarted too: no reading of the
    # outage is left (a new writer has no history). The new monitor starts from the kept 5.
    rig.new_sensor()
    second = rig.start_monitor()
    assert second.filters[lane.key].reported_count == 5
    assert rig.publish(untouched(3), base + 10 * NS, second).count == 3
    assert rig.harness.spin_until(lambda: [e for e in rig.events if e.unobserved]
                                  and rig.alerts, 60.0)
    # Only a monitor that kept counts can report an unobserved change: these are ours.
    (event,) = [e for e in rig.events if e.unobserved]
    assert (event.count_before, event.count_after, event.unobserved) == (5, 3, True)
    assert event.confidence == 0.0
    (alert,) = [a for a in rig.alerts if a.kind == 'count_changed_unobserved']
    assert event.event_id in alert.refs and alert.level == Alert.WARN
    assert '2 taken unobserved' in alert.message


def test_a_restarted_monitor_reads_the_take_of_its_outage_from_the_sensor_history(
        restart_rig):
    """The lane sensor keeps publishing while the monitor is down (kill -9, respawn): the new
    monitor is sent the readings of the outage, skips what its kept count holds, and reports
    the take as it happened (stamped when it began, not unobserved), once."""
    rig, lane = restart_rig, restart_rig.lane
    trace = generate_trace(lane, [CountChange(4.0, 1.2, 4)], 12.0, random.Random(3),
                           initial_count=5)
    first = rig.start_monitor()
    base = first.get_clock().now().nanoseconds
    rig.publish([(t, v) for t, v in trace.samples if t < 3.0], base, first)
    assert first.filters[lane.key].count == 5
    first._keep_counts()  # as its timer does every second (a kill -9 stops nothing cleanly)
    rig.stop_monitor(first)
    rig.publish([(t, v) for t, v in trace.samples if t >= 3.0], base)  # nobody listens

    second = rig.start_monitor()
    assert rig.harness.spin_until(lambda: second.filters[lane.key].count == 4, 60.0)
    rig.harness.spin_for(0.5)
    mine = [e for e in rig.events if stamp_ns(e.header.stamp) >= base]
    assert [(e.count_before, e.count_after, e.unobserved) for e in mine] == [(5, 4, False)]
    began = (stamp_ns(mine[0].header.stamp) - base) / NS
    assert trace.changes[0].began_s <= began <= trace.changes[0].change_s + 0.35
    assert mine[0].confidence > 0.5
    assert not [a for a in rig.alerts if a.kind == 'count_changed_unobserved']
    assert second.filters[lane.key].counters['replayed'] > 0
