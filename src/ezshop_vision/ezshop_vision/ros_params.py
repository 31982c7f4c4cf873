"""Small rclpy helpers shared by the vision nodes: QoS, stamps, settings checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


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
    """A /diagnostics subscription (tests, benches): reliable, volatile."""
    return QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def refuse_inconsistent(node: Node, *current: Callable[[], object]) -> None:
    """Refuse a `ros2 param set` that a settings dataclass itself rejects.

    ``current`` give the node's settings objects now (declared without prefix). A dataclass'
    __post_init__ checks rules across fields (votes_needed <= vote_window) that no parameter
    range expresses; declare_settings would only meet them after the value was set.
    """
    def check(parameters) -> SetParametersResult:
        for settings in (get() for get in current):
            names = {f.name for f in dataclasses.fields(settings)}
            changes = {p.name: p.value for p in parameters if p.name in names}
            if not changes:
                continue
            try:
                dataclasses.replace(settings, **changes)
            except (TypeError, ValueError) as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(check)


def stamp_to_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9
