"""/diagnostics for the store package's nodes: one DiagnosticStatus of counters per node."""

from __future__ import annotations

from collections.abc import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


def diagnostic_array(node_name: str, what: str, counters: Mapping[str, int | float | str],
                     warn_keys: tuple[str, ...] = (), stamp=None) -> DiagnosticArray:
    """Status '<node name>: <what>'; WARN when any of warn_keys is non-zero."""
    warn = [key for key in warn_keys if counters.get(key)]
    status = DiagnosticStatus(
        level=DiagnosticStatus.WARN if warn else DiagnosticStatus.OK,
        name=f'{node_name}: {what}', hardware_id=node_name,
        message=('check: ' + ', '.join(warn)) if warn else 'OK',
        values=[KeyValue(key=str(k), value=str(v)) for k, v in sorted(counters.items())])
    array = DiagnosticArray(status=[status])
    if stamp is not None:
        array.header.stamp = stamp
    return array
