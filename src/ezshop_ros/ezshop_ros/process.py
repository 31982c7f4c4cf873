"""How an EZShop node process starts, so it stops cleanly however it is stopped.

Under `ros2 launch`, Ctrl-C reaches every node twice: once from the terminal (the whole process
group) and once from launch itself. rclpy's own handlers shut the context down on the first
SIGINT or SIGTERM (spin ends with ExternalShutdownException and the node cleans up); Python's
default SIGINT handler would also raise KeyboardInterrupt, on the second Ctrl-C in the middle of
that cleanup: a traceback, a worker join aborted, a store that had not committed what it held.
So once the first stop signal has reached Python, the process ignores further ones (it is
stopping already), and again after rclpy.shutdown, which restores the default (fatal) action
while the interpreter still has Fast DDS and worker threads to tear down.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

#: Files an EZShop process creates: 0600, folders 0700.
PRIVATE_UMASK = 0o077
#: Signals that stop a node: rclpy shuts its context down on them.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: A node process still alive this long after its work ended (cleanup, interpreter exit) prints
#: every thread's stack to stderr and keeps going: launch kills a node that takes 15 s to stop,
#: and then nothing would say where it hung.
CLEANUP_STACKS_AFTER_S = 8.0
#: give_up_after's last resort: if its own thread cannot run (a native call holding the GIL),
#: faulthandler's watchdog prints the stacks and ends the process this much later (exit 1).
GIVE_UP_NATIVE_GRACE_S = 10.0
#: Exit code of a node that stopped normally (end of its work, Ctrl-C, SIGTERM).
EXIT_OK = 0
#: Exit code of a node that refused its configuration (a parameter or a file it names).
EXIT_BAD_CONFIGURATION = 2
#: What a node's constructor raises for a configuration it cannot work with: a settings
#: problem (ValueError, which the store file's errors are too), a missing file, a parameter
#: value of the wrong type or out of its declared range (rclpy).
CONFIGURATION_ERRORS = (ValueError, OSError, InvalidParameterTypeException,
                        InvalidParameterValueException)


def ignore_stop_signals() -> None:
    """From now on SIGINT and SIGTERM do nothing: the process is stopping already."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _stop_requested(signum, frame) -> None:
    """The first stop signal at the Python level (rclpy's handler, which calls this one, has
    shut the context down): no KeyboardInterrupt, and no later signal cuts the cleanup short.
    A node that is still alive CLEANUP_STACKS_AFTER_S later (stuck wherever it was) prints
    every thread's stack."""
    ignore_stop_signals()
    faulthandler.dump_traceback_later(CLEANUP_STACKS_AFTER_S)


@contextmanager
def give_up_after(seconds: float, what: str, exit_code: int) -> Iterator[None]:
    """Run the block; if it has not ended after `seconds` (stuck somewhere no timeout of ours
    reaches: a DDS call, native code), print what gave up, every thread's stack, and end the
    process with `exit_code`: a clear verdict instead of a process that hangs until killed."""
    def expire() -> None:
        print(f'{what} did not finish in {seconds:.0f} s: giving up (exit {exit_code}); '
              "every thread's stack follows", file=sys.stderr, flush=True)
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(exit_code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    faulthandler.dump_traceback_later(seconds + GIVE_UP_NATIVE_GRACE_S, exit=True)
    try:
        yield
    finally:
        timer.cancel()
        faulthandler.cancel_dump_traceback_later()


def init_node_process(args: list[str] | None = None) -> None:
    """rclpy.init for a node's main(): files it creates are the owner's only (umask 077, so
    the ROS log too), and the first stop signal shuts the ROS context down (the main loop ends
    and the node cleans up), any later one is ignored."""
    faulthandler.enable()  # a crash in native code (DDS, dlib) still shows where it was
    # Databases, logs, snapshots and bags hold faces, names and purchases: owner only.
    os.umask(PRIVATE_UMASK)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_requested)
    rclpy.init(args=args)


def shutdown_node_process() -> None:
    """rclpy.try_shutdown at the end of a node's main(), still deaf to stop signals after."""
    rclpy.try_shutdown()
    ignore_stop_signals()


def spin_once(executor: Executor, timeout_sec: float) -> None:
    """executor.spin_once for a node's own main loop: a stop signal that shuts the context down
    at any moment ends it with ExternalShutdownException, as rclpy.spin does (between rclpy's
    own checks it surfaces as an RCLError about an invalid context). The executor is shut down
    then: an executor interrupted in the middle of its wait keeps the node's handles in use,
    and destroy_node would wait for them for ever (seen: a referee stuck after Ctrl-C)."""
    try:
        executor.spin_once(timeout_sec=timeout_sec)
    except ExternalShutdownException:
        executor.shutdown(timeout_sec=0)
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised unless the context was shut down
        if executor.context.ok():
            raise
        executor.shutdown(timeout_sec=0)
        raise ExternalShutdownException() from exc


def spin(node: Node, executor: Executor | None = None) -> None:
    """rclpy.spin for a node's main() (on `executor`, default a SingleThreadedExecutor),
    ending with ExternalShutdownException on a stop signal wherever it lands (even in a
    callback that was publishing as the context shut down)."""
    executor = executor or SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        while node.context.ok():
            spin_once(executor, 0.1)
    finally:
        executor.shutdown()


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             run: Callable[[Node], int | None] = spin) -> int:
    """The main() of every EZShop node; returns the process's exit code.

    Makes the node (a configuration it refuses: one line on stderr naming the problem, exit
    EXIT_BAD_CONFIGURATION, no traceback), then `run(node)` (default: spin until stopped; a
    node with work of its own returns its exit code), and on any way out destroys the node and
    shuts rclpy down, deaf to further stop signals."""
    init_node_process(args)
    node = None
    try:
        try:
            node = make_node()
        except CONFIGURATION_ERRORS as exc:
            made = getattr(make_node, 'func', make_node)  # a functools.partial: its class
            name = getattr(made, '__name__', 'node')
            print(f'{name}: bad configuration: {exc}', file=sys.stderr, flush=True)
            return EXIT_BAD_CONFIGURATION
        except Exception:  # noqa: BLE001 - re-raised unless a stop signal came first
            if rclpy.ok():
                raise
            return EXIT_OK  # stopped while starting: rclpy refuses to create endpoints then
        return run(node) or EXIT_OK
    except (KeyboardInterrupt, ExternalShutdownException):
        return EXIT_OK
    finally:
        faulthandler.dump_traceback_later(CLEANUP_STACKS_AFTER_S)
        if node is not None:
            node.destroy_node()
        shutdown_node_process()
