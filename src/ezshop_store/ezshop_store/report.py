"""The store's daily report from its database: entries per hour, visit durations, revenue, items
picked and put back, picks per shelf. Read-only queries (SQLAlchemy, any database the store
runs on); markdown with PNG plots (matplotlib, Agg). No rclpy. `ezshop report` runs it
(report_cli).

    report = build_report(engine, date(2026, 12, 1), date(2026, 12, 1))
    write_report(report, Path('report'))   # report/report.md + report/*.png
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ezshop_store.analytics import percentile
from ezshop_store.cart_rules import OPENED_LATE
from ezshop_store.db import models as m
from ezshop_store.store_service import HELD
from ezshop_store.store_types import UNKNOWN_PERSON

S = 1_000_000_000
#: Items shown in the "top items" plot and table.
TOP_ITEMS = 10
#: Visit duration histogram bin widths to choose from (s): the narrowest giving at most
#: DURATION_BINS bins.
DURATION_BIN_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
DURATION_BINS = 30


@dataclass
class ItemLine:
    item_id: str
    name: str
    units_picked: int = 0
    units_put_back: int = 0
    units_sold: int = 0


@dataclass
class ShelfLine:
    shelf_id: str
    units_picked: int = 0
    units_put_back: int = 0
    shoppers_picked: int = 0


@dataclass
class Report:
    """Every number of the report (the plots are drawn from these)."""

    store_id: str
    first_day: date
    last_day: date
    timezone: str
    currency: str = 'EUR'
    visits: int = 0
    late_entries: int = 0
    unknown_passes: int = 0
    #: Visits opened per hour of the day (0..23, local time), summed over the days.
    entries_per_hour: list[int] = field(default_factory=lambda: [0] * 24)
    #: Durations of the visits that were entered in the range and have ended (s).
    durations_s: list[float] = field(default_factory=list)
    ended_by: dict[str, int] = field(default_factory=dict)
    receipts: int = 0
    revenue_cents: int = 0
    #: Revenue per day (a range) or per hour (one day): (label, cents).
    revenue_bins: list[tuple[str, int]] = field(default_factory=list)
    items: list[ItemLine] = field(default_factory=list)
    shelves: list[ShelfLine] = field(default_factory=list)
    held_actions: int = 0

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def duration_p50_s(self) -> float:
        return percentile(self.durations_s, 0.5)

    @property
    def duration_p90_s(self) -> float:
        return percentile(self.durations_s, 0.9)

    @property
    def units_picked(self) -> int:
        return sum(i.units_picked for i in self.items)

    @property
    def units_put_back(self) -> int:
        return sum(i.units_put_back for i in self.items)


def day_bounds_ns(first: date, last: date, zone: ZoneInfo) -> tuple[int, int]:
    """[first 00:00, last + 1 day 00:00) in the zone, as ns since the epoch."""
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    return int(start.timestamp()) * S, int(end.timestamp()) * S


def local(stamp_ns: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(stamp_ns / S, zone)


def build_report(engine: Engine, first: date, last: date, store_id: str = m.DEFAULT_STORE_ID,
                 timezone: str = 'UTC') -> Report:
    """The report of the days first..last (inclusive, in the time zone) for one store."""
    if last < first:
        raise ValueError(f'--to {last} is before --date {first}')
    zone = ZoneInfo(timezone)
    start_ns, end_ns = day_bounds_ns(first, last, zone)
    report = Report(store_id, first, last, timezone)
    with Session(engine) as s:
        _visits(s, report, store_id, start_ns, end_ns, zone)
        report.unknown_passes = s.scalar(
            select(func.count()).select_from(m.CustomerEventRecord).where(
                m.CustomerEventRecord.store_id == store_id,
                m.CustomerEventRecord.kind == UNKNOWN_PERSON,
                m.CustomerEventRecord.stamp_ns >= start_ns,
                m.CustomerEventRecord.stamp_ns < end_ns)) or 0
        sold = _receipts(s, report, store_id, start_ns, end_ns, zone)
        _shelf_events(s, report, store_id, start_ns, end_ns, sold)
        report.held_actions = s.scalar(
            select(func.count()).select_from(m.CartEvent).where(
                m.CartEvent.store_id == store_id, m.CartEvent.status == HELD,
                m.CartEvent.stamp_ns >= start_ns, m.CartEvent.stamp_ns < end_ns)) or 0
    return report


def _visits(s: Session, report: Report, store_id: str, start_ns: int, end_ns: int,
            zone: ZoneInfo) -> None:
    rows = s.execute(select(m.Visit.entered_at_ns, m.Visit.exited_at_ns, m.Visit.opened_by,
                            m.Visit.ended_by).where(
        m.Visit.store_id == store_id, m.Visit.entered_at_ns >= start_ns,
        m.Visit.entered_at_ns < end_ns)).all()
    ended: Counter = Counter()
    for entered, exited, opened_by, ended_by in rows:
        report.visits += 1
        report.late_entries += opened_by == OPENED_LATE
        report.entries_per_hour[local(entered, zone).hour] += 1
        if exited is not None and exited >= entered:
            report.durations_s.append((exited - entered) / S)
            ended[ended_by or 'exit'] += 1
    report.ended_by = dict(sorted(ended.items()))


def _receipts(s: Session, report: Report, store_id: str, start_ns: int, end_ns: int,
              zone: ZoneInfo) -> Counter:
    """Receipts first issued in the range, each at its newest revision; units sold per item."""
    first = (select(m.Receipt.visit_id, func.min(m.Receipt.stamp_ns).label('issued'),
                    func.max(m.Receipt.revision).label('revision'))
             .join(m.Visit, m.Visit.id == m.Receipt.visit_id)
             .where(m.Visit.store_id == store_id)
             .group_by(m.Receipt.visit_id).subquery())
    newest = s.scalars(select(m.Receipt).join(
        first, (first.c.visit_id == m.Receipt.visit_id) & (first.c.revision == m.Receipt.revision))
        .where(first.c.issued >= start_ns, first.c.issued < end_ns)
        .order_by(m.Receipt.stamp_ns)).all()
    issued = dict(s.execute(select(first.c.visit_id, first.c.issued)).all())
    bins: dict[str, int] = defaultdict(int)
    if report.days == 1:
        for hour in range(24):
            bins[f'{hour:02d}'] = 0
    else:
        for n in range(report.days):
            bins[(report.first_day + timedelta(days=n)).isoformat()] = 0
    currencies: Counter = Counter()
    sold: Counter = Counter()
    for receipt in newest:
        report.receipts += 1
        report.revenue_cents += receipt.total_cents
        currencies[receipt.currency] += 1
        when = local(issued[receipt.visit_id], zone)
        bins[f'{when.hour:02d}' if report.days == 1 else when.date().isoformat()] += \
            receipt.total_cents
        for line in receipt.lines:
            sold[line.item_id] += line.quantity
    report.revenue_bins = list(bins.items())
    if currencies:
        report.currency = currencies.most_common(1)[0][0]
    return sold


def _shelf_events(s: Session, report: Report, store_id: str, start_ns: int, end_ns: int,
                  sold: Counter) -> None:
    names = dict(s.execute(select(m.Item.id, m.Item.name).where(
        m.Item.store_id == store_id)).all())
    items = {item_id: ItemLine(item_id, name) for item_id, name in sorted(names.items())}
    shelves: dict[str, ShelfLine] = {}
    rows = s.execute(select(m.ShelfEventRecord.shelf_id, m.ShelfEventRecord.item_id,
                            m.ShelfEventRecord.quantity_delta).where(
        m.ShelfEventRecord.store_id == store_id, m.ShelfEventRecord.stamp_ns >= start_ns,
        m.ShelfEventRecord.stamp_ns < end_ns)).all()
    for shelf_id, item_id, delta in rows:
        item = items.setdefault(item_id, ItemLine(item_id, item_id))
        shelf = shelves.setdefault(shelf_id, ShelfLine(shelf_id))
        if delta < 0:
            item.units_picked -= delta
            shelf.units_picked -= delta
        else:
            item.units_put_back += delta
            shelf.units_put_back += delta
    pickers = s.execute(select(m.CartEvent.shelf_id,
                               func.count(func.distinct(m.CartEvent.customer_id))).where(
        m.CartEvent.store_id == store_id, m.CartEvent.stamp_ns >= start_ns,
        m.CartEvent.stamp_ns < end_ns, m.CartEvent.applied_quantity > 0,
        m.CartEvent.customer_id != '', m.CartEvent.shelf_id != '')
        .group_by(m.CartEvent.shelf_id)).all()
    for shelf_id, count in pickers:
        shelves.setdefault(shelf_id, ShelfLine(shelf_id)).shoppers_picked = count
    for item_id, units in sold.items():
        items.setdefault(item_id, ItemLine(item_id, item_id)).units_sold = units
    report.items = list(items.values())
    report.shelves = [shelves[k] for k in sorted(shelves)]


# -- output -----------------------------------------------------------------------------------

def money(cents: int, currency: str) -> str:
    return f'{cents / 100:.2f} {currency}'


def seconds(value: float) -> str:
    return '-' if math.isnan(value) else f'{value:.0f} s'


def period(report: Report) -> str:
    if report.days == 1:
        return report.first_day.isoformat()
    return f'{report.first_day.isoformat()} to {report.last_day.isoformat()}'


def markdown(report: Report, plots: dict[str, str]) -> str:
    """The report as markdown; plots: name -> PNG file name beside it."""
    r = report
    lines = [f'# EZShop report: {period(r)}', '',
             f'Store `{r.store_id}`, {r.days} day(s), times in {r.timezone}. Made by '
             '`ezshop report` from the store database (visits, door and shelf events, cart '
             'actions, receipts).', '',
             '## Summary', '', '| | |', '|---|---|',
             f'| visits (entries) | {r.visits} |',
             f'| of them late entries (first seen inside, door pass missed) | {r.late_entries} |',
             f'| unidentified door passes | {r.unknown_passes} |',
             f'| visits ended | {len(r.durations_s)} ('
             + (', '.join(f'{n} {how}' for how, n in r.ended_by.items()) or 'none') + ') |',
             f'| visit duration median / 90th percentile | {seconds(r.duration_p50_s)} / '
             f'{seconds(r.duration_p90_s)} |',
             f'| receipts | {r.receipts} |',
             f'| revenue | {money(r.revenue_cents, r.currency)} |',
             f'| units picked / put back (shelf sensors) | {r.units_picked} / '
             f'{r.units_put_back} |',
             f'| picks held for staff | {r.held_actions} |', '']
    lines += ['## Entries per hour', '', f'![entries per hour]({plots["entries"]})', '',
              '| hour | entries |', '|---|---|']
    lines += [f'| {h:02d}:00 | {n} |' for h, n in enumerate(r.entries_per_hour) if n]
    lines += ['', '## Visit duration', '', f'![visit durations]({plots["durations"]})', '']
    lines += ['## Revenue', '', f'![revenue]({plots["revenue"]})', '',
              f'| {"hour" if r.days == 1 else "day"} | revenue |', '|---|---|']
    lines += [f'| {label} | {money(cents, r.currency)} |' for label, cents in r.revenue_bins
              if cents]
    lines += ['', '## Items', '', f'![items picked and put back]({plots["items"]})', '',
              '| item | picked | put back | sold (receipts) |', '|---|---|---|---|']
    lines += [f'| {i.name} (`{i.item_id}`) | {i.units_picked} | {i.units_put_back} | '
              f'{i.units_sold} |' for i in sorted(r.items, key=lambda i: (-i.units_picked,
                                                                          i.item_id))]
    lines += ['', '## Shelves', '', f'![picks per shelf]({plots["shelves"]})', '',
              '| shelf | units picked | put back | shoppers who picked |', '|---|---|---|---|']
    lines += [f'| {s.shelf_id} | {s.units_picked} | {s.units_put_back} | {s.shoppers_picked} |'
              for s in r.shelves]
    return '\n'.join(lines) + '\n'


def plot(report: Report, folder: Path) -> dict[str, str]:
    """Draw the PNG plots into folder; name -> file name."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FixedLocator, MaxNLocator

    r = report
    files = {'entries': 'entries_per_hour.png', 'durations': 'visit_durations.png',
             'revenue': 'revenue.png', 'items': 'items.png', 'shelves': 'shelves.png'}

    def save(figure, name: str) -> None:
        for axes in figure.axes:  # counts of visits and units are whole numbers
            for axis in (axes.xaxis, axes.yaxis):
                fixed = isinstance(axis.get_major_locator(), FixedLocator)  # labelled ticks
                if not fixed and name != 'revenue' \
                        and not (name == 'durations' and axis is axes.xaxis):
                    axis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        figure.savefig(folder / files[name], dpi=100, metadata={'Software': None})
        plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.bar(range(24), r.entries_per_hour, color='tab:blue')
    axes.set(xlabel=f'hour of the day ({r.timezone})', ylabel='visits opened',
             title=f'Entries per hour, {period(r)}', xticks=range(0, 24, 2))
    save(figure, 'entries')

    figure, axes = plt.subplots(figsize=(8, 3.5))
    if r.durations_s:
        top = max(r.durations_s)
        width = next((w for w in DURATION_BIN_WIDTHS_S if top / w <= DURATION_BINS),
                     DURATION_BIN_WIDTHS_S[-1])
        bins = [width * n for n in range(int(top // width) + 2)]
        axes.hist(r.durations_s, bins=bins, color='tab:green', edgecolor='white')
        for value, label, style, height in ((r.duration_p50_s, 'median', '-', 0.95),
                                            (r.duration_p90_s, 'p90', '--', 0.85)):
            axes.axvline(value, color='black', linestyle=style)
            axes.annotate(f'{label} {value:.0f} s', (value, height),
                          xycoords=('data', 'axes fraction'), xytext=(3, 0),
                          textcoords='offset points', va='top')
    axes.set(xlabel='visit duration (s)', ylabel='visits', title='Visit duration')
    save(figure, 'durations')

    figure, axes = plt.subplots(figsize=(8, 3.5))
    labels = [label for label, _ in r.revenue_bins]
    axes.bar(range(len(labels)), [cents / 100 for _, cents in r.revenue_bins],
             color='tab:orange')
    axes.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 12 else 0)
    axes.set(xlabel='hour' if r.days == 1 else 'day', ylabel=r.currency,
             title=f'Revenue: {money(r.revenue_cents, r.currency)} from {r.receipts} receipts')
    save(figure, 'revenue')

    top = sorted(r.items, key=lambda i: (-(i.units_picked + i.units_put_back), i.item_id))
    top = top[:TOP_ITEMS][::-1]
    figure, axes = plt.subplots(figsize=(8, 0.5 * len(top) + 1.5))
    ys = range(len(top))
    axes.barh([y + 0.2 for y in ys], [i.units_picked for i in top], height=0.4,
              label='picked', color='tab:blue')
    axes.barh([y - 0.2 for y in ys], [i.units_put_back for i in top], height=0.4,
              label='put back', color='tab:red')
    axes.set_yticks(list(ys), [i.name for i in top])
    axes.set(xlabel='units', title='Items picked and put back (shelf sensors)')
    axes.legend(loc='lower right')
    save(figure, 'items')

    figure, axes = plt.subplots(figsize=(6, 3.5))
    xs = range(len(r.shelves))
    axes.bar([x - 0.2 for x in xs], [s.units_picked for s in r.shelves], width=0.4,
             label='units picked', color='tab:blue')
    axes.bar([x + 0.2 for x in xs], [s.units_put_back for s in r.shelves], width=0.4,
             label='units put back', color='tab:red')
    axes.set_xticks(list(xs), [s.shelf_id for s in r.shelves])
    axes.set(ylabel='units', title='Picks per shelf')
    axes.legend()
    save(figure, 'shelves')
    return files


def write_report(report: Report, folder: Path) -> Path:
    """report.md and its PNG plots in folder (created); the markdown file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'report.md'
    path.write_text(markdown(report, plot(report, folder)))
    return path
