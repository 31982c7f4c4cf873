"""shelf_monitor: lane readings in, ShelfEvent / ShelfState / Alert / diagnostics out.

All the logic is in ezshop_sensors.lane_filter; this node wires one LaneFilter per lane of
the store file to its range or illuminance topic.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import load_store
from ezshop_msgs.msg import ShelfState
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, fill
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import ALERTS, RANGE, SHELF_EVENTS, SHELF_STATE, lane_fields, lane_reading
from ezshop_sensors.lane_counts import KEEP_PERIOD_S, KeptLane, load_counts, save_counts
from ezshop_sensors.lane_filter import FilterParams, LaneFilter, MonitorSettings
from ezshop_sensors.messages import (
    lane_state_msg,
    lane_status,
    sensor_alert_msg,
    shelf_event_msg,
    unobserved_alert_msg,
)


class ShelfMonitorNode(Node):
    """One LaneFilter per lane of the store file; events out exactly once per change."""

    def __init__(self, **kwargs):
        super().__init__('shelf_monitor', **kwargs)
        store_file = declare_read_only(self, 'store_file', '', "Store description; '' = "
                                       '$EZSHOP_STORE_FILE or ezshop_bringup config/store.yaml')
        # Declared without a default (rclpy cannot declare an empty list): unset = every shelf.
        wanted = set(declare_read_only(self, 'shelves', Parameter.Type.STRING_ARRAY,
                                       'Shelf ids to watch; unset or [] = every shelf of the '
                                       'store file') or [])
        self.settings = declare_settings(self, MonitorSettings, on_change=self._on_settings)
        self.params = declare_settings(self, FilterParams, on_change=self._on_params)

        self.counts_file = declare_read_only(
            self, 'counts_file', '', "Lane counts are kept in this JSON file across restarts "
            "('' = not kept: a restart starts from the store file's initial counts)")
        store = load_store(store_file or None)
        unknown = wanted - {shelf.shelf_id for shelf in store.shelves}
        if unknown:
            raise ValueError(f'shelves parameter names unknown shelves: {sorted(unknown)}')
        lanes = [lane for lane in store.lanes if not wanted or lane.shelf_id in wanted]
        start_ns = self.get_clock().now().nanoseconds
        kept, problem = load_counts(self.counts_file) if self.counts_file else ({}, '')
        if problem:
            self.get_logger().warning(problem)
        # A count kept without stamps (an older file) holds every reading before this start.
        kept = {key: lane if lane.counted_ns else replace(lane, counted_ns=start_ns)
                for key, lane in kept.items()}
        self.filters = {lane.key: LaneFilter(lane, self.params, start_ns=start_ns,
                                             kept=kept.get(lane.key))
                        for lane in lanes}
        self._kept_read_ns: dict = {}
        if kept:
            self.get_logger().info(f'lane counts kept in {self.counts_file}: '
                                   + ', '.join(f'{s}/{ln} {kept[(s, ln)].count}' for s, ln in
                                               self.filters if (s, ln) in kept))

        self.event_pub = SHELF_EVENTS.publisher(self)
        self.state_pub = SHELF_STATE.publisher(self)
        self.alert_pub = ALERTS.publisher(self)
        self.bad_messages = 0
        self._newest_stamp_ns = 0
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        for lane in lanes:
            reading = lane_reading(lane)
            reading.subscription(
                self, lambda msg, key=lane.key, is_range=reading is RANGE: self._on_reading(
                    key, msg, msg.range if is_range else msg.illuminance),
                **lane_fields(lane))
        self._state_timer = self.create_timer(self.settings.state_period_s,
                                              self._publish_state)
        self._check_timer = self.create_timer(self.settings.timeout_check_period_s, self._tick)
        if self.counts_file:
            self.create_timer(KEEP_PERIOD_S, self._keep_read_stamps)
        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('node', self._node_status)
        for lane_filter in self.filters.values():
            self._diagnostics.add(
                f'lane {lane_filter.lane.shelf_id}/{lane_filter.lane.lane_id}',
                lambda stat, f=lane_filter: self._lane_status(stat, f))
        self._publish_state()
        self.get_logger().info(
            f'watching {len(lanes)} lanes of {store.source}: '
            + ', '.join(f'{shelf}/{lane}' for shelf, lane in self.filters))

    def _on_settings(self, settings: MonitorSettings) -> None:
        """`ros2 param set` of a period: the timer starts over with it."""
        if settings.state_period_s != self.settings.state_period_s:
            self.destroy_timer(self._state_timer)
            self._state_timer = self.create_timer(settings.state_period_s,
                                                  self._publish_state)
        if settings.timeout_check_period_s != self.settings.timeout_check_period_s:
            self.destroy_timer(self._check_timer)
            self._check_timer = self.create_timer(settings.timeout_check_period_s, self._tick)
        self.settings = settings

    def _on_params(self, params: FilterParams) -> None:
        """`ros2 param set` of a filter threshold: every lane uses it from its next reading."""
        self.params = params
        for lane_filter in self.filters.values():
            lane_filter.params = params

    def _on_reading(self, key, msg, value) -> None:
        lane_filter = self.filters[key]
        if not self._stamps.accept(msg.header.stamp, f'lane {key[0]}/{key[1]}'):
            return
        try:
            reading_ns = stamp_ns(msg.header.stamp)
            value = float(value)
        except (TypeError, ValueError, OverflowError):
            self.bad_messages += 1
            return
        count_before = lane_filter.reported_count
        known_before = lane_filter.count
        ok_before = lane_filter.sensor_ok
        events, health = lane_filter.add(reading_ns, value)
        self._newest_stamp_ns = max(self._newest_stamp_ns, reading_ns)
        for event in events:
            if event.unobserved:
                self.alert_pub.publish(unobserved_alert_msg(event, self.get_name()))
                self.get_logger().warning(
                    f'{event.shelf_id}/{event.lane_id} {event.item_id}: count '
                    f'{event.count_before} when last watched, {event.count_after} now: '
                    f'{event.delta:+d} unobserved, held for staff')
            self.event_pub.publish(shelf_event_msg(event, lane_filter.lane.frame_id))
            self.get_logger().info(
                f'{event.shelf_id}/{event.lane_id} {event.item_id}: {event.delta:+d} '
                f'({event.count_before} -> {event.count_after}, confidence '
                f'{event.confidence:.2f}) event {event.event_id}')
        if self.counts_file and lane_filter.count != known_before:
            # Every change, the first settled count included; after its event went out: a
            # crash between the two replays the change, with the same event id.
            self._keep_counts()
        self._report_health(lane_filter, health)
        if lane_filter.reported_count != count_before or lane_filter.sensor_ok != ok_before:
            self._publish_state()

    def _keep_read_stamps(self) -> None:
        """Timer: keep how far each lane was read, when that moved."""
        read = {key: f.last_raw_ns for key, f in self.filters.items()}
        if read != self._kept_read_ns:
            self._keep_counts()

    def _keep_counts(self) -> None:
        kept = {key: KeptLane(f.count, f.counted_ns, f.last_raw_ns)
                for key, f in self.filters.items() if f.count is not None}
        self._kept_read_ns = {key: f.last_raw_ns for key, f in self.filters.items()}
        try:
            save_counts(self.counts_file, kept)
        except OSError as exc:
            self.get_logger().error(f'lane counts not kept in {self.counts_file}: {exc}',
                                    throttle_duration_sec=10.0)

    def destroy_node(self):
        """Stopping (SIGINT, SIGTERM): keep how far every lane was read."""
        if getattr(self, 'counts_file', '') and hasattr(self, '_kept_read_ns'):
            self._keep_read_stamps()
        return super().destroy_node()

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
            self._diagnostics.force_update()

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

    def _publish_state(self) -> None:
        msg = ShelfState()
        msg.header.stamp = time_from_ns(self._newest_stamp_ns) if self._newest_stamp_ns \
            else self.get_clock().now().to_msg()
        msg.lanes = [lane_state_msg(f) for f in self.filters.values()]
        self.state_pub.publish(msg)

    def _node_status(self, stat):
        unmonitored = sum(1 for f in self.filters.values() if not f.sensor_ok)
        stat.hardware_id = self.get_name()
        future = self._stamps.rising()
        return fill(stat, WARN if self.bad_messages or future else OK,
                    future or f'{len(self.filters)} lanes, {unmonitored} unmonitored', {
                        **self._stamps.values(),
                        'lanes': len(self.filters), 'unmonitored_lanes': unmonitored,
                        'bad_messages': self.bad_messages,
                        'events': sum(f.counters['events'] for f in self.filters.values())})

    def _lane_status(self, stat, lane_filter: LaneFilter):
        stat.hardware_id = lane_filter.lane.frame_id
        return fill(stat, *lane_status(lane_filter))


def main(args=None) -> int:
    return run_node(ShelfMonitorNode, args)


if __name__ == '__main__':
    sys.exit(main())
