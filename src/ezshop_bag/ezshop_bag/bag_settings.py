"""Settings of the record and replay nodes (one ROS parameter per field). Plain Python."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting

#: Most camera images recorded per second per camera.
MAX_IMAGE_RATE_HZ = 100.0
#: Slowest and fastest replay (bag seconds per wall-clock second).
MIN_RATE = 0.05
MAX_RATE = 20.0


@dataclass(frozen=True)
class RecordSettings:
    """What `ezshop record` writes, and how politely."""

    output: str = setting('', "Bag folder to create; '' = ezshop_<date> in the current folder")
    image_rate_hz: float = setting(
        10.0, 'Camera images (and camera_info) recorded per second per camera; 0 = none (Hz)',
        0.0, MAX_IMAGE_RATE_HZ)
    topics: list = setting([''], 'More topics to record: names or patterns (one * per name '
                           'segment), relative to the namespace or absolute')
    exclude: list = setting([''], 'Topics or patterns never recorded')
    compression: str = setting('zstd', 'MCAP chunk compression: zstd, lz4 or none')
    discovery_period_s: float = setting(0.5, 'Look for new topics this often (wall clock, s)',
                                        0.05, 10.0)
    niceness: int = setting(
        10, "Lower the recorder's CPU priority by this much (0 = as started): the store's own "
        'nodes come first when CPU is short, the recorder catches up from its queues', 0, 19)
    alone_after_s: float = setting(
        15.0, 'A topic is recorded once another node subscribes to it, or once it has had '
        'publishers this long (s) with nobody listening; 0 = at once, like ros2 bag record. '
        'The recorder never stands in for a consumer that the simulator or a replay waits for',
        0.0, 3600.0)


@dataclass(frozen=True)
class ReplaySettings:
    """What `ezshop replay` plays into a store graph, and what it compares."""

    bag: str = setting('', 'Bag folder (or .mcap file) to replay')
    rate: float = setting(
        1.0, 'Bag seconds per wall-clock second (1.0 = as recorded: the face node needs the '
        'recorded pace to see the same frames)', MIN_RATE, MAX_RATE)
    topics: list = setting(['inputs'], "What to publish: 'inputs' (cameras, lane sensors, "
                           "fridge probes), 'all', or topic names / patterns")
    clock_hz: float = setting(100.0, '/clock messages per wall-clock second (Hz)', 1.0, 1000.0)
    enrol: bool = setting(True, "Register the bag's customers (from its gallery) in the store")
    wait_for_subscribers: bool = setting(
        True, 'Start once the store graph subscribes to every camera and lane topic')
    wait_timeout_s: float = setting(120.0, 'Start anyway after this long (s)', 0.0, 3600.0)
    service_timeout_s: float = setting(60.0, 'Wait this long for register_customer (s)',
                                       1.0, 600.0)
    settle_s: float = setting(1.0, 'Pause between enrolment and the first message (s)',
                              0.0, 60.0)
    compare_receipts: bool = setting(
        True, "Compare the store graph's receipts with the recorded ones")
    tail_s: float = setting(15.0, 'After the last message, keep the clock running up to this '
                            'long (bag s) for the receipts', 0.0, 600.0)
    results_file: str = setting('', "Write the replay's results as JSON here; '' = do not")
    fail_on_difference: bool = setting(False, 'Exit 3 when the receipts differ')
