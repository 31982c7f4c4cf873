"""lane_sensor_node: the lane sensors of one shelf controller (a Raspberry Pi) to ROS topics.

Each lane is an HC-SR04 (gpiozero DistanceSensor, pings taken in turns) publishing
shelves/<shelf>/<lane>/range, or an LDR (gpiozero LightSensor) publishing
shelves/<shelf>/<lane>/illuminance. The drivers live in ezshop_sensors.lane_drivers and the
message building in ezshop_sensors.messages.
"""

from __future__ import annotations

import dataclasses
import sys

from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_ros.diagnostics import ERROR, OK, diagnostics_updater, fill
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.topics import ILLUMINANCE, RANGE
from ezshop_sensors.lane_drivers import (
    DEFAULT_MOCK_LUX,
    KIND_LIGHT,
    KIND_ULTRASONIC,
    KINDS,
    ControllerSettings,
    LaneSpec,
    PingSequencer,
    lux_from_light_value,
    make_pin_factory,
    open_sensor,
    prepare_mock_pins,
)
from ezshop_sensors.messages import illuminance_msg, range_msg


class LaneSensorNode(Node):
    """Publishes every lane of one shelf controller at its rate, stamped at the reading."""

    def __init__(self, pin_factory=None, **kwargs):
        """``pin_factory``: a gpiozero pin factory object that overrides the parameter
        (tests pass a MockFactory whose pins they wired themselves)."""
        super().__init__('lane_sensor_node', **kwargs)
        shelf_id = declare_read_only(self, 'shelf_id', 'shelf_a', 'Shelf id as in '
                                     'config/store.yaml (part of the topic names)')
        lane_ids = declare_read_only(self, 'lanes', Parameter.Type.STRING_ARRAY, 'Lane ids of '
                                     'this controller; each has <lane>.* parameters') or []
        factory_name = declare_read_only(
            self, 'pin_factory', '', "gpiozero pin factory: '' = gpiozero's default, 'mock' = "
            'MockFactory (no hardware; lanes read <lane>.mock_value), lgpio, rpigpio, pigpio, '
            'native')
        self.settings = declare_settings(self, ControllerSettings, on_change=self._on_settings)
        #: The lanes by id, as their parameters say now.
        self.specs = {lane_id: self._declare_lane(shelf_id, lane_id) for lane_id in lane_ids}
        if not self.specs:
            self.get_logger().warning('no lanes configured (parameter lanes is empty)')

        factory = pin_factory if pin_factory is not None else make_pin_factory(factory_name)
        if pin_factory is None and factory_name == 'mock':
            for spec in self.specs.values():
                prepare_mock_pins(factory, spec)
        self.sequencer = PingSequencer(self.settings.ping_gap_s)
        self.sensors = {}
        self.published = {}
        self._last_seq = {}
        self._reported = {}
        self._lane_pubs = {}
        self._lane_timers = {}
        for lane_id, spec in self.specs.items():
            self.sensors[lane_id] = open_sensor(spec, factory, self.sequencer, self._now_ns)
            self.published[lane_id] = self._last_seq[lane_id] = self._reported[lane_id] = 0
            reading = RANGE if spec.kind == KIND_ULTRASONIC else ILLUMINANCE
            self._lane_pubs[lane_id] = reading.publisher(self, shelf=shelf_id, lane=lane_id)
            self._lane_timers[lane_id] = self._lane_timer(spec)
        self._diagnostics = diagnostics_updater(self, shelf_id)
        for lane_id in self.specs:
            self._diagnostics.add(f'lane {lane_id}',
                                  lambda stat, lane_id=lane_id: self._lane_status(stat, lane_id))
        self.get_logger().info(
            f'shelf {shelf_id}: ' + ', '.join(f'{s.lane_id} ({s.kind})'
                                              for s in self.specs.values())
            + f" on pin factory {factory_name or 'default'}")

    def _declare_lane(self, shelf_id: str, lane_id: str) -> LaneSpec:
        kind = declare_read_only(self, f'{lane_id}.kind', KIND_ULTRASONIC,
                                 f'One of {KINDS}: HC-SR04 or LDR + capacitor')
        if kind not in KINDS:
            raise ValueError(f'{lane_id}.kind must be one of {KINDS} (got {kind!r})')
        defaults = {'frame_id': f'{shelf_id}_{lane_id}'}
        if kind == KIND_LIGHT:
            defaults['mock_value'] = DEFAULT_MOCK_LUX
        spec = dataclasses.replace(
            declare_settings(self, LaneSpec, prefix=f'{lane_id}.', **defaults,
                             on_change=lambda s, lane_id=lane_id: self._on_lane(lane_id, s)),
            lane_id=lane_id, kind=kind)
        pins = (spec.echo_pin, spec.trigger_pin) if kind == KIND_ULTRASONIC else (spec.pin,)
        if not all(pins):
            needed = 'echo_pin and trigger_pin' if kind == KIND_ULTRASONIC else 'pin'
            raise ValueError(f'lane {lane_id} ({kind}) needs {needed}')
        return spec

    def _lane_timer(self, spec: LaneSpec):
        return self.create_timer(1.0 / spec.rate_hz,
                                 lambda lane_id=spec.lane_id: self._publish(lane_id))

    def _on_settings(self, settings: ControllerSettings) -> None:
        self.settings = settings
        self.sequencer.gap_s = settings.ping_gap_s

    def _on_lane(self, lane_id: str, settings: LaneSpec) -> None:
        """`ros2 param set` of a lane's rate or lux scale: the next message uses it."""
        old = self.specs[lane_id]
        spec = self.specs[lane_id] = dataclasses.replace(settings, lane_id=lane_id,
                                                         kind=old.kind)
        if spec.rate_hz != old.rate_hz:
            self.destroy_timer(self._lane_timers[lane_id])
            self._lane_timers[lane_id] = self._lane_timer(spec)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _publish(self, lane_id: str) -> None:
        spec, pub = self.specs[lane_id], self._lane_pubs[lane_id]
        sample = self.sensors[lane_id].latest()
        if sample is None or sample.seq == self._last_seq[lane_id]:
            return  # no new reading since the last message: a silent sensor stays silent
        self._last_seq[lane_id] = sample.seq
        if spec.kind == KIND_LIGHT:
            pub.publish(illuminance_msg(sample.stamp_ns, spec.frame_id,
                                        lux_from_light_value(sample.value,
                                                             spec.full_scale_lux)))
        else:
            pub.publish(range_msg(sample.stamp_ns, spec.frame_id, sample.value,
                                  spec.max_distance_m))
        self.published[lane_id] += 1

    def _lane_status(self, stat, lane_id: str):
        """diagnostic_updater task of one lane: ERROR without a reading since the last one."""
        spec = self.specs[lane_id]
        fresh = self.published[lane_id] - self._reported[lane_id]
        self._reported[lane_id] = self.published[lane_id]
        stat.hardware_id = spec.frame_id
        return fill(stat, OK if fresh else ERROR,
                    f'{fresh} readings since last report' if fresh else 'no readings', {
                        'kind': spec.kind, 'published': self.published[lane_id],
                        'failed_reads': self.sensors[lane_id].failed_reads})

    def destroy_node(self):
        # getattr: a node that refused its configuration may have opened none.
        for sensor in getattr(self, 'sensors', {}).values():
            sensor.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(LaneSensorNode, args)


if __name__ == '__main__':
    sys.exit(main())
