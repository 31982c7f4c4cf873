"""How late readings come through: a fixed-bucket histogram of (published - stamped), so a
percentile over millions of readings costs constant memory. Plain Python."""

from __future__ import annotations

#: Bucket width (ms) and the last bucket's lower edge (ms): later ones count there.
BUCKET_MS = 0.1
MAX_MS = 2000.0
#: Readings of the last diagnostics period this late (p99, ms): the bridge is falling behind
#: (more readings than it can take, or a starved CPU); what waits on the broker may be dropped
#: by a broker that limits its queue (Debian's default: 1,000 messages per client).
FALLING_BEHIND_MS = 1000.0


def lag_warning(recent_p99_ms: float | None) -> str:
    """What /diagnostics says about the last period's latency: '' when it keeps up."""
    if recent_p99_ms is None or recent_p99_ms < FALLING_BEHIND_MS:
        return ''
    return (f'falling behind: readings reach DDS {recent_p99_ms / 1000:.1f} s after they '
            'were taken (p99)')


class LatencyHistogram:
    def __init__(self):
        self._counts = [0] * (int(MAX_MS / BUCKET_MS) + 1)
        self.count = 0
        self.max_ms = 0.0

    def add(self, latency_ns: int) -> None:
        """One reading's latency; negative (a device clock ahead of ours) counts as 0."""
        ms = max(0.0, latency_ns / 1e6)
        self._counts[min(len(self._counts) - 1, int(ms / BUCKET_MS))] += 1
        self.count += 1
        self.max_ms = max(self.max_ms, ms)

    def percentile_ms(self, q: float) -> float | None:
        """The upper edge of the bucket holding the q-quantile (ms); None before any."""
        if not self.count:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen > rank:
                return round((index + 1) * BUCKET_MS, 1)
        return MAX_MS
