"""shelf_monitor: lane readings in, ShelfEvent / ShelfState / Alert / diagnostics out.

All the logic is in ezshop_sensors.lane_filter; this node wires one LaneFilter per lane of
the store file to its range or illuminance topic.
"""

from __future__ import annotations

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Illuminance, Range

from ezshop_common.store_config import SENSOR_ULTRASONIC, load_store
from ezshop_msgs.msg import Alert, ShelfEvent, ShelfState
from ezshop_ros.process import init_node_process, shutdown_node_process
from ezshop_sensors.lane_filter import FilterParams, LaneFilter
from ezshop_sensors.messages import (
    lane_diagnostic,
    lane_state_msg,
    ns_from_time,
    sensor_alert_msg,
    shelf_event_msg,
    time_from_ns,
)

#: (name, default, description, low, high) of every float filter parameter.
_FLOAT_PARAMS = (
    ('settle_s', 1.0, 'a lower count must hold this long (s) before it is accepted', 0.1, 10.0),
    ('putback_settle_s', 1.5, 'a higher count (put-back) on an ultrasonic lane must hold this '
     'long (s); longer than settle_s because a hand in the beam looks like more items',
     0.1, 10.0),
    ('light_settle_s', 2.5, 'a light lane change must hold this long (s); longer than the '
     'longest hand shadow', 0.1, 20.0),
    ('hysteresis_items', 0.6, 'ultrasonic: the reading must leave the accepted count by more '
     'than this many items before a change is considered', 0.0, 1.0),
    ('level_tolerance_items', 0.3, 'ultrasonic: a reading within this many items of a whole '
     'count stands for that count', 0.05, 0.49),
    ('steady_band_m', 0.01, 'ultrasonic: settle window readings must lie within this (m) of '
     'their median (items stand still, hands do not)', 0.001, 0.1),
    ('steady_fraction', 0.75, 'ultrasonic: fraction of settle window readings that must be '
     'within steady_band_m', 0.0, 1.0),
    ('back_wall_margin_m', 0.03, 'ultrasonic: readings beyond the back wall by more than this '
     '(m) are impossible', 0.0, 1.0),
    ('occlusion_margin_items', 0.5, 'ultrasonic: readings this many items in front of a full '
     'lane are something in the beam', 0.0, 5.0),
    ('spike_jump_m', 0.10, 'ultrasonic: a reading jumping more than this (m) is kept only if '
     'the next reading confirms it', 0.005, 4.0),
    ('spike_jump_ratio', 4.0, 'light: a reading changing by more than this factor is kept '
     'only if the next reading confirms it', 1.0, 1000.0),
    ('light_hysteresis_ratio', 1.5, 'light: a lane turns empty only above dark_below_lux '
     'times this', 1.0, 10.0),
    ('sensor_timeout_s', 3.0, 'a lane without a valid reading this long (s) is unmonitored',
     0.1, 600.0),
)
_INT_PARAMS = (
    ('median_window', 5, 'readings in the median filter', 1, 51),
    ('recover_readings', 3, 'consecutive valid readings that bring an unmonitored lane back',
     1, 100),
)


def _reliable(depth: int, transient_local: bool = False) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient_local
        else DurabilityPolicy.VOLATILE)


def _sensor_data() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


