"""`ezshop report`: the store's daily report (markdown + PNG plots) from its database, for one
day or a range of days. Read-only: it never writes to the database (nor migrates it).

  ezshop report --date 2026-12-01                          one day, the default database
  ezshop report --date 2026-12-01 --to 2026-12-07 -o week  a week, into ./week
  ezshop report --date 2026-12-01 --database-url postgresql+psycopg://shop@db/ezshop
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

#: Exit codes: done, bad arguments, the database cannot be read.
EXIT_OK, EXIT_BAD_ARGUMENTS, EXIT_NO_DATABASE = 0, 2, 3


def add_commands(commands) -> None:
    """The `report` command of the ezshop CLI."""
    report = commands.add_parser(
        'report', help='daily report from the store database: entries per hour, visit '
        'durations, revenue, items picked and put back, picks per shelf (markdown + PNG)')
    report.add_argument('--date', required=True, type=date.fromisoformat,
                        help='first day (YYYY-MM-DD)')
    report.add_argument('--to', type=date.fromisoformat, default=None,
                        help='last day, inclusive (default: --date)')
    report.add_argument('--database-url', default='',
                        help="SQLAlchemy URL of the store database (default: store_node's: "
                             'SQLite $ROS_HOME/ezshop/store.db)')
    report.add_argument('--store-id', default='default',
                        help='store of a shared database (default: %(default)s)')
    report.add_argument('--timezone', default='UTC',
                        help='time zone of the days and hours (IANA name, default: '
                             '%(default)s)')
    report.add_argument('-o', '--output', default='',
                        help='folder for report.md and the plots (default: '
                             'ezshop_report_<date>[_<to>])')


def run(args, ros_args: list[str]) -> int:
    """Build the report and write it; print where."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ezshop_store.db.engine import default_database_url, make_engine
    from ezshop_store.report import build_report, write_report

    del ros_args  # no ROS here
    last = args.to or args.date
    folder = Path(args.output or f'ezshop_report_{args.date.isoformat()}'
                  + ('' if last == args.date else f'_{last.isoformat()}'))
    url = make_url(args.database_url or default_database_url())
    if url.get_backend_name() == 'sqlite' and not Path(url.database or '').is_file():
        # SQLite would create an empty file: a typo must not leave one behind.
        print(f'ezshop report: no database file {url.database!r}', file=sys.stderr)
        return EXIT_NO_DATABASE
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        report = build_report(engine, args.date, last, args.store_id, args.timezone)
    except (ValueError, KeyError) as exc:  # --to before --date, an unknown time zone
        print(f'ezshop report: {exc}', file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except SQLAlchemyError as exc:
        print(f'ezshop report: cannot read {engine.url.render_as_string()}: {exc}',
              file=sys.stderr)
        return EXIT_NO_DATABASE
    finally:
        engine.dispose()
    path = write_report(report, folder)
    print(f'{path}: {report.visits} visits, {report.receipts} receipts, '
          f'{report.revenue_cents / 100:.2f} {report.currency}')
    return EXIT_OK
