"""QoS profiles shared by store_node and fusion_node.

Each call returns a new object, so no endpoint ever shares (or mutates) another's profile.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def reliable(depth: int, latched: bool = False) -> QoSProfile:
    """Reliable keep-last; latched = transient local (late joiners get the newest)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched
                                  else DurabilityPolicy.VOLATILE))


def keep_all() -> QoSProfile:
    """Reliable, every sample kept: a slow reader blocks the writer instead of losing."""
    return QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1000,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
