"""Small rclpy helpers shared by the vision nodes: parameters, QoS, diagnostics, stamps."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def declare(node: Node, name: str, default, description: str,
            low: float | int | None = None, high: float | int | None = None,
            read_only: bool = False):
    """Declare a parameter with a description (and a range for numbers); return its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if low is not None and high is not None:
        if isinstance(default, bool):
            pass
        elif isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                     step=1)]
        elif isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high), step=0.0)]
    return node.declare_parameter(name, default, descriptor).value


def image_qos() -> QoSProfile:
    """Camera images: newest frame only, best effort (DESIGN.md)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def reliable_qos(depth: int = 10) -> QoSProfile:
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched_qos(depth: int = 1) -> QoSProfile:
    """Reliable + transient local: late joiners get the last message (gallery)."""
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def diagnostics_qos() -> QoSProfile:
    return QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def status(name: str, level: bytes, message: str, values: dict,
           hardware_id: str = '') -> DiagnosticStatus:
    """A DiagnosticStatus (level: DiagnosticStatus.OK/WARN/ERROR) with string values."""
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()])


def diagnostic_array(node: Node, statuses: list[DiagnosticStatus]) -> DiagnosticArray:
    array = DiagnosticArray(status=statuses)
    array.header.stamp = node.get_clock().now().to_msg()
    return array


def stamp_to_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9
