"""Core objects to ROS messages and back (message types only, no rclpy)."""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import Illuminance, Range

from ezshop_common.store_config import SENSOR_ULTRASONIC
from ezshop_msgs.msg import Alert, LaneState, ShelfEvent
from ezshop_ros.stamps import time_from_ns
from ezshop_sensors.lane_drivers import (
    HCSR04_FIELD_OF_VIEW_RAD,
    HCSR04_MIN_RANGE_M,
    range_value,
)
from ezshop_sensors.lane_filter import LaneEvent, LaneFilter


def range_msg(stamp_ns: int, frame_id: str, distance_m: float, max_range_m: float,
              min_range_m: float = HCSR04_MIN_RANGE_M) -> Range:
    """An HC-SR04 reading as sensor_msgs/Range (REP-117 +/-inf outside the range; NaN, a
    failed reading, passes through)."""
    msg = Range()
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.radiation_type = Range.ULTRASOUND
    msg.field_of_view = HCSR04_FIELD_OF_VIEW_RAD
    msg.min_range = float(min_range_m)
    msg.max_range = float(max_range_m)
    msg.range = range_value(distance_m, min_range_m, max_range_m)
    return msg


def illuminance_msg(stamp_ns: int, frame_id: str, lux: float) -> Illuminance:
    """An LDR reading as sensor_msgs/Illuminance (variance 0 = unknown)."""
    msg = Illuminance()
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.illuminance = float(lux)
    msg.variance = 0.0
    return msg


def range_reading(msg: Range) -> float:
    """The value the lane filter gets from a Range (+inf/-inf/NaN pass through as garbage)."""
    return float(msg.range)


def shelf_event_msg(event: LaneEvent, frame_id: str) -> ShelfEvent:
    msg = ShelfEvent()
    msg.header.stamp = time_from_ns(event.stamp_ns)
    msg.header.frame_id = frame_id
    msg.event_id = event.event_id
    msg.shelf_id = event.shelf_id
    msg.lane_id = event.lane_id
    msg.item_id = event.item_id
    msg.quantity_delta = event.delta
    msg.count_before = event.count_before
    msg.count_after = event.count_after
    msg.confidence = float(event.confidence)
    msg.unobserved = event.unobserved
    return msg


def lane_state_msg(lane_filter: LaneFilter) -> LaneState:
    lane = lane_filter.lane
    msg = LaneState()
    msg.shelf_id = lane.shelf_id
    msg.lane_id = lane.lane_id
    msg.kind = LaneState.KIND_ULTRASONIC if lane.sensor == SENSOR_ULTRASONIC \
        else LaneState.KIND_LIGHT
    msg.item_id = lane.item_id
    msg.count = lane_filter.reported_count
    msg.capacity = lane.capacity
    raw = lane_filter.last_raw if lane_filter.last_raw_ns else math.nan
    msg.raw_reading = float(raw)
    msg.last_reading_stamp = time_from_ns(lane_filter.last_raw_ns)
    msg.sensor_ok = lane_filter.sensor_ok
    return msg


def sensor_alert_msg(lane_filter: LaneFilter, ok: bool, stamp_ns: int, reason: str,
                     source: str) -> Alert:
    lane = lane_filter.lane
    msg = Alert()
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = lane.frame_id
    msg.level = Alert.INFO if ok else Alert.ERROR
    msg.kind = 'sensor_recovered' if ok else 'sensor_dead'
    state = 'monitored again' if ok else 'UNMONITORED, count frozen'
    msg.message = f'lane {lane.shelf_id}/{lane.lane_id} ({lane.item_id}): {state}: {reason}'
    msg.refs = [f'{lane.shelf_id}/{lane.lane_id}', lane.item_id]
    msg.source = source
    return msg


def unobserved_alert_msg(event: LaneEvent, source: str) -> Alert:
    """A lane found at another count than kept when the monitor last watched it."""
    msg = Alert()
    msg.header.stamp = time_from_ns(event.stamp_ns)
    msg.level = Alert.WARN
    msg.kind = 'count_changed_unobserved'
    taken = 'taken' if event.delta < 0 else 'put back'
    msg.message = (f'lane {event.shelf_id}/{event.lane_id} ({event.item_id}): count '
                   f'{event.count_before} when the shelf monitor last watched, '
                   f'{event.count_after} now: {abs(event.delta)} {taken} unobserved (the '
                   'monitor was down); nobody can be named, held for staff')
    msg.refs = [event.event_id, f'{event.shelf_id}/{event.lane_id}', event.item_id]
    msg.source = source
    return msg


def lane_status(lane_filter: LaneFilter) -> tuple[bytes, str, dict[str, object]]:
    """A lane's diagnostic (level, message, values): ERROR while unmonitored, WARN before the
    first count."""
    lane = lane_filter.lane
    if not lane_filter.sensor_ok:
        level, message = DiagnosticStatus.ERROR, 'unmonitored: sensor silent or garbage'
    elif lane_filter.count is None:
        level, message = DiagnosticStatus.WARN, 'waiting for a steady first reading'
    else:
        level, message = DiagnosticStatus.OK, f'count {lane_filter.count}/{lane.capacity}'
    return level, message, {'count': lane_filter.reported_count, 'capacity': lane.capacity,
                            'item_id': lane.item_id, 'sensor': lane.sensor,
                            'sensor_ok': lane_filter.sensor_ok, 'last_raw': lane_filter.last_raw,
                            **lane_filter.counters}
