"""temperature_sensor_node: the DS18B20 fridge probes on a Raspberry Pi's 1-Wire bus to ROS.

Every unit of the store file whose sensor is ds18b20 (or those listed in ``fridges``) is read
through ezshop_sensors.temperature_drivers (the kernel's sysfs files, or w1thermsensor) on a
thread of its own, and published on fridges/<fridge>/temperature stamped at the reading. A
probe that cannot be read publishes nothing (the monitor reports it silent) and is counted.
"""

from __future__ import annotations

import sys

from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_common.store_config import PROBE_DS18B20, load_store
from ezshop_ros.diagnostics import ERROR, OK, diagnostics_updater, fill
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.topics import TEMPERATURE
from ezshop_sensors.temperature_drivers import ProbePoller, ProbeSettings, open_probe
from ezshop_sensors.temperature_messages import temperature_msg

#: A probe with no reading for this many read periods is ERROR on /diagnostics.
STALE_PERIODS = 3
#: New samples of the poller thread are published this often (s).
PUBLISH_PERIOD_S = 0.25


class TemperatureSensorNode(Node):
    """Publishes every DS18B20 probe of this Pi at rate_hz, stamped at the reading."""

    def __init__(self, **kwargs):
        super().__init__('temperature_sensor_node', **kwargs)
        store_file = declare_read_only(self, 'store_file', '', "Store description; '' = "
                                       '$EZSHOP_STORE_FILE or ezshop_bringup config/store.yaml')
        wanted = set(declare_read_only(self, 'fridges', Parameter.Type.STRING_ARRAY,
                                       'Fridge ids whose DS18B20 this Pi reads; unset or [] = '
                                       'every ds18b20 unit of the store file') or [])
        self.settings = declare_settings(self, ProbeSettings)
        store = load_store(store_file or None)
        probes = [f for f in store.fridges if f.sensor == PROBE_DS18B20]
        unknown = wanted - {f.fridge_id for f in probes}
        if unknown:
            raise ValueError(f'fridges parameter names no ds18b20 unit of {store.source}: '
                             f'{sorted(unknown)}')
        self.fridges = {f.fridge_id: f for f in probes if not wanted or f.fridge_id in wanted}
        if not self.fridges:
            self.get_logger().warning(f'no ds18b20 fridges or freezers in {store.source}')
        self.poller = ProbePoller(
            {fridge_id: open_probe(self.settings.driver, f.w1_id, self.settings.w1_dir)
             for fridge_id, f in self.fridges.items()},
            1.0 / self.settings.rate_hz, self._now_ns)
        self._pubs = {fridge_id: TEMPERATURE.publisher(self, fridge=fridge_id)
                      for fridge_id in self.fridges}
        self.published = dict.fromkeys(self.fridges, 0)
        self._last_seq = dict.fromkeys(self.fridges, 0)
        self._last_ns = dict.fromkeys(self.fridges, 0)
        self._start_ns = self._now_ns()
        self.create_timer(PUBLISH_PERIOD_S, self._publish)
        self._diagnostics = diagnostics_updater(self, self.get_name())
        for fridge_id in self.fridges:
            self._diagnostics.add(f'probe {fridge_id}',
                                  lambda stat, fridge_id=fridge_id: self._probe_status(
                                      stat, fridge_id))
        self.poller.start()
        self.get_logger().info(
            ', '.join(f'{f.fridge_id} ({f.w1_id})' for f in self.fridges.values())
            + f' through {self.settings.driver} in {self.settings.w1_dir}')

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _publish(self) -> None:
        for fridge_id, fridge in self.fridges.items():
            sample = self.poller.latest(fridge_id)
            if sample is None or sample.seq == self._last_seq[fridge_id]:
                continue  # no new reading: a silent probe stays silent
            self._last_seq[fridge_id] = sample.seq
            self._last_ns[fridge_id] = sample.stamp_ns
            self._pubs[fridge_id].publish(temperature_msg(sample.stamp_ns, fridge.frame_id,
                                                          sample.value_c))
            self.published[fridge_id] += 1

    def _probe_status(self, stat, fridge_id: str):
        """ERROR when the probe gave no reading for STALE_PERIODS read periods."""
        fridge = self.fridges[fridge_id]
        since = self._last_ns[fridge_id] or self._start_ns
        silent_s = (self._now_ns() - since) / 1e9
        fresh = silent_s <= STALE_PERIODS / self.settings.rate_hz
        sample = self.poller.latest(fridge_id)
        stat.hardware_id = fridge.frame_id
        return fill(stat, OK if fresh else ERROR,
                    f'{sample.value_c:.2f} C' if fresh and sample else
                    (f'no reading for {silent_s:.0f} s: '
                     f'{self.poller.last_error[fridge_id] or "none yet"}'), {
                        'w1_id': fridge.w1_id, 'published': self.published[fridge_id],
                        'failed_reads': self.poller.failed_reads[fridge_id],
                        'last_error': self.poller.last_error[fridge_id] or '-'})

    def destroy_node(self):
        # getattr: a node that refused its configuration may have no poller.
        if getattr(self, 'poller', None) is not None:
            self.poller.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(TemperatureSensorNode, args)


if __name__ == '__main__':
    sys.exit(main())
