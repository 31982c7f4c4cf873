"""/diagnostics through diagnostic_updater, with a period `ros2 param set` really changes.

The Updater declares `diagnostic_updater.period` (s) but reads it only once; here a change of
it restarts the updater's timer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_updater import DiagnosticStatusWrapper, Updater
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType
from rclpy.node import Node

#: The parameter diagnostic_updater reads its publishing period from (s).
PERIOD_PARAMETER = 'diagnostic_updater.period'
#: Its range (s).
PERIOD_RANGE_S = (0.01, 3600.0)

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


def diagnostics_updater(node: Node, hardware_id: str, period_s: float = 1.0) -> Updater:
    """An Updater publishing the node's tasks every `diagnostic_updater.period` seconds."""
    updater = Updater(node, period=period_s)
    updater.setHardwareID(hardware_id)
    node.set_descriptor(PERIOD_PARAMETER, ParameterDescriptor(
        type=ParameterType.PARAMETER_DOUBLE, description='Period of /diagnostics (s)',
        floating_point_range=[FloatingPointRange(
            from_value=PERIOD_RANGE_S[0], to_value=PERIOD_RANGE_S[1], step=0.0)]))

    def apply(parameters) -> None:
        for parameter in parameters:
            if parameter.name == PERIOD_PARAMETER:
                replaced = updater.timer
                updater.period = parameter.value  # starts a new timer, leaves the old one
                node.destroy_timer(replaced)

    node.add_post_set_parameters_callback(apply)
    return updater


def fill(stat: DiagnosticStatusWrapper, level: bytes, message: str,
         values: Mapping[str, object]) -> DiagnosticStatusWrapper:
    """Set a task's summary and its key/values (as strings); returns stat for the Updater."""
    stat.summary(level, message)
    for key, value in values.items():
        stat.add(str(key), str(value))
    return stat


def task(compute: Callable[[], tuple[bytes, str, Mapping[str, object]]]
         ) -> Callable[[DiagnosticStatusWrapper], DiagnosticStatusWrapper]:
    """An Updater task from a function returning (level, message, values)."""
    return lambda stat: fill(stat, *compute())


class GrowingCounts:
    """Which counters grew since the last report: a status that warns while bad input keeps
    coming and clears once it stops (a lifetime total alone would warn forever)."""

    def __init__(self):
        self._reported: dict[str, int] = {}

    def __call__(self, counts: Mapping[str, int]) -> list[str]:
        grown = sorted(key for key, value in counts.items()
                       if value > self._reported.get(key, 0))
        self._reported = dict(counts)
        return grown


#: Counters of refused input: their names start so (bad_shelf_events, refused_..., ...).
REJECTION_PREFIXES = ('bad_', 'refused_', 'malformed_')


class RefusedInput:
    """What a node says on /diagnostics (WARN) while it keeps refusing input: its counters of
    refused input that grew since the last report, with any other such note (e.g.
    StampGuard.rising()); '' once it stops."""

    def __init__(self):
        self._grown = GrowingCounts()

    def warning(self, counters: Mapping[str, object], *notes: str) -> str:
        rising = self._grown({key: int(value) for key, value in counters.items()
                              if key.startswith(REJECTION_PREFIXES)})
        parts = [f'rejecting input: {", ".join(rising)} (see the log)'] if rising else []
        return '; '.join(parts + [note for note in notes if note])


def counter_status(counters: Mapping[str, object], warn_keys: tuple[str, ...] = ()
                   ) -> tuple[bytes, str, Mapping[str, object]]:
    """A task result from counters: WARN naming the warn_keys that are non-zero, else OK."""
    warn = [key for key in warn_keys if counters.get(key)]
    return (WARN if warn else OK, ('check: ' + ', '.join(warn)) if warn else 'OK',
            dict(sorted(counters.items())))
