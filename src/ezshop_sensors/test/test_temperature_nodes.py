"""temperature_monitor and temperature_sensor_node over real DDS (in-process rclpy nodes):
stamped readings in, exactly the alerts the hold time calls for out, garbage counted on
/diagnostics, a silent probe reported; DS18B20 files in the kernel's format read and
published stamped at the reading."""

import math

import pytest
from rclpy.parameter import Parameter

from ezshop_msgs.msg import Alert
from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import ALERTS, DIAGNOSTICS, TEMPERATURE
from ezshop_sensors.temperature_messages import temperature_msg
from ezshop_sensors.temperature_monitor import NS
from ezshop_sensors.temperature_monitor_node import TemperatureMonitorNode
from ezshop_sensors.temperature_sensor_node import TemperatureSensorNode
from ezshop_testing.ros import RosHarness

#: Deadline (s) for what the tests wait for: a bound on a hang, never a speed target.
DEADLINE_S = 60.0
#: The freezer's readings are this far apart (s of stamp time).
PERIOD_S = 5.0
TIMEOUT_S = 2.0


@pytest.fixture(scope='module')
def graph(config_dir):
    harness = RosHarness()
    got = {'alerts': [], 'diag': []}
    probe = harness.node('probe')
    ALERTS.subscription(probe, got['alerts'].append)
    DIAGNOSTICS.subscription(probe, got['diag'].append)
    pubs = {fridge: TEMPERATURE.publisher(probe, fridge=fridge)
            for fridge in ('dairy', 'freezer')}
    monitor = harness.add(TemperatureMonitorNode(context=harness.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('sensor_timeout_s', value=TIMEOUT_S),
        Parameter('check_period_s', value=0.2),
        Parameter('diagnostic_updater.period', value=0.2),
        # Minutes of freezer readings are played in seconds: their stamps run ahead.
        Parameter('max_clock_skew_s', value=3600.0)]))
    assert harness.spin_until(lambda: all(p.get_subscription_count() > 0
                                          for p in pubs.values())
                              and monitor.alert_pub.get_subscription_count() > 0,
                              timeout=DEADLINE_S)
    state = {'next_ns': monitor.get_clock().now().nanoseconds}
    yield {'harness': harness, 'monitor': monitor, 'pubs': pubs, 'got': got, 'state': state}
    harness.close()


def feed(graph, values):
    """Freezer readings PERIOD_S apart (stamps continue from the last test's); their stamps."""
    harness, unit = graph['harness'], graph['monitor'].monitor.units['freezer']
    stamps = []
    for value in values:
        graph['state']['next_ns'] += int(PERIOD_S * NS)
        stamps.append(graph['state']['next_ns'])
        graph['pubs']['freezer'].publish(temperature_msg(stamps[-1], 'freezer', value))
    taken = unit.counters['readings'] + unit.bad_readings + len(values)
    assert harness.spin_until(
        lambda: unit.counters['readings'] + unit.bad_readings >= taken, DEADLINE_S)
    harness.spin_for(0.3)  # an alert published last arrives
    return stamps


def freezer_alerts(graph, kinds):
    return [a for a in graph['got']['alerts'] if a.refs == ['freezer'] and a.kind in kinds]


def test_freezer_above_minus_15_longer_than_the_hold_is_exactly_one_alarm(graph):
    assert graph['monitor'].monitor.units['freezer'].hold_s == 600.0  # the store file's
    before = len(freezer_alerts(graph, ('temperature_high', 'temperature_recovered')))
    stamps = feed(graph, [-20.0] * 5 + [-12.0] * 150 + [-20.5] * 5)
    alerts = freezer_alerts(graph, ('temperature_high', 'temperature_recovered'))[before:]
    assert [(a.kind, a.level) for a in alerts] == [('temperature_high', Alert.ERROR),
                                                   ('temperature_recovered', Alert.INFO)]
    high, back = alerts
    # First reading out: stamps[5]; the alarm is stamped at the reading 600 s later.
    assert stamp_ns(high.header.stamp) == stamps[5 + int(600 / PERIOD_S)]
    assert stamp_ns(back.header.stamp) == stamps[155]
    assert high.header.frame_id == 'freezer' and high.source == 'temperature_monitor'
    assert '-12.0 C, above -15 C for 600 s' in high.message


def test_a_short_door_opening_raises_no_alarm(graph):
    before = len(graph['got']['alerts'])
    feed(graph, ([-20.0] * 3 + [-16.0, -13.0, -11.0, -12.0, -14.0, -17.0]) * 4)
    assert [a for a in graph['got']['alerts'][before:] if a.refs == ['freezer']
            and a.kind != 'temperature_sensor_recovered'] == []


