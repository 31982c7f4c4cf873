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

import ctypes
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
#: A node whose teardown (its own cleanup, then rcl / DDS: node and participant destruction,
#: interpreter exit) has not ended this long after it began ends with the exit code it had:
#: Fast DDS was seen to hang in rcl_node_fini, holding the GIL, when a whole graph stopped at
#: once (CI, Ctrl-C under ros2 launch), and launch then SIGKILLs the node 15 s after Ctrl-C.
#: Past CLEANUP_STACKS_AFTER_S, so the stacks say where it was stuck first.
EXIT_STUCK_TEARDOWN_AFTER_S = 10.0
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


class _SigEvent(ctypes.Structure):
    """glibc's struct sigevent (64 bytes) for a SIGEV_THREAD timer."""

    _fields_ = [('sigev_value', ctypes.c_void_p), ('sigev_signo', ctypes.c_int),
                ('sigev_notify', ctypes.c_int), ('sigev_notify_function', ctypes.c_void_p),
                ('sigev_notify_attributes', ctypes.c_void_p), ('_pad', ctypes.c_int * 8)]


class _TimeSpec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [('it_interval', _TimeSpec), ('it_value', _TimeSpec)]


_SIGEV_THREAD = 2
_CLOCK_MONOTONIC = 1


def exit_natively_after(seconds: float, exit_code: int) -> bool:
    """End the process with `exit_code` in `seconds` unless it has ended by then, whatever it
    is doing: a POSIX timer calls libc's _exit(exit_code) on a thread of its own, so no Python
    code has to run (a native call stuck while holding the GIL stops every Python thread and
    signal handler). For the last stretch of a process only (nothing is flushed then). Returns
    False, and arms nothing, where the C library offers no such timer (not Linux / glibc)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timer_create, timer_settime = libc.timer_create, libc.timer_settime
        exit_now = ctypes.cast(libc._exit, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return False
    event = _SigEvent(sigev_value=exit_code, sigev_notify=_SIGEV_THREAD,
                      sigev_notify_function=exit_now)
    timer = ctypes.c_void_p()
    if timer_create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)) != 0:
        return False
    whole = int(seconds)
    due = _ITimerSpec(it_value=_TimeSpec(whole, int((seconds - whole) * 1e9)))
    return timer_settime(timer, 0, ctypes.byref(due), None) == 0


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
    code = 1  # an exception of the node's own (a bug) ends it with Python's exit code
    try:
        try:
            node = make_node()
        except CONFIGURATION_ERRORS as exc:
            made = getattr(make_node, 'func', make_node)  # a functools.partial: its class
            name = getattr(made, '__name__', 'node')
            print(f'{name}: bad configuration: {exc}', file=sys.stderr, flush=True)
            code = EXIT_BAD_CONFIGURATION
            return code
        except Exception:  # noqa: BLE001 - re-raised unless a stop signal came first
            if rclpy.ok():
                raise
            code = EXIT_OK  # stopped while starting: rclpy refuses to create endpoints then
            return code
        code = run(node) or EXIT_OK
        return code
    except (KeyboardInterrupt, ExternalShutdownException):
        code = EXIT_OK
        return code
    finally:
        faulthandler.dump_traceback_later(CLEANUP_STACKS_AFTER_S)
        exit_natively_after(EXIT_STUCK_TEARDOWN_AFTER_S, code)
        if node is not None:
            node.destroy_node()
        shutdown_node_process()
