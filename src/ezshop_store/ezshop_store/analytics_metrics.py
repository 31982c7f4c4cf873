"""The analytics as Prometheus metrics (prometheus-client), on a registry of their own.

A collector reads the newest :class:`~ezshop_store.analytics.Snapshot` on every scrape: the
node swaps in a new snapshot (an immutable object) each period, the HTTP server's thread only
reads the reference, so a scrape never sees half an update. No rclpy here.

    exporter = MetricsExporter()
    port = exporter.serve(0, '127.0.0.1')   # any free port
    exporter.update(analytics.snapshot())
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ezshop_store.analytics import Snapshot

PREFIX = 'ezshop_'


class SnapshotCollector(Collector):
    """Every number of the newest snapshot as a metric family (nothing before the first)."""

    def __init__(self):
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        yield _gauge('people_in_store', 'Identified customers with an open visit (persons)',
                     snap.people_in_store)
        yield _counter('entries', 'Visits opened: entries at the door and late entries '
                       '(visits)', snap.entries_total)
        yield _counter('exits', 'Visits closed: exits and absent checkouts (visits)',
                       snap.exits_total)
        yield _gauge('entries_last_hour', 'Visits opened in the hour before the newest input '
                     'stamp (visits)', snap.entries_last_hour)
        yield _counter('unknown_door_passes', 'Unidentified people passing a door (passes)',
                       snap.unknown_passes)
        duration = Metric(PREFIX + 'visit_duration_seconds',
                          'Visit duration, entry to exit, of the newest completed visits (s)',
                          'summary')
        for quantile, value in (('0.5', snap.visit_duration_p50_s),
                                ('0.9', snap.visit_duration_p90_s)):
            duration.add_sample(PREFIX + 'visit_duration_seconds', {'quantile': quantile},
                                value)
        duration.add_sample(PREFIX + 'visit_duration_seconds_count', {},
                            snap.visits_completed)
        duration.add_sample(PREFIX + 'visit_duration_seconds_sum', {},
                            snap.visit_duration_sum_s)
        yield duration
        queue = GaugeMetricFamily(PREFIX + 'door_queue', 'People seen by a door camera who '
                                  'have not passed its door yet (persons)', labels=['door'])
        queue.add_metric(['entrance'], snap.queue_entrance)
        queue.add_metric(['exit'], snap.queue_exit)
        yield queue
        yield from self._shelves(snap)
        yield from self._items(snap)
        yield _counter('receipts', 'Receipts issued (receipts)', snap.receipts_total)
        revenue = CounterMetricFamily(PREFIX + 'revenue_cents', 'Sum of the receipts\' totals '
                                      '(cents)', labels=['currency'])
        revenue.add_metric([snap.currency], snap.revenue_cents)
        yield revenue
        refused = CounterMetricFamily(PREFIX + 'analytics_refused_inputs', 'Inputs the '
                                      'analytics refused, by reason (messages)',
                                      labels=['reason'])
        for reason, count in sorted(snap.refused.items()):
            refused.add_metric([reason], count)
        yield refused

    @staticmethod
    def _shelves(snap: Snapshot) -> Iterator[Metric]:
        families = {
            'people': GaugeMetricFamily(PREFIX + 'shelf_people', 'Faces in front of the shelf '
                                        'now (persons)', labels=['shelf']),
            'dwell': CounterMetricFamily(PREFIX + 'shelf_dwell_seconds', 'Time shoppers '
                                         'spent in front of the shelf, summed over them (s)',
                                         labels=['shelf']),
            'looked': CounterMetricFamily(PREFIX + 'shelf_shoppers_looked', 'Shoppers who '
                                          'looked at the shelf (persons)', labels=['shelf']),
            'picked': CounterMetricFamily(PREFIX + 'shelf_shoppers_picked', 'Identified '
                                          'shoppers charged for an item of the shelf (persons)',
                                          labels=['shelf']),
            'conversion': GaugeMetricFamily(PREFIX + 'shelf_conversion_ratio', 'Shoppers who '
                                            'picked / shoppers who looked (NaN: nobody looked)',
                                            labels=['shelf']),
            'taken': CounterMetricFamily(PREFIX + 'shelf_units_taken', 'Units taken from the '
                                         "shelf's lanes (items)", labels=['shelf']),
            'back': CounterMetricFamily(PREFIX + 'shelf_units_put_back', 'Units put back on '
                                        "the shelf's lanes (items)", labels=['shelf']),
        }
        for shelf in snap.shelves:
            labels = [shelf.shelf_id]
            families['people'].add_metric(labels, shelf.people_now)
            families['dwell'].add_metric(labels, shelf.dwell_s)
            families['looked'].add_metric(labels, shelf.shoppers_looked)
            families['picked'].add_metric(labels, shelf.shoppers_picked)
            families['conversion'].add_metric(labels, shelf.conversion)
            families['taken'].add_metric(labels, shelf.units_taken)
            families['back'].add_metric(labels, shelf.units_put_back)
        yield from families.values()

    @staticmethod
    def _items(snap: Snapshot) -> Iterator[Metric]:
        taken = CounterMetricFamily(PREFIX + 'item_units_taken', 'Units of the item taken '
                                    'from the shelves (items)', labels=['item'])
        back = CounterMetricFamily(PREFIX + 'item_units_put_back', 'Units of the item put '
                                   'back (items)', labels=['item'])
        for item in snap.items:
            taken.add_metric([item.item_id], item.units_taken)
            back.add_metric([item.item_id], item.units_put_back)
        yield taken
        yield back


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, value=value)


class MetricsExporter:
    """The collector on its own CollectorRegistry (never the process-global one), and the
    HTTP server that serves it on /metrics (any path, as prometheus-client does)."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = SnapshotCollector()
        self.registry.register(self.collector)
        self._server = None
        self._thread = None

    def update(self, snapshot: Snapshot) -> None:
        self.collector.snapshot = snapshot

    def text(self) -> str:
        """The exposition text a scrape gets."""
        return generate_latest(self.registry).decode()

    def serve(self, port: int, address: str) -> int:
        """Start serving on address:port (0 = any free port); the port it listens on. OSError
        when it cannot (port taken, address not here)."""
        self._server, self._thread = start_http_server(port, address, registry=self.registry)
        return int(self._server.server_port)

    @property
    def port(self) -> int | None:
        return None if self._server is None else int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5.0)
            self._server = None

