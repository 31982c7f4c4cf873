"""lane_sensor_node over real DDS, its drivers on gpiozero's own MockFactory pins.

The lanes are wired as `pin_factory: mock` wires them (prepare_mock_pins): gpiozero's
MockTriggerPin answering every trigger with an echo pulse of a set length (= a distance) and
MockChargingPin charging like an LDR + capacitor (= a light level), with edges stamped on time;
the drivers run unchanged on top of them.
"""

import math
import statistics
import time

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from gpiozero.pins.mock import MockFactory, MockPin
from rclpy.parameter import Parameter
from sensor_msgs.msg import Range

from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import DIAGNOSTICS, ILLUMINANCE, RANGE
from ezshop_sensors.lane_drivers import (
    HCSR04_FIELD_OF_VIEW_RAD,
    KIND_LIGHT,
    KIND_ULTRASONIC,
    LaneSpec,
    PingSequencer,
    lux_from_light_value,
    prepare_mock_pins,
    range_value,
)
from ezshop_sensors.lane_sensor_node import LaneSensorNode
from ezshop_testing.ros import RosHarness

DISTANCES = {'lane_1': 0.25, 'lane_2': 0.40}
LUX = 300.0
FULL_SCALE = 1000.0
CHARGE_LIMIT = 0.05  # s; the LDR charges 15 ms before it, so a late thread still reads
GAP_S = 0.02
#: Deadline (s) for what the tests wait for: a bound on a hang, never a speed target.
DEADLINE_S = 60.0

# A lane with no echo is part of the test; gpiozero warns about it from its thread.
pytestmark = pytest.mark.filterwarnings('ignore::gpiozero.exc.DistanceSensorNoEcho')


def wire_pins(factory):
    """Two HC-SR04s, one LDR, and a HC-SR04 whose echo never comes (a dead lane)."""
    echoes = {}
    for lane, (trig, echo) in {'lane_1': ('GPIO23', 'GPIO24'),
                               'lane_2': ('GPIO17', 'GPIO27')}.items():
        prepare_mock_pins(factory, LaneSpec(lane, KIND_ULTRASONIC, lane, trigger_pin=trig,
                                            echo_pin=echo, mock_value=DISTANCES[lane]))
        echoes[lane] = factory.pin(echo)
    prepare_mock_pins(factory, LaneSpec('lane_3', KIND_LIGHT, 'ldr_3', pin='GPIO18',
                                        charge_time_limit_s=CHARGE_LIMIT,
                                        full_scale_lux=FULL_SCALE, mock_value=LUX))
    factory.pin('GPIO5', pin_class=MockPin)    # trigger of the dead lane: no echo ever
    factory.pin('GPIO6', pin_class=MockPin)
    return echoes


def lane_params(shelf_id='shelf_a'):
    params = [Parameter('shelf_id', value=shelf_id),
              Parameter('lanes', value=['lane_1', 'lane_2', 'lane_3', 'lane_9']),
              Parameter('ping_gap_s', value=GAP_S),
              Parameter('diagnostic_updater.period', value=0.5)]
    for lane, trig, echo in (('lane_1', 'GPIO23', 'GPIO24'), ('lane_2', 'GPIO17', 'GPIO27'),
                             ('lane_9', 'GPIO5', 'GPIO6')):
        params += [Parameter(f'{lane}.kind', value='ultrasonic'),
                   Parameter(f'{lane}.trigger_pin', value=trig),
                   Parameter(f'{lane}.echo_pin', value=echo),
                   Parameter(f'{lane}.rate_hz', value=20.0)]
    params += [Parameter('lane_3.kind', value='light'), Parameter('lane_3.pin', value='GPIO18'),
               Parameter('lane_3.full_scale_lux', value=FULL_SCALE),
               Parameter('lane_3.charge_time_limit_s', value=CHARGE_LIMIT),
               Parameter('lane_3.frame_id', value='ldr_3')]
    return params


def full_reports(diag):
    """The node's full reports by lane status name (diagnostic_updater also sends one
    'starting up' array per lane when a task is added)."""
    return [{s.name: s for s in array.status} for array in diag if len(array.status) == 4]


