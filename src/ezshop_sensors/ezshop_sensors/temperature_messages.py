"""Fridge temperatures and their alerts as ROS messages (message types only, no rclpy)."""

from __future__ import annotations

from sensor_msgs.msg import Temperature

from ezshop_msgs.msg import Alert
from ezshop_ros.stamps import time_from_ns
from ezshop_sensors.temperature_monitor import TemperatureAlert


def temperature_msg(stamp_ns: int, frame_id: str, celsius: float,
                    variance: float = 0.0) -> Temperature:
    """A probe's reading as sensor_msgs/Temperature (degrees C; variance 0 = unknown)."""
    msg = Temperature()
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.temperature = float(celsius)
    msg.variance = float(variance)
    return msg


def temperature_alert_msg(alert: TemperatureAlert, frame_id: str, source: str) -> Alert:
    """A unit's alarm, recovery or dead probe as an Alert; refs = [the fridge id]."""
    msg = Alert()
    msg.header.stamp = time_from_ns(alert.stamp_ns)
    msg.header.frame_id = frame_id
    msg.level = alert.level
    msg.kind = alert.kind
    msg.message = alert.message
    msg.refs = [alert.fridge_id]
    msg.source = source
    return msg
