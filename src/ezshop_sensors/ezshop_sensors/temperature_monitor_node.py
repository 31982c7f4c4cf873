"""temperature_monitor: fridge and freezer temperatures in, Alert / diagnostics out.

All the judging is in ezshop_sensors.temperature_monitor; this node wires one UnitMonitor per
unit of the store file to its fridges/<fridge>/temperature topic and checks the probes for
silence on a timer.
"""

from __future__ import annotations

import sys

from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import load_store
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, fill
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import ALERTS, TEMPERATURE
from ezshop_sensors.temperature_messages import temperature_alert_msg
from ezshop_sensors.temperature_monitor import (
    ERROR,
    TemperatureMonitor,
    TemperatureSettings,
    UnitMonitor,
)


class TemperatureMonitorNode(Node):
    """One UnitMonitor per fridge or freezer of the store file; one alert per change."""

    def __init__(self, **kwargs):
        super().__init__('temperature_monitor', **kwargs)
        store_file = declare_read_only(self, 'store_file', '', "Store description; '' = "
                                       '$EZSHOP_STORE_FILE or ezshop_bringup config/store.yaml')
        # Declared without a default (rclpy cannot declare an empty list): unset = every unit.
        wanted = set(declare_read_only(self, 'fridges', Parameter.Type.STRING_ARRAY,
                                       'Fridge ids to watch; unset or [] = every fridge and '
                                       'freezer of the store file') or [])
        self.settings = declare_settings(self, TemperatureSettings,
                                         on_change=self._on_settings)
        store = load_store(store_file or None)
        unknown = wanted - {fridge.fridge_id for fridge in store.fridges}
        if unknown:
            raise ValueError(f'fridges parameter names unknown fridges: {sorted(unknown)}')
        fridges = [f for f in store.fridges if not wanted or f.fridge_id in wanted]
        self.monitor = TemperatureMonitor(fridges, self.settings,
                                          start_ns=self.get_clock().now().nanoseconds)

        self.alert_pub = ALERTS.publisher(self)
        self.bad_messages = 0
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        for fridge in fridges:
            TEMPERATURE.subscription(
                self, lambda msg, fridge_id=fridge.fridge_id: self._on_reading(fridge_id, msg),
                fridge=fridge.fridge_id)
        self._check_timer = self.create_timer(self.settings.check_period_s, self._tick)
        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('node', self._node_status)
        for unit in self.monitor.units.values():
            self._diagnostics.add(f'{unit.fridge.kind} {unit.fridge.fridge_id}',
                                  lambda stat, u=unit: self._unit_status(stat, u))
        if not fridges:
            self.get_logger().warning(f'no fridges or freezers in {store.source}')
        self.get_logger().info(
            f'watching {len(fridges)} units of {store.source}: ' + ', '.join(
                f'{f.fridge_id} ({f.min_c:g}..{f.max_c:g} C, alarm after '
                f'{self.monitor.units[f.fridge_id].hold_s:g} s)' for f in fridges))

    def _on_settings(self, settings: TemperatureSettings) -> None:
        """`ros2 param set`: every unit judges with the new settings; a new check period
        starts the timer over."""
        if settings.check_period_s != self.settings.check_period_s:
            self.destroy_timer(self._check_timer)
            self._check_timer = self.create_timer(settings.check_period_s, self._tick)
        self.settings = settings
        self.monitor.use(settings)

    def _on_reading(self, fridge_id: str, msg) -> None:
        if not self._stamps.accept(msg.header.stamp, f'fridge {fridge_id}'):
            return
        try:
            reading_ns = stamp_ns(msg.header.stamp)
        except (TypeError, ValueError, OverflowError):
            self.bad_messages += 1
            return
        self._publish(self.monitor.add(fridge_id, reading_ns, msg.temperature))

    def _tick(self) -> None:
        self._publish(self.monitor.check(self.get_clock().now().nanoseconds))

    def _publish(self, alerts) -> None:
        for alert in alerts:
            unit = self.monitor.units[alert.fridge_id]
            self.alert_pub.publish(temperature_alert_msg(alert, unit.fridge.frame_id,
                                                         self.get_name()))
            if alert.level == ERROR:
                self.get_logger().error(alert.message)
            else:
                self.get_logger().info(alert.message)
        if alerts:
            self._diagnostics.force_update()

    def _node_status(self, stat):
        units = self.monitor.units.values()
        stat.hardware_id = self.get_name()
        future = self._stamps.rising()
        alarms = sum(1 for u in units if u.alarm is not None)
        dead = sum(1 for u in units if not u.sensor_ok)
        return fill(stat, WARN if self.bad_messages or future else OK,
                    future or f'{len(units)} units, {alarms} in alarm, {dead} probes silent', {
                        **self._stamps.values(), 'units': len(units), 'alarms_now': alarms,
                        'probes_silent': dead, 'bad_messages': self.bad_messages,
                        'bad_readings': sum(u.bad_readings for u in units)})

    def _unit_status(self, stat, unit: UnitMonitor):
        stat.hardware_id = unit.fridge.frame_id
        level, message = unit.status()
        return fill(stat, bytes([level]), message, unit.values())


def main(args=None) -> int:
    return run_node(TemperatureMonitorNode, args)


if __name__ == '__main__':
    sys.exit(main())