@pytest.fixture(scope='module')
def graph():
    """One node on mock pins, probes subscribed to every output; run ~2 s once."""
    factory = MockFactory()
    echoes = wire_pins(factory)
    # The echo pins' recorded states start now, each from its own clock reading, before any
    # thread of the node may change them.
    starts = {}
    for lane, pin in echoes.items():
        pin.clear_states()
        starts[lane] = pin._last_change
    harness = RosHarness()
    got = {'lane_1': [], 'lane_2': [], 'lane_3': [], 'lane_9': [], 'diag': []}
    probe = harness.node('probe')
    for lane in ('lane_1', 'lane_2', 'lane_9'):
        RANGE.subscription(probe, got[lane].append, shelf='shelf_a', lane=lane)
    ILLUMINANCE.subscription(probe, got['lane_3'].append, shelf='shelf_a', lane='lane_3')
    DIAGNOSTICS.subscription(probe, got['diag'].append)
    # Taken before the node exists: its reader threads start inside the constructor.
    started_ns = probe.get_clock().now().nanoseconds
    node = harness.add(LaneSensorNode(pin_factory=factory, context=harness.context,
                                      parameter_overrides=lane_params()))
    assert harness.spin_until(lambda: min(len(got[k]) for k in ('lane_1', 'lane_2', 'lane_3'))
                              >= 8 and full_reports(got['diag']), timeout=DEADLINE_S), \
        {k: len(v) for k, v in got.items()}
    yield {'got': got, 'node': node, 'echoes': echoes, 'starts': starts,
           'started_ns': started_ns, 'harness': harness}
    harness.close()


def test_hc_sr04_lanes_publish_range_with_the_echo_distance(graph):
    for lane, distance in DISTANCES.items():
        msgs = graph['got'][lane]
        assert abs(statistics.median(m.range for m in msgs) - distance) < 0.002, lane
        msg = msgs[-1]
        assert msg.radiation_type == Range.ULTRASOUND
        assert msg.header.frame_id == f'shelf_a_{lane}'
        assert math.isclose(msg.field_of_view, HCSR04_FIELD_OF_VIEW_RAD, rel_tol=1e-6)
        assert math.isclose(msg.min_range, 0.02, rel_tol=1e-6)
        assert math.isclose(msg.max_range, 1.0, rel_tol=1e-6)


def test_readings_are_stamped_when_read_and_never_repeated(graph):
    for lane in ('lane_1', 'lane_2', 'lane_3'):
        stamps = [stamp_ns(m.header.stamp) for m in graph['got'][lane]]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert stamps[0] >= graph['started_ns']


def test_ldr_lane_publishes_illuminance_on_the_documented_linear_scale(graph):
    msgs = graph['got']['lane_3']
    lux = statistics.median(m.illuminance for m in msgs)
    assert abs(lux - LUX) < 5.0, lux
    assert msgs[-1].header.frame_id == 'ldr_3'


def test_hc_sr04s_ping_one_after_another_with_a_quiet_gap(graph):
    pulses = []
    for lane, pin in graph['echoes'].items():
        t = graph['starts'][lane]
        rise = None
        for state in list(pin.states)[1:]:
            t += state.timestamp
            if state.state:
                rise = t
            elif rise is not None:
                pulses.append((rise, t, lane))
    pulses.sort()
    assert len({lane for *_, lane in pulses}) == 2 and len(pulses) >= 10
    for (_, fall, lane_a), (rise, _, lane_b) in zip(pulses, pulses[1:], strict=False):
        assert rise > fall, 'two echoes overlapped'
        if lane_a != lane_b:
            assert rise - fall >= 0.8 * GAP_S, (rise - fall)


