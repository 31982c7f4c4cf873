"""Command line: ezshop_launch [package] file.launch.xml [name:=value ...].

The pip-only stand-in for `ros2 launch` (which needs launch_ros, not on PyPI). It starts the
same launch XML files, refusing anything it does not implement.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ezshop_launch.description import LaunchDescription, _find_package_share
from ezshop_launch.runner import Runner
from ezshop_launch.substitutions import LaunchError


def parse_argv(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='ezshop_launch',
        description='Start a ROS 2 launch XML file (the subset EZShop uses) without launch_ros.')
    parser.add_argument('target', nargs='+', metavar='[package] file | name:=value',
                        help='a launch file path, or a package and a file in its share/launch, '
                             'then launch arguments as name:=value')
    parser.add_argument('-s', '--show-args', action='store_true',
                        help='list the launch arguments and exit')
    parser.add_argument('-p', '--print', dest='print_only', action='store_true',
                        help='print the command line of every process and exit')
    args = parser.parse_intermixed_args(argv)
    positional = [t for t in args.target if ':=' not in t]
    assignments = [t for t in args.target if ':=' in t]
    if len(positional) == 1:
        args.file = positional[0]
    elif len(positional) == 2:
        args.file = os.path.join(_find_package_share(positional[0]), 'launch', positional[1])
    else:
        parser.error('give a launch file, or a package and a launch file name')
    args.arguments = dict(a.split(':=', 1) for a in assignments)
    return args


def print_processes(description: LaunchDescription) -> None:
    """Every command line, with the generated parameter files shown inline."""
    for spec in description.processes:
        env = ' '.join(f'{k}={v}' for k, v in spec.env.items())
        print(f'{spec.label}: {env + " " if env else ""}{" ".join(spec.cmd)}')
        for word in spec.cmd:
            if description.params_dir and word.startswith(description.params_dir):
                with open(word) as stream:
                    print(f'  {word}:\n    ' + stream.read().rstrip().replace('\n', '\n    '))


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_argv(sys.argv[1:] if argv is None else argv)
        description = LaunchDescription(args.file, args.arguments)
    except LaunchError as exc:
        print(f'ezshop_launch: error: {exc}', file=sys.stderr)
        return 2
    if args.show_args:
        description.cleanup()
        for arg in description.declared:
            default = '(required)' if arg.default is None else f"(default: '{arg.default}')"
            print(f"    '{arg.name}':\n        {arg.description or 'no description'}\n"
                  f'        {default}')
        return 0
    if args.print_only:
        print_processes(description)
        description.cleanup()
        return 0
    log_root = os.environ.get('ROS_LOG_DIR') or os.path.join(
        os.environ.get('ROS_HOME') or os.path.expanduser('~/.ros'), 'log')
    log_dir = os.path.join(log_root, time.strftime('%Y-%m-%d-%H-%M-%S') + f'-{os.getpid()}')
    try:
        return Runner(description.processes, log_dir).run()
    finally:
        description.cleanup()


if __name__ == '__main__':
    sys.exit(main())
