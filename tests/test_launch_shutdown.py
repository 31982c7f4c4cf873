"""Ctrl-C and SIGTERM on the whole simulated store under real `ros2 launch`: every node exits
0, with no traceback.

Ctrl-C goes to the whole process group as a terminal sends it, so each node gets SIGINT twice
(from the terminal and from launch) and must still finish its cleanup. SIGTERM goes to every
node (as systemd or launch's own escalation sends it; `ros2 launch` itself, on SIGTERM, exits
at once and leaves its processes behind, by upstream design), and launch reports their exits.
"""

import os
import re
import shutil
import signal

import pytest

from ezshop_testing.processes import ChildProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which('ros2') is None, reason="no `ros2` command: make setup "
                       'installs it from the ROS 2 vendor folder ($EZSHOP_ROS_VENDOR, default '
                       '../shared/vendor/ros2) or a sourced ROS 2 install'),
]

STARTED = re.compile(r'\[INFO\] \[([\w-]+)\]: process started with pid \[(\d+)\]')
CLEAN = re.compile(r'\[INFO\] \[([\w-]+)\]: process has finished cleanly')


@pytest.mark.parametrize('stop_signal', [signal.SIGINT, signal.SIGTERM],
                         ids=['ctrl-c', 'sigterm'])
def test_every_node_of_the_simulated_store_stops_cleanly(faces_root, tmp_path,
                                                        stop_signal):
    launch = ChildProcess(['ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml',
                           'scenario:=one_shopper', 'log_level:=info',
                           f'database_url:=sqlite:///{tmp_path / "store.db"}',
                           f'results_file:={tmp_path / "results.json"}'])
    try:
        # The scenario is playing: every node is up (the referee enrolled through the store).
        assert launch.wait_for_line(lambda line: '[referee' in line and ' truth ' in line,
                                    timeout=180), launch.output[-6000:]
        if stop_signal == signal.SIGINT:
            launch.send_signal(stop_signal)
        else:
            for _, pid in STARTED.findall(launch.output):
                os.kill(int(pid), stop_signal)
        code = launch.proc.wait(timeout=60)
    finally:
        launch.stop()
    started = {name for name, _ in STARTED.findall(launch.output)}
    clean = set(CLEAN.findall(launch.output))
    assert len(started) >= 8, launch.output[-6000:]
    unclean = sorted(started - clean)
    assert not unclean, '\n'.join(line for line in launch.output.splitlines()
                                   if any(name in line for name in unclean))
    assert 'Traceback' not in launch.output, launch.output[-8000:]
    assert code == 0, launch.output[-3000:]