def test_dead_hc_sr04_publishes_nothing_and_shows_error_in_diagnostics(graph):
    harness, got, node = graph['harness'], graph['got'], graph['node']
    lane_1, lane_9 = 'lane_sensor_node: lane lane_1', 'lane_sensor_node: lane lane_9'
    # A report says OK for a lane that published since the previous report: lane_1 does so
    # in some report (how many of its readings fall in one 0.5 s period is the machine's
    # business), lane_9, which has failed reads and publishes nothing, in none.
    assert harness.spin_until(
        lambda: node.sensors['lane_9'].failed_reads >= 1
        and any(r[lane_1].level == DiagnosticStatus.OK for r in full_reports(got['diag'])),
        DEADLINE_S)
    assert got['lane_9'] == []
    assert [r[lane_9].level for r in full_reports(got['diag'])] == \
        [DiagnosticStatus.ERROR] * len(full_reports(got['diag']))


def test_rep117_and_lux_conversions():
    assert range_value(0.01, 0.02, 1.0) == -math.inf
    assert range_value(1.0, 0.02, 1.0) == math.inf
    assert range_value(0.5, 0.02, 1.0) == 0.5
    assert lux_from_light_value(0.25, 1000.0) == 250.0
    assert lux_from_light_value(1.7, 1000.0) == 1000.0


def test_ping_sequencer_serves_in_arrival_order_with_a_gap():
    import threading

    sequencer = PingSequencer(gap_s=0.01)
    log = []

    def ping(name):
        with sequencer.turn():
            log.append((name, time.monotonic()))
            time.sleep(0.002)

    threads = [threading.Thread(target=ping, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S)
    assert len(log) == 5
    times = [t for _, t in log]
    assert all(b - a >= 0.012 - 0.001 for a, b in zip(times, times[1:], strict=False))


def test_ros2_param_set_changes_lux_scale_and_rate_and_refuses_wiring():
    """A second controller (own node name and shelf, the module's graph still runs)."""
    factory = MockFactory()
    wire_pins(factory)
    with RosHarness() as ros:
        lux, ranges = [], []
        probe = ros.node('probe_dynamic')
        ILLUMINANCE.subscription(probe, lux.append, shelf='shelf_t', lane='lane_3')
        RANGE.subscription(probe, ranges.append, shelf='shelf_t', lane='lane_1')
        node = ros.add(LaneSensorNode(pin_factory=factory, context=ros.context,
                                      parameter_overrides=lane_params('shelf_t'),
                                      cli_args=['--ros-args', '-r',
                                                '__node:=lane_sensor_dynamic']))
        assert ros.spin_until(lambda: len(lux) >= 3 and len(ranges) >= 3, DEADLINE_S)
        assert abs(statistics.median(m.illuminance for m in lux) - LUX) < 5.0
        set_ns = probe.get_clock().now().nanoseconds
        result, rate = ros.set_parameters('/lane_sensor_dynamic',
                                          **{'lane_3.full_scale_lux': FULL_SCALE / 2,
                                             'lane_1.rate_hz': 0.1})
        assert result.successful and rate.successful, (result.reason, rate.reason)
        # Both took effect by now. A reading stamped later was published later, so on the new
        # scale and rate; older ones may still be on their way, and are left out.
        after_ns = probe.get_clock().now().nanoseconds

        def since_change(msgs):
            return [m for m in msgs if stamp_ns(m.header.stamp) > after_ns]

        assert ros.spin_until(lambda: len(since_change(lux)) >= 3, DEADLINE_S)
        assert abs(statistics.median(m.illuminance for m in since_change(lux)) - LUX / 2) < 5.0
        # While lane_1's driver takes 5 more readings (at 20 Hz each would have gone out), its
        # timer, restarted at 0.1 Hz, fires once per 10 s since the change at most.
        read = node.sensors['lane_1'].latest().seq
        assert ros.spin_until(lambda: node.sensors['lane_1'].latest().seq >= read + 5,
                              DEADLINE_S)
        periods = (probe.get_clock().now().nanoseconds - set_ns) // 10_000_000_000
        assert len(since_change(ranges)) <= periods, (len(since_change(ranges)), periods)
        # Pins, ids and the factory are read once at start: refused, not silently ignored.
        pin, shelf, factory_name = ros.set_parameters(
            '/lane_sensor_dynamic', **{'lane_3.pin': 'GPIO19'}, shelf_id='shelf_x',
            pin_factory='mock')
        for refused in (pin, shelf, factory_name):
            assert not refused.successful and 'read-only' in refused.reason.replace(' ', '-')
