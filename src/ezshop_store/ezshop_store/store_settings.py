"""store_node's settings, each described once (declared by ezshop_ros.parameters).

Dynamic: the grace period (applied to exits seen from then on), the batch size limit and the
markers' frame. The database, the store file and the timers' periods are read once at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting


@dataclass(frozen=True)
class StoreSettings:
    store_id: str = setting(
        'default', 'Id of this store in a database several stores may share (its items, visits, '
        'events and receipts carry it)')
    store_file: str = setting(
        '', "Store description (catalogue, planogram); '' = ezshop_bringup's config/store.yaml")
    database_url: str = setting(
        '', "SQLAlchemy URL of the store database; '' = SQLite (WAL) file "
        '$ROS_HOME/ezshop/store.db')
    checkout_grace_s: float = setting(
        1.2, 'Seconds between seeing EXITED and checking out, so cart actions stamped before '
        'the exit but still in flight land on the visit (s)', 0.0, 120.0, dynamic=True)
    batch_period_s: float = setting(
        0.02, 'Queued events are applied (one transaction) at least this often (s)', 0.001, 1.0)
    batch_max_events: int = setting(
        1000, 'Apply the queue at once when it holds this many events', 1, 100000, dynamic=True)
    undecided_after_s: float = setting(
        60.0, 'A shelf event fusion has not turned into a cart action after this long '
        '(fusion_node down, its window lost in a crash) is held for staff as undecided (s)',
        5.0, 3600.0)
    embedding_dim: int = setting(
        128, "Length of every face embedding RegisterCustomer may bring (the face model's; "
        'dlib: 128)', 1, 4096)
    max_embeddings_per_customer: int = setting(
        20, 'Most face embeddings one customer is enrolled with', 1, 1000)
    consent_notice_version: str = setting(
        '1', 'Version of the privacy notice customers accept when they enrol (recorded with '
        "their consent when the enrolling app does not name one)", dynamic=True)
    retention_days: float = setting(
        180.0, 'Visits, door and sighting events, cart actions, staff decisions and alerts '
        'older than this lose their link to a person (0 = keep the link for ever) (days)',
        0.0, 36500.0, dynamic=True)
    markers_frame: str = setting('store', 'frame_id of store_markers (rviz)', dynamic=True)
    markers_period_s: float = setting(
        0.5, 'store_markers are republished at most this often, when something changed (s)',
        0.05, 60.0)

    @property
    def grace_ns(self) -> int:
        return int(self.checkout_grace_s * 1e9)
