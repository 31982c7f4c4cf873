"""Run one command on a ROS domain claimed for it (see env.claimed_domain_id):

    with_domain scripts/launch launch/sim.launch.xml scenario:=demo

ROS_DOMAIN_ID set in the environment is claimed as it is (to watch with rqt or rviz); else a
free one is picked. The claim lasts until the command exits; its exit code is returned.
Ctrl-C reaches the command through the terminal, as if it ran alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ezshop_testing.env import claimed_domain_id, requested_domain_id


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if args else 2
    try:
        with claimed_domain_id(requested_domain_id()) as domain_id:
            print(f'ROS_DOMAIN_ID={domain_id} (claimed for this run)', flush=True)
            env = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id)}
            child = subprocess.Popen(args, env=env)
            # The terminal's Ctrl-C goes to the whole process group, the command included.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
            return child.wait()
    except RuntimeError as error:
        print(f'with_domain: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
