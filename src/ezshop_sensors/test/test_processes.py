"""Both installed executables as separate processes, with config/sensors.yaml: a shelf
controller on gpiozero's mock pins feeds the shelf monitor, whose ShelfState shows the
counts the mock distances stand for; both stop cleanly on SIGINT."""

from ament_index_python.packages import get_package_prefix

from ezshop_ros.topics import SHELF_STATE
from ezshop_testing.processes import ChildProcess


def exe(name):
    return f"{get_package_prefix('ezshop_sensors')}/lib/ezshop_sensors/{name}"


def test_lane_sensor_node_feeds_shelf_monitor_across_processes(ros, config_dir):
    params = str(config_dir / 'sensors.yaml')
    controller = ChildProcess([
        exe('lane_sensor_node'), '--ros-args', '-r', '__node:=lane_sensor_shelf_a',
        '--params-file', params, '-p', 'pin_factory:=mock',
        # The mock LDR charges in (1 - lux / full_scale) of the time limit, timed by
        # gpiozero's reading thread: at the shipped 1000 lux full scale, 20 lux charges 0.2 ms
        # before the 10 ms limit, and that thread, held up 0.2 ms, reads 0 lux (garbage).
        # Here it charges 10 ms before a 50 ms limit (1 ms held up: 18 lux).
        '-p', 'lane_3.full_scale_lux:=100.0', '-p', 'lane_3.charge_time_limit_s:=0.05'])
    monitor = ChildProcess([
        exe('shelf_monitor'), '--ros-args', '--params-file', params,
        '-p', 'shelves:=[shelf_a]', '-p', 'settle_s:=0.5', '-p', 'light_settle_s:=0.5'])
    try:
        states = []
        probe = ros.node('probe')
        SHELF_STATE.subscription(probe, states.append)

        def counts():
            if not states:
                return {}
            return {(s.lane_id, s.count, s.sensor_ok) for s in states[-1].lanes}

        # mock_value in config/sensors.yaml: lane_1/lane_2 at 0.2 m = 4 of 6 items
        # (store file: 6 by default), lane_3 at 20 lux = the sandwich is there.
        expected = {('lane_1', 4, True), ('lane_2', 4, True), ('lane_3', 1, True)}
        # Two processes to start, discovery, then settle_s of steady readings: a deadline
        # for a hang, not a speed target.
        assert ros.spin_until(lambda: counts() == expected, timeout=60.0), (
            counts(), controller.output[-2000:], monitor.output[-2000:])
    finally:
        assert controller.stop() == 0, controller.output[-2000:]
        assert monitor.stop() == 0, monitor.output[-2000:]
