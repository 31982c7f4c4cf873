"""`ezshop report` on a real database (SQLite, and PostgreSQL when one answers) filled through
the store's own bookkeeping (StoreService): the report's numbers, its markdown and plots."""

import argparse
from datetime import date, datetime, timezone

import numpy as np
import pytest

from ezshop_store import report_cli, store_admin
from ezshop_store.report import build_report, write_report
from ezshop_store.store_service import StoreService
from ezshop_store.store_types import (
    ENTERED,
    EXITED,
    UNKNOWN_PERSON,
    CartActionIn,
    CustomerEventIn,
    ShelfEventIn,
)

S = 1_000_000_000
DAY = date(2026, 12, 1)


def at(day, hour, minute, second=0):
    return int(datetime(2026, 12, day, hour, minute, second, tzinfo=timezone.utc)
               .timestamp()) * S


class Shop:
    """Shoppers walking through the store's real bookkeeping."""

    def __init__(self, service):
        self.service = service
        self.n = 0

    def enrol(self, name):
        return store_admin.register_customer(self.service, name, np.ones(128, np.float32), 128,
                                             'test_model', consent_ns=1)

    def _id(self):
        self.n += 1
        return f'ev{self.n}'

    def enter(self, cid, t):
        self.service.apply_batch([CustomerEventIn(self._id(), ENTERED, cid, 'entrance', t)])

    def move(self, cid, shelf, lane, item, units, t):
        """units > 0 taken (shelf -units, cart +units), < 0 put back; cid '' = held."""
        event_id = self._id()
        self.service.apply_batch([
            ShelfEventIn(event_id, shelf, lane, item, -units, t),
            CartActionIn(event_id, cid, item, units, t + S // 2, shelf_id=shelf, lane_id=lane)])

    def leave(self, cid, t):
        self.service.apply_batch([CustomerEventIn(self._id(), EXITED, cid, 'exit', t)])
        receipt, _ = self.service.checkout(cid, t)
        return receipt


@pytest.fixture
def filled(engine, store):
    shop = Shop(StoreService(engine, store))
    alice, bob, carol, dave = (shop.enrol(n) for n in ('Alice', 'Bob', 'Carol', 'Dave'))
    shop.enter(alice, at(1, 9, 0))
    shop.move(alice, 'shelf_a', 'lane_1', 'cola', 2, at(1, 9, 0, 20))
    shop.move(alice, 'shelf_a', 'lane_1', 'cola', -1, at(1, 9, 0, 40))
    assert shop.leave(alice, at(1, 9, 1)).total_cents == 150
    shop.enter(bob, at(1, 9, 30))
    shop.move(bob, 'shelf_b', 'lane_1', 'chips', 1, at(1, 9, 31))
    shop.move('', 'shelf_b', 'lane_2', 'chocolate', 1, at(1, 9, 31, 30))  # held for staff
    assert shop.leave(bob, at(1, 9, 32)).total_cents == 229
    shop.enter(carol, at(1, 10, 15))
    shop.move(carol, 'shelf_a', 'lane_3', 'sandwich', 1, at(1, 10, 16))
    shop.service.apply_batch([CustomerEventIn('unknown1', UNKNOWN_PERSON, '', 'entrance',
                                              at(1, 10, 17))])
    assert shop.leave(carol, at(1, 10, 18)).total_cents == 349
    shop.enter(dave, at(2, 11, 0))  # the next day
    shop.move(dave, 'shelf_a', 'lane_2', 'water', 1, at(2, 11, 0, 30))
    assert shop.leave(dave, at(2, 11, 1)).total_cents == 99
    return engine


def test_one_day(filled):
    report = build_report(filled, DAY, DAY)
    assert (report.visits, report.late_entries, report.unknown_passes) == (3, 0, 1)
    assert report.entries_per_hour[9] == 2 and report.entries_per_hour[10] == 1
    assert sum(report.entries_per_hour) == 3
    assert sorted(report.durations_s) == [60.0, 120.0, 180.0]
    assert report.duration_p50_s == pytest.approx(120.0)
    assert report.duration_p90_s == pytest.approx(168.0)
    assert report.ended_by == {'exit': 3}
    assert (report.receipts, report.revenue_cents, report.currency) == (3, 728, 'EUR')
    assert dict(report.revenue_bins)['09'] == 379 and dict(report.revenue_bins)['10'] == 349
    items = {i.item_id: i for i in report.items}
    assert (items['cola'].units_picked, items['cola'].units_put_back,
            items['cola'].units_sold) == (2, 1, 1)
    assert items['chocolate'].units_picked == 1 and items['chocolate'].units_sold == 0
    assert items['water'].units_picked == 0
    shelves = {s.shelf_id: s for s in report.shelves}
    assert (shelves['shelf_a'].units_picked, shelves['shelf_a'].units_put_back,
            shelves['shelf_a'].shoppers_picked) == (3, 1, 2)
    assert (shelves['shelf_b'].units_picked, shelves['shelf_b'].shoppers_picked) == (2, 1)
    assert report.held_actions == 1


def test_a_range_and_a_time_zone(filled):
    week = build_report(filled, DAY, date(2026, 12, 7))
    assert (week.visits, week.receipts, week.revenue_cents) == (4, 4, 827)
    assert dict(week.revenue_bins) == {'2026-12-01': 728, '2026-12-02': 99, '2026-12-03': 0,
                                       '2026-12-04': 0, '2026-12-05': 0, '2026-12-06': 0,
                                       '2026-12-07': 0}
    # In Tokyo (UTC+9) 09:00 UTC is 18:00 the same day.
    tokyo = build_report(filled, DAY, DAY, timezone='Asia/Tokyo')
    assert tokyo.entries_per_hour[18] == 2 and tokyo.entries_per_hour[19] == 1
    assert build_report(filled, date(2026, 11, 30), date(2026, 11, 30)).visits == 0
    assert build_report(filled, DAY, DAY, store_id='north').visits == 0


def test_the_command_writes_markdown_and_plots(filled, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cli.add_commands(parser.add_subparsers(dest='command'))
    out = tmp_path / 'report'
    args = parser.parse_args(['report', '--date', '2026-12-01', '--database-url',
                              filled.url.render_as_string(hide_password=False), '-o', str(out)])
    assert report_cli.run(args, []) == report_cli.EXIT_OK
    assert '3 visits, 3 receipts, 7.28 EUR' in capsys.readouterr().out
    text = (out / 'report.md').read_text()
    assert '| revenue | 7.28 EUR |' in text
    assert '| visit duration median / 90th percentile | 120 s / 168 s |' in text
    assert '| Cola 0.33 l (`cola`) | 2 | 1 | 1 |' in text
    assert '| shelf_a | 3 | 1 | 2 |' in text
    for png in ('entries_per_hour', 'visit_durations', 'revenue', 'items', 'shelves'):
        data = (out / f'{png}.png').read_bytes()
        assert data.startswith(b'\x89PNG') and len(data) > 5000
        assert f'({png}.png)' in text


def test_bad_arguments_are_one_line(filled, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cli.add_commands(parser.add_subparsers(dest='command'))
    url = filled.url.render_as_string(hide_password=False)
    args = parser.parse_args(['report', '--date', '2026-12-02', '--to', '2026-12-01',
                              '--database-url', url, '-o', str(tmp_path / 'x')])
    assert report_cli.run(args, []) == report_cli.EXIT_BAD_ARGUMENTS
    assert 'before' in capsys.readouterr().err


def test_a_missing_database_file_is_not_created(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cli.add_commands(parser.add_subparsers(dest='command'))
    missing = tmp_path / 'typo.db'
    args = parser.parse_args(['report', '--date', '2026-12-01', '--database-url',
                              f'sqlite:///{missing}', '-o', str(tmp_path / 'x')])
    assert report_cli.run(args, []) == report_cli.EXIT_NO_DATABASE
    assert 'no database file' in capsys.readouterr().err and not missing.exists()


def test_an_empty_day_still_makes_a_report(engine, tmp_path):
    report = build_report(engine, DAY, DAY)
    assert report.visits == 0 and report.receipts == 0
    path = write_report(report, tmp_path)
    assert '| visit duration median / 90th percentile | - / - |' in path.read_text()
