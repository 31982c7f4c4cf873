"""run_node, the main() of every node, in a child process: how each way out ends."""

import subprocess
import sys

from ezshop_ros.process import EXIT_BAD_CONFIGURATION, EXIT_OK

#: A node whose construction meets a stop signal halfway: the context is shut down (as rclpy's
#: handler does on SIGINT) before it creates a publisher, which rclpy then refuses.
STOPPED_WHILE_STARTING = '''
import rclpy
from rclpy.node import Node
from std_msgs.msg import String
from ezshop_ros.process import run_node

class Starting(Node):
    def __init__(self):
        super().__init__('starting')
        rclpy.shutdown()
        self.create_publisher(String, 'never', 1)

raise SystemExit(run_node(Starting))
'''

BROKEN_WHILE_RUNNING = '''
from rclpy.node import Node
from ezshop_ros.process import run_node

def crash(node):
    raise RuntimeError('a bug while running')

raise SystemExit(run_node(lambda: Node('running'), run=crash))
'''

#: A node whose cleanup is stuck for a while (a DDS teardown that hangs, say).
STUCK_IN_CLEANUP = '''
import time
from rclpy.node import Node
from ezshop_ros import process

process.CLEANUP_STACKS_AFTER_S = 0.5

class Stuck(Node):
    def destroy_node(self):
        time.sleep(2.0)  # stuck_here
        return super().destroy_node()

raise SystemExit(process.run_node(lambda: Stuck('stuck'), run=lambda node: 0))
'''


def run_child(code):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)


def test_a_stop_signal_while_the_node_starts_is_a_clean_stop():
    done = run_child(STOPPED_WHILE_STARTING)
    assert done.returncode == EXIT_OK, done.stderr
    assert 'Traceback' not in done.stderr, done.stderr


def test_a_bug_is_not_taken_for_a_stop_or_a_bad_configuration():
    done = run_child(BROKEN_WHILE_RUNNING)
    assert done.returncode not in (EXIT_OK, EXIT_BAD_CONFIGURATION)
    assert 'a bug while running' in done.stderr


def test_a_node_stuck_in_its_cleanup_says_where_and_still_ends_normally():
    done = run_child(STUCK_IN_CLEANUP)
    assert done.returncode == EXIT_OK, done.stderr
    assert 'Timeout' in done.stderr and 'in destroy_node' in done.stderr, done.stderr
