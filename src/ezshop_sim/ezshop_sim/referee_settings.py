"""The referee's settings, each described once (declared by ezshop_ros.parameters); a judged
run is configured at start, so all are read-only."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting


@dataclass(frozen=True)
class RefereeSettings:
    scenario: str = setting('demo', 'shipped scenario name or path (the same as sim_node)')
    faces_dir: str = setting('', "faces folder; '' = $EZSHOP_FACES, else the shipped photos")
    faces_subdir: str = setting('dev', 'subfolder of faces_dir holding <identity>/ folders')
    store_file: str = setting('', "store description; '' = the scenario's")
    timeout_s: float = setting(600.0, 'give up this long after the start (s)', 10.0, 7200.0)
    receipt_wait_s: float = setting(
        75.0, 'after SCENARIO_DONE, wait this long for missing receipts, e.g. a visit the store '
        'closes when the customer has not been seen for a while (s)', 0.0, 600.0)
    service_timeout_s: float = setting(90.0, 'wait this long for the store services (s)',
                                       1.0, 600.0)
    enrol_timeout_s: float = setting(
        300.0, 'give up (exit 4, every stack printed) if enrolment has not ended by then, '
        'stuck where no service timeout reaches (s)', 10.0, 3600.0)
    results_file: str = setting('', "write the results as JSON here; '' = do not")
    fail_on_wrong: bool = setting(False, 'exit 3 when a receipt is wrong (for tests and CI)')
