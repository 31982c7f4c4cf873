"""ezshop: the store's command line: record, replay, info, customer.

  ezshop record -o /tmp/visit [--image-rate 10] [--topics /diagnostics] [--use-sim-time]
  ezshop replay /tmp/visit [--rate 1] [--results replay.json] [--fail-on-difference]
  ezshop info /tmp/visit
  ezshop customer export <customer_id>      everything the store holds about them (JSON)
  ezshop customer forget <customer_id>      delete their name and face data
  ezshop report --date 2026-12-01 [--to 2026-12-07] [-o folder]   daily report (markdown + PNG)

Anything after `--ros-args` goes to ROS (remappings, namespace, parameters). record and
replay are the ezshop_bag nodes (`ros2 run ezshop_bag record|replay`); options here become
their parameters.
"""

from __future__ import annotations

import argparse
import sys

from ezshop_bag.rosbag2 import BagError, BagReader
from ezshop_ros import security_cli
from ezshop_store import customer_cli, report_cli

RATE_HELP = 'bag seconds per wall-clock second (default: %(default)s)'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='ezshop', description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)

    record = commands.add_parser('record', help="record the store's topics into an MCAP bag")
    record.add_argument('-o', '--output', default='',
                        help='bag folder to create (default: ezshop_<date>)')
    record.add_argument('--image-rate', type=float, default=10.0,
                        help='camera images per second per camera; 0 = none '
                             '(default: %(default)s)')
    record.add_argument('--topics', nargs='+', default=[],
                        help='more topics or patterns to record (e.g. /diagnostics)')
    record.add_argument('--exclude', nargs='+', default=[], help='topics never recorded')
    record.add_argument('--compression', choices=('zstd', 'lz4', 'none'), default='zstd',
                        help='MCAP chunk compression (default: %(default)s)')
    record.add_argument('--use-sim-time', action='store_true',
                        help='stamp the bag with /clock (when recording a replayed graph)')

    replay = commands.add_parser('replay', help="play a bag's inputs into a store graph")
    replay.add_argument('bag', help='bag folder or .mcap file')
    replay.add_argument('--rate', type=float, default=1.0, help=RATE_HELP)
    replay.add_argument('--topics', nargs='+', default=['inputs'],
                        help="'inputs' (cameras, lane sensors, fridge probes), 'all', or "
                             "topics / patterns "
                             '(default: inputs)')
    replay.add_argument('--clock-hz', type=float, default=100.0,
                        help='/clock messages per second (default: %(default)s)')
    replay.add_argument('--no-enrol', action='store_true',
                        help="do not register the bag's customers in the store")
    replay.add_argument('--no-wait', action='store_true',
                        help='start without waiting for the store graph to subscribe')
    replay.add_argument('--wait-timeout', type=float, default=120.0,
                        help='start anyway after this long (s, default: %(default)s)')
    replay.add_argument('--no-compare', action='store_true',
                        help='do not compare receipts with the recorded ones')
    replay.add_argument('--tail', type=float, default=15.0,
                        help='after the last message, run the clock up to this long for the '
                             'receipts (bag s, default: %(default)s)')
    replay.add_argument('--results', default='', help='write the results as JSON here')
    replay.add_argument('--fail-on-difference', action='store_true',
                        help='exit 3 when the receipts differ from the recorded ones')

    info = commands.add_parser('info', help='what a bag holds')
    info.add_argument('bag', help='bag folder or .mcap file')
    customer_cli.add_commands(commands)
    report_cli.add_commands(commands)
    security_cli.add_commands(commands)
    return parser


def _overrides(values: dict):
    from rclpy.parameter import Parameter

    return [Parameter(name, value=value) for name, value in values.items()]


def info_lines(reader: BagReader) -> list[str]:
    """`ros2 bag info`-like summary of a bag."""
    start, end = reader.start_ns or 0, reader.end_ns
    meta = reader.metadata
    lines = [f'files:     {", ".join(str(f) for f in reader.files)}',
             f'size:      {sum(f.stat().st_size for f in reader.files) / 1e6:.1f} MB',
             f'storage:   {meta.get("storage_identifier", "?")} (metadata version '
             f'{meta.get("version", "?")}, ROS distro {meta.get("ros_distro") or "?"})',
             f'duration:  {(end - start) / 1e9:.1f} s',
             f'messages:  {reader.message_count}',
             f'custom:    {reader.custom_data}',
             'topics:']
    width = max((len(t) for t in reader.topics), default=0)
    for name, topic in sorted(reader.topics.items()):
        lines.append(f'  {name:<{width}}  {topic.message_count:>7}  {topic.type}')
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = []
    if '--ros-args' in argv:
        at = argv.index('--ros-args')
        argv, ros_args = argv[:at], argv[at:]
    args = build_parser().parse_args(argv)
    if args.command == 'info':
        try:
            reader = BagReader(args.bag)
        except (BagError, OSError) as exc:
            print(f'ezshop info: {exc}', file=sys.stderr)
            return 2
        print('\n'.join(info_lines(reader)))
        return 0
    if args.command == 'customer':
        return customer_cli.run(args, ros_args)
    if args.command == 'report':
        return report_cli.run(args, ros_args)
    if args.command == 'security':
        return security_cli.run(args, ros_args)
    rclpy_args = ['ezshop'] + ros_args
    if args.command == 'record':
        from ezshop_bag.record_node import main as record_main

        values = {'output': args.output, 'image_rate_hz': float(args.image_rate),
                  'topics': args.topics or [''], 'exclude': args.exclude or [''],
                  'compression': args.compression}
        if args.use_sim_time:
            values['use_sim_time'] = True
        return record_main(rclpy_args, _overrides(values))
    from ezshop_bag.replay_node import main as replay_main

    values = {'bag': args.bag, 'rate': float(args.rate), 'topics': args.topics,
              'clock_hz': float(args.clock_hz), 'enrol': not args.no_enrol,
              'wait_for_subscribers': not args.no_wait,
              'wait_timeout_s': float(args.wait_timeout),
              'compare_receipts': not args.no_compare, 'tail_s': float(args.tail),
              'results_file': args.results, 'fail_on_difference': args.fail_on_difference}
    return replay_main(rclpy_args, _overrides(values))


def console_main() -> None:
    sys.exit(main())
