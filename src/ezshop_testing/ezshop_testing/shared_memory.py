"""Fast DDS shared memory left by processes that died, removed before a graph starts.

Fast DDS's shared-memory transport keeps each participant's port and segment as files in
/dev/shm; a process killed (or ended without destroying its participant) leaves them behind,
and a later process opening a stale port has been seen to crash in native code
(eProsima/Fast-DDS#6501; ros2/launch_ros#562 turned shared memory off in its tests for it). A
test session reuses one ROS domain, so one port number, for hundreds of processes. Fast DDS's
own `fastdds shm clean` removes only the files whose lock no live process holds.
"""

from __future__ import annotations

import shutil
import subprocess

#: Longest a clean may take (it only lists /dev/shm and tries a lock per file).
CLEAN_TIMEOUT_S = 60.0


def clean_dead_shared_memory() -> str:
    """Run `fastdds shm clean`; returns what it printed, or why it did not run."""
    tool = shutil.which('fastdds')
    if tool is None:
        return 'fastdds shm clean: the fastdds tool is not installed'
    try:
        done = subprocess.run([tool, 'shm', 'clean'], capture_output=True, text=True,
                              timeout=CLEAN_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f'fastdds shm clean: {exc}'
    return (done.stdout + done.stderr).strip()
