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

#: A node whose teardown hangs for good inside native code that holds the GIL (as Fast DDS was
#: seen to in rcl_node_fini): no Python thread or signal handler can run, yet it ends, with the
#: exit code its work returned, once its stacks are printed.
STUCK_IN_NATIVE_TEARDOWN = '''
import ctypes
from rclpy.node import Node
from ezshop_ros import process

process.CLEANUP_STACKS_AFTER_S = 0.5
process.EXIT_STUCK_TEARDOWN_AFTER_S = 1.5

class Stuck(Node):
    def destroy_node(self):
        ctypes.PyDLL(None).sleep(120)  # stuck_here: PyDLL keeps the GIL during the call
        return super().destroy_node()

raise SystemExit(process.run_node(lambda: Stuck('stuck'), run=lambda node: 3))
'''

#: A node stuck in one step of its work (enrolment waiting on something without a timeout).
STUCK_IN_A_STEP = '''
import time
from rclpy.node import Node
from ezshop_ros import process

def work(node):
    with process.give_up_after(0.5, 'enrolment', exit_code=4):
        time.sleep(30.0)  # stuck_here
    return 0

raise SystemExit(process.run_node(lambda: Node('stuck'), run=work))
'''

#: The same step when it ends in time: nothing happens.
QUICK_STEP = '''
import time
from rclpy.node import Node
from ezshop_ros import process

def work(node):
    with process.give_up_after(0.5, 'enrolment', exit_code=4):
        pass
    time.sleep(1.0)  # past the deadline: the watchdog was cancelled
    return 0

raise SystemExit(process.run_node(lambda: Node('quick'), run=work))
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


def test_a_teardown_stuck_in_native_code_ends_with_the_work_s_exit_code():
    done = run_child(STUCK_IN_NATIVE_TEARDOWN)
    assert done.returncode == 3, done.stderr
    assert 'Timeout' in done.stderr and 'in destroy_node' in done.stderr, done.stderr


def test_a_step_stuck_past_its_deadline_gives_up_with_a_verdict_and_the_stacks():
    done = run_child(STUCK_IN_A_STEP)
    assert done.returncode == 4, done.stderr
    assert 'enrolment did not finish in 0 s: giving up (exit 4)' in done.stderr, done.stderr
    assert 'in work' in done.stderr, done.stderr  # where it was stuck


def test_a_step_that_ends_in_time_is_left_alone():
    done = run_child(QUICK_STEP)
    assert done.returncode == EXIT_OK, done.stderr
    assert 'giving up' not in done.stderr and 'Timeout' not in done.stderr, done.stderr
