"""analytics_node's settings, in the units an operator sets (seconds), each described once.

Dynamic: the thresholds the analytics read on every frame (track gap, dwell, confidence). The
store file, the period, the metrics server and the sizes of what is kept are read at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting
from ezshop_store.analytics import AnalyticsParams, S

#: metrics_port: no /metrics server.
METRICS_OFF = -1
#: metrics_port: any free port (the one chosen is logged and on /diagnostics).
METRICS_ANY_PORT = 0


@dataclass(frozen=True)
class AnalyticsSettings:
    store_file: str = setting(
        '', "Store description (shelves, cameras and their reach zones, catalogue); '' = "
        "ezshop_bringup's config/store.yaml")
    period_s: float = setting(
        1.0, 'The analytics topic is republished at most this often, when something changed '
        '(s)', 0.05, 3600.0)
    metrics_port: int = setting(
        0, 'TCP port of the Prometheus /metrics endpoint (0 = any free port, logged; -1 = no '
        'endpoint)', -1, 65535)
    metrics_address: str = setting(
        '127.0.0.1', "Address the /metrics endpoint listens on ('0.0.0.0' = every interface, "
        'for a Prometheus server on another machine)')
    track_gap_s: float = setting(
        1.0, 'A face track not seen for this long has left the place its camera watches (s)',
        0.05, 60.0, dynamic=True)
    camera_silent_s: float = setting(
        5.0, 'A camera whose newest frame is this far behind the newest input sees nobody '
        '(it stopped publishing) (s)', 0.1, 3600.0, dynamic=True)
    min_dwell_s: float = setting(
        2.0, 'A shopper who stays this long in front of a shelf looked at it (conversion) (s)',
        0.0, 600.0, dynamic=True)
    min_confidence: float = setting(
        0.3, 'A face identified with at least this confidence is the customer it names',
        0.0, 1.0, dynamic=True)
    visits_kept: int = setting(
        10000, 'The visit duration percentiles are computed over this many newest visits',
        1, 1000000)
    hours_kept: int = setting(
        24, 'Hours of entries per hour published (hours)', 1, 8760)

    def params(self) -> AnalyticsParams:
        return AnalyticsParams(
            track_gap_ns=int(round(self.track_gap_s * S)),
            camera_silent_ns=int(round(self.camera_silent_s * S)),
            min_dwell_ns=int(round(self.min_dwell_s * S)), min_confidence=self.min_confidence,
            visits_kept=self.visits_kept, hours_kept=self.hours_kept)