class ShelfMonitorNode(Node):
    """One LaneFilter per lane of the store file; events out exactly once per change."""

    def __init__(self, **kwargs):
        super().__init__('shelf_monitor', **kwargs)
        self.declare_parameter('store_file', '', ParameterDescriptor(
            description="store description; '' = $EZSHOP_STORE_FILE or "
                        '$EZSHOP_ROOT/config/store.yaml'))
        self.declare_parameter('shelves', Parameter.Type.STRING_ARRAY, ParameterDescriptor(
            description='shelf ids to watch; unset or [] = every shelf of the store file'))
        self.declare_parameter('state_period_s', 5.0, ParameterDescriptor(
            description='shelf_state is also republished this often (s)',
            floating_point_range=[FloatingPointRange(from_value=0.1, to_value=3600.0)]))
        self.declare_parameter('diagnostics_period_s', 1.0, ParameterDescriptor(
            description='/diagnostics and the sensor timeout check run this often (s)',
            floating_point_range=[FloatingPointRange(from_value=0.05, to_value=60.0)]))
        for name, default, description, low, high in _FLOAT_PARAMS:
            self.declare_parameter(name, default, ParameterDescriptor(
                description=description,
                floating_point_range=[FloatingPointRange(from_value=low, to_value=high)]))
        for name, default, description, low, high in _INT_PARAMS:
            self.declare_parameter(name, default, ParameterDescriptor(
                description=description,
                integer_range=[IntegerRange(from_value=low, to_value=high, step=1)]))
        params = FilterParams(**{name: self.get_parameter(name).value
                                 for name, *_ in _FLOAT_PARAMS + _INT_PARAMS})

        store = load_store(self.get_parameter('store_file').value or None)
        # Declared without a default (rclpy cannot declare an empty list): unset = every shelf.
        wanted = set(self.get_parameter_or('shelves', Parameter('shelves', value=[])).value
                     or [])
        unknown = wanted - {shelf.shelf_id for shelf in store.shelves}
        if unknown:
            raise ValueError(f'shelves parameter names unknown shelves: {sorted(unknown)}')
        lanes = [lane for lane in store.lanes if not wanted or lane.shelf_id in wanted]
        start_ns = self.get_clock().now().nanoseconds
        self.filters = {lane.key: LaneFilter(lane, params, start_ns=start_ns)
                        for lane in lanes}

        self.event_pub = self.create_publisher(ShelfEvent, 'shelf_events', _reliable(100))
        self.state_pub = self.create_publisher(ShelfState, 'shelf_state', _reliable(1, True))
        self.alert_pub = self.create_publisher(Alert, 'alerts', _reliable(50))
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.bad_messages = 0
        self._newest_stamp_ns = 0
        for lane in lanes:
            if lane.sensor == SENSOR_ULTRASONIC:
                self.create_subscription(
                    Range, lane.range_topic,
                    lambda msg, key=lane.key: self._on_reading(key, msg, msg.range),
                    _sensor_data())
            else:
                self.create_subscription(
                    Illuminance, lane.illuminance_topic,
                    lambda msg, key=lane.key: self._on_reading(key, msg, msg.illuminance),
                    _sensor_data())
        self.create_timer(self.get_parameter('state_period_s').value, self._publish_state)
        self.create_timer(self.get_parameter('diagnostics_period_s').value, self._tick)
        self._publish_state()
        self.get_logger().info(
            f'watching {len(lanes)} lanes of {store.source}: '
            + ', '.join(f'{shelf}/{lane}' for shelf, lane in self.filters))

    def _on_reading(self, key, msg, value) -> None:
        lane_filter = self.filters[key]
        try:
            stamp_ns = ns_from_time(msg.header.stamp)
            value = float(value)
        except (TypeError, ValueError, OverflowError):
            self.bad_messages += 1
            return
        count_before = lane_filter.reported_count
        ok_before = lane_filter.sensor_ok
        events, health = lane_filter.add(stamp_ns, value)
        self._newest_stamp_ns = max(self._newest_stamp_ns, stamp_ns)
        for event in events:
            self.event_pub.publish(shelf_event_msg(event, lane_filter.lane.frame_id))
            self.get_logger().info(
                f'{event.shelf_id}/{event.lane_id} {event.item_id}: {event.delta:+d} '
                f'({event.count_before} -> {event.count_after}, confidence '
                f'{event.confidence:.2f}) event {event.event_id}')
        self._report_health(lane_filter, health)
        if lane_filter.reported_count != count_before or lane_filter.sensor_ok != ok_before:
            self._publish_state()

    def _report_health(self, lane_filter: LaneFilter, changes) -> None:
        for change in changes:
            alert = sensor_alert_msg(lane_filter, change.ok, change.stamp_ns, change.reason,
                                     self.get_name())
            self.alert_pub.publish(alert)
            if change.ok:
                self.get_logger().info(alert.message)
            else:
                self.get_logger().error(alert.message)
        if changes:
            self._publish_diagnostics()

    def _tick(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        changed = False
        for lane_filter in self.filters.values():
            if now_ns > 0 and lane_filter.last_valid_ns == 0:
                # Sim time started after the node: the timeout counts from now, not from 0.
                lane_filter.last_valid_ns = now_ns
            changes = lane_filter.check_timeout(now_ns)
            self._report_health(lane_filter, changes)
            changed = changed or bool(changes)
        if changed:
            self._publish_state()
        self._publish_diagnostics()

    def _publish_state(self) -> None:
        msg = ShelfState()
        msg.header.stamp = time_from_ns(self._newest_stamp_ns) if self._newest_stamp_ns \
            else self.get_clock().now().to_msg()
        msg.lanes = [lane_state_msg(f) for f in self.filters.values()]
        self.state_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        unmonitored = sum(1 for f in self.filters.values() if not f.sensor_ok)
        node_status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if self.bad_messages else DiagnosticStatus.OK,
            name=f'{self.get_name()}: node', hardware_id=self.get_name(),
            message=f'{len(self.filters)} lanes, {unmonitored} unmonitored',
            values=[KeyValue(key=k, value=str(v)) for k, v in (
                ('lanes', len(self.filters)), ('unmonitored_lanes', unmonitored),
                ('bad_messages', self.bad_messages),
                ('events', sum(f.counters['events'] for f in self.filters.values())))])
        array.status = [node_status] + [lane_diagnostic(self.get_name(), f)
                                        for f in self.filters.values()]
        self.diag_pub.publish(array)


def main(args=None) -> None:
    init_node_process(args)
    node = None
    try:
        node = ShelfMonitorNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        shutdown_node_process()


if __name__ == '__main__':
    main()
