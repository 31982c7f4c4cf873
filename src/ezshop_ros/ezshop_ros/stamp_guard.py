"""A node's check of its inputs' stamps against its own clock (ezshop_common.clock_skew): a
message stamped too far ahead is refused with a (throttled) log line naming its source,
counted, and reported on /diagnostics (WARN while such messages keep coming)."""

from __future__ import annotations

from collections import Counter

from builtin_interfaces.msg import Time
from rclpy.node import Node

from ezshop_common.clock_skew import ClockSkewSettings, ahead_by_ns
from ezshop_ros.diagnostics import GrowingCounts
from ezshop_ros.stamps import stamp_ns


class StampGuard:
    """Declared by each node as
    ``StampGuard(self, declare_settings(self, ClockSkewSettings, on_change=...use))``."""

    def __init__(self, node: Node, settings: ClockSkewSettings):
        self.node = node
        self.settings = settings
        self.refused: Counter = Counter()  # source -> messages refused
        self._grown = GrowingCounts()

    def use(self, settings: ClockSkewSettings) -> None:
        """`ros2 param set max_clock_skew_s`: from the next message on."""
        self.settings = settings

    def accept(self, stamp: Time, source: str) -> bool:
        """True when the stamp is not too far ahead of this node's clock."""
        ahead = ahead_by_ns(stamp_ns(stamp), self.node.get_clock().now().nanoseconds,
                            self.settings)
        if not ahead:
            return True
        self.refused[source] += 1
        self.node.get_logger().warning(
            f'{source}: message stamped {ahead / 1e9 + self.settings.max_clock_skew_s:.1f} s '
            f'ahead of this node\'s clock refused (max_clock_skew_s '
            f'{self.settings.max_clock_skew_s:g}; is that clock wrong?)',
            throttle_duration_sec=5.0)
        return False

    def values(self) -> dict[str, object]:
        """For /diagnostics: the count, and the sources."""
        return {'future_stamps_refused': sum(self.refused.values()),
                'future_stamp_sources': ', '.join(sorted(self.refused)) or '-'}

    def rising(self) -> str:
        """'' unless messages were refused since the last call: then what to say (WARN)."""
        sources = self._grown(self.refused)
        return (f'messages stamped in the future refused (from {", ".join(sources)})'
                if sources else '')
