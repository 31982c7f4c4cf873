"""lane_sensor_node: the lane sensors of one shelf controller (a Raspberry Pi) to ROS topics.

Each lane is an HC-SR04 (gpiozero DistanceSensor, pings taken in turns) publishing
shelves/<shelf>/<lane>/range, or an LDR (gpiozero LightSensor) publishing
shelves/<shelf>/<lane>/illuminance. The drivers live in ezshop_sensors.lane_drivers and the
message building in ezshop_sensors.messages.
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

from ezshop_ros.process import init_node_process, shutdown_node_process
from ezshop_sensors.lane_drivers import (
    KIND_LIGHT,
    KIND_ULTRASONIC,
    KINDS,
    LaneSpec,
    PingSequencer,
    lux_from_light_value,
    make_pin_factory,
    open_sensor,
    prepare_mock_pins,
)
from ezshop_sensors.messages import illuminance_msg, range_msg


def _float(description: str, low: float, high: float) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, floating_point_range=[
        FloatingPointRange(from_value=low, to_value=high)])


def _sensor_data() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


class LaneSensorNode(Node):
    """Publishes every lane of one shelf controller at its rate, stamped at the reading."""

    def __init__(self, pin_factory=None, **kwargs):
        """``pin_factory``: a gpiozero pin factory object that overrides the parameter
        (tests pass a MockFactory whose pins they wired themselves)."""
        super().__init__('lane_sensor_node', **kwargs)
        self.declare_parameter('shelf_id', 'shelf_a', ParameterDescriptor(
            description='shelf id as in config/store.yaml (part of the topic names)'))
        self.declare_parameter('lanes', Parameter.Type.STRING_ARRAY, ParameterDescriptor(
            description='lane ids of this controller; each has <lane>.* parameters'))
        self.declare_parameter('pin_factory', '', ParameterDescriptor(
            description="gpiozero pin factory: '' = gpiozero's default, 'mock' = MockFactory "
                        '(no hardware; lanes read <lane>.mock_value), lgpio, rpigpio, pigpio, '
                        'native'))
        self.declare_parameter('ping_gap_s', 0.025, _float(
            'quiet time (s) after one HC-SR04 ping before the next sensor may ping', 0.0, 1.0))
        self.declare_parameter('diagnostics_period_s', 1.0, _float(
            '/diagnostics period (s)', 0.05, 60.0))
        shelf_id = self.get_parameter('shelf_id').value
        self.specs = [self._declare_lane(shelf_id, lane_id)
                      for lane_id in self.get_parameter('lanes').value or []]
        if not self.specs:
            self.get_logger().warning('no lanes configured (parameter lanes is empty)')

        factory_name = self.get_parameter('pin_factory').value
        factory = pin_factory if pin_factory is not None else make_pin_factory(factory_name)
        if pin_factory is None and factory_name == 'mock':
            for spec in self.specs:
                prepare_mock_pins(factory, spec)
        self.sequencer = PingSequencer(self.get_parameter('ping_gap_s').value)
        self.sensors = {}
        self.published = {}
        self._last_seq = {}
        for spec in self.specs:
            self.sensors[spec.lane_id] = open_sensor(spec, factory, self.sequencer, self._now_ns)
            self.published[spec.lane_id] = 0
            self._last_seq[spec.lane_id] = 0
            if spec.kind == KIND_ULTRASONIC:
                pub = self.create_publisher(
                    Range, f'shelves/{shelf_id}/{spec.lane_id}/range', _sensor_data())
            else:
                pub = self.create_publisher(
                    Illuminance, f'shelves/{shelf_id}/{spec.lane_id}/illuminance',
                    _sensor_data())
            self.create_timer(1.0 / spec.rate_hz,
                              lambda spec=spec, pub=pub: self._publish(spec, pub))
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.create_timer(self.get_parameter('diagnostics_period_s').value,
                          self._publish_diagnostics)
        self._published_at_last_diag = dict(self.published)
        self.get_logger().info(
            f'shelf {shelf_id}: ' + ', '.join(f'{s.lane_id} ({s.kind})' for s in self.specs)
            + f" on pin factory {factory_name or 'default'}")

    def _declare_lane(self, shelf_id: str, lane_id: str) -> LaneSpec:
        def declare(name, default, descriptor):
            return self.declare_parameter(f'{lane_id}.{name}', default, descriptor).value

        text = ParameterDescriptor
        kind = declare('kind', KIND_ULTRASONIC, text(description=f'one of {KINDS}'))
        if kind not in KINDS:
            raise ValueError(f'{lane_id}.kind must be one of {KINDS} (got {kind!r})')
        spec = LaneSpec(
            lane_id=lane_id, kind=kind,
            frame_id=declare('frame_id', f'{shelf_id}_{lane_id}',
                             text(description='frame_id of the readings')),
            rate_hz=declare('rate_hz', 10.0, _float('publish rate (Hz)', 0.1, 50.0)),
            echo_pin=declare('echo_pin', '', text(
                description="HC-SR04 ECHO GPIO (gpiozero pin name, e.g. 'GPIO24')")),
            trigger_pin=declare('trigger_pin', '', text(
                description="HC-SR04 TRIG GPIO (e.g. 'GPIO23')")),
            pin=declare('pin', '', text(description="LDR + capacitor GPIO (e.g. 'GPIO18')")),
            max_distance_m=declare('max_distance_m', 1.0, _float(
                'HC-SR04: readings at or beyond this (m) are published as +inf', 0.05, 4.0)),
            queue_len=declare('queue_len', 1, ParameterDescriptor(
                description='gpiozero median queue length (1 = raw; the shelf monitor filters)',
                integer_range=[IntegerRange(from_value=1, to_value=50, step=1)])),
            charge_time_limit_s=declare('charge_time_limit_s', 0.01, _float(
                'LDR: capacitor charge time (s) that reads as dark (gpiozero)', 0.001, 1.0)),
            full_scale_lux=declare('full_scale_lux', 1000.0, _float(
                'LDR: lux published for a gpiozero value of 1.0 (linear map)', 1.0, 1e6)),
            mock_value=declare('mock_value', 0.3 if kind == KIND_ULTRASONIC else 400.0,
                               _float("with pin_factory 'mock': the constant reading "
                                      '(m or lux)', 0.0, 1e6)),
        )
        pins = (spec.echo_pin, spec.trigger_pin) if kind == KIND_ULTRASONIC else (spec.pin,)
        if not all(pins):
            needed = 'echo_pin and trigger_pin' if kind == KIND_ULTRASONIC else 'pin'
            raise ValueError(f'lane {lane_id} ({kind}) needs {needed}')
        return spec

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _publish(self, spec: LaneSpec, pub) -> None:
        sample = self.sensors[spec.lane_id].latest()
        if sample is None or sample.seq == self._last_seq[spec.lane_id]:
            return  # no new reading since the last message: a silent sensor stays silent
        self._last_seq[spec.lane_id] = sample.seq
        if spec.kind == KIND_LIGHT:
            pub.publish(illuminance_msg(sample.stamp_ns, spec.frame_id,
                                        lux_from_light_value(sample.value,
                                                             spec.full_scale_lux)))
        else:
            pub.publish(range_msg(sample.stamp_ns, spec.frame_id, sample.value,
                                  spec.max_distance_m))
        self.published[spec.lane_id] += 1

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for spec in self.specs:
            sensor = self.sensors[spec.lane_id]
            fresh = self.published[spec.lane_id] - self._published_at_last_diag[spec.lane_id]
            array.status.append(DiagnosticStatus(
                level=DiagnosticStatus.OK if fresh else DiagnosticStatus.ERROR,
                name=f'{self.get_name()}: lane {spec.lane_id}', hardware_id=spec.frame_id,
                message=f'{fresh} readings since last report' if fresh else 'no readings',
                values=[KeyValue(key=k, value=str(v)) for k, v in (
                    ('kind', spec.kind), ('published', self.published[spec.lane_id]),
                    ('failed_reads', sensor.failed_reads))]))
        self._published_at_last_diag = dict(self.published)
        self.diag_pub.publish(array)

    def destroy_node(self):
        for sensor in self.sensors.values():
            sensor.close()
        return super().destroy_node()


def main(args=None) -> None:
    init_node_process(args)
    node = None
    try:
        node = LaneSensorNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        shutdown_node_process()


if __name__ == '__main__':
    main()