def unit_status(graph, fridge):
    for array in reversed(graph['got']['diag']):
        for status in array.status:
            if status.hardware_id == fridge and status.name.endswith(f' {fridge}'):
                return status, {v.key: v.value for v in status.values}
    return None, {}


def test_nan_and_absurd_readings_are_counted_on_diagnostics_and_crash_nothing(graph):
    harness, unit = graph['harness'], graph['monitor'].monitor.units['freezer']
    nan_before, absurd_before = unit.counters['bad_nan'], unit.counters['bad_absurd']
    feed(graph, [math.nan, math.inf, 300.0, -20.0])
    assert (unit.counters['bad_nan'], unit.counters['bad_absurd']) == (nan_before + 2,
                                                                       absurd_before + 1)
    assert unit.last_c == -20.0  # the good reading after the garbage was judged
    graph['got']['diag'].clear()
    assert harness.spin_until(
        lambda: unit_status(graph, 'freezer')[1].get('bad_nan') == str(nan_before + 2),
        DEADLINE_S)
    status, values = unit_status(graph, 'freezer')
    assert values['bad_readings'] == str(unit.bad_readings)
    assert status.level == b'\x00', status.message


def test_a_silent_probe_raises_a_dead_alert(graph):
    harness, monitor = graph['harness'], graph['monitor']
    now = monitor.get_clock().now().nanoseconds
    graph['pubs']['dairy'].publish(temperature_msg(now, 'dairy', 4.0))
    assert harness.spin_until(lambda: monitor.monitor.units['dairy'].last_c == 4.0,
                              DEADLINE_S)
    assert monitor.monitor.units['dairy'].sensor_ok
    before = len(graph['got']['alerts'])

    def dead():
        return [a for a in graph['got']['alerts'][before:]
                if a.refs == ['dairy'] and a.kind == 'temperature_sensor_dead']
    assert harness.spin_until(lambda: dead(), DEADLINE_S)
    harness.spin_for(TIMEOUT_S)
    assert len(dead()) == 1 and dead()[0].level == Alert.ERROR
    assert stamp_ns(dead()[0].header.stamp) >= now + int(TIMEOUT_S * NS)
    assert harness.spin_until(
        lambda: unit_status(graph, 'dairy')[0] is not None
        and unit_status(graph, 'dairy')[0].level == b'\x02', DEADLINE_S)


SLAVE = ('{raw} : crc=57 YES\n{raw} t={milli}\n')


def write_probe(folder, w1_id, milli):
    (folder / w1_id).mkdir(exist_ok=True)
    (folder / w1_id / 'w1_slave').write_text(
        SLAVE.format(raw='72 01 4b 46 7f ff 0e 10 57', milli=milli))


def test_sensor_node_publishes_the_kernel_files_stamped_at_the_reading(ros, config_dir,
                                                                        tmp_path):
    write_probe(tmp_path, '28-0316a27c11ff', -18500)  # the freezer of config/store.yaml
    (tmp_path / '28-0316a2794cff').mkdir()  # the dairy fridge's probe: no w1_slave (gone)
    got = {'freezer': [], 'dairy': []}
    # A namespace of its own: the monitor tests' readings (latched) stay out.
    probe = ros.node('probe', namespace='sensor_test')
    for fridge in got:
        TEMPERATURE.subscription(probe, got[fridge].append, fridge=fridge)
    start = probe.get_clock().now().nanoseconds
    node = ros.add(TemperatureSensorNode(context=ros.context, namespace='sensor_test',
                                         parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('w1_dir', value=str(tmp_path)), Parameter('rate_hz', value=1.0)]))
    assert ros.spin_until(lambda: len(got['freezer']) >= 2, DEADLINE_S)
    first = got['freezer'][0]
    assert first.temperature == -18.5 and first.variance == 0.0
    assert first.header.frame_id == 'freezer'
    assert start <= stamp_ns(first.header.stamp) <= node.get_clock().now().nanoseconds
    assert stamp_ns(got['freezer'][1].header.stamp) > stamp_ns(first.header.stamp)
    assert got['dairy'] == [] and node.poller.failed_reads['dairy'] >= 2
    write_probe(tmp_path, '28-0316a2794cff', 4250)  # plugged in
    assert ros.spin_until(lambda: got['dairy'], DEADLINE_S)
    assert got['dairy'][0].temperature == 4.25
