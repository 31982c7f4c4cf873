"""Who is in the store, from every piece of evidence (plain Python, no rclpy).

A customer's stay in the store is opened by an ENTERED from the entrance door, or, when that
pass was missed, by the first confident sighting of the customer by any camera (a late entry,
stamped at the first image of the identified track). It is closed by an EXITED from the exit
door, or, when that pass was missed, by absence: not seen by any camera for
``absent_checkout_ns`` (``exit_absent_checkout_ns`` when the last sighting was at an exit
camera, where a missed pass is the likely story). The store's carts are evidence too: an open
visit there is a stay here (e.g. after a restart).

Times are image stamps (ns). "Now" for absence is the newest stamp of any camera, so a store
whose cameras all stop never checks anybody out for being unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ezshop_common.store_config import ROLE_ENTRANCE, ROLE_EXIT

#: How a stay was opened and closed.
OPENED_AT_DOOR = 'door'
OPENED_LATE = 'late'
OPENED_BY_STORE = 'store'
CLOSED_AT_DOOR = 'door'
CLOSED_ABSENT = 'absent'
CLOSED_BY_STORE = 'store'

#: Presence events for the store (CustomerEvent SEEN / ABSENT).
SEEN = 'seen'
ABSENT = 'absent'

S = 1_000_000_000


@dataclass(frozen=True)
class PresenceSettings:
    min_confidence: float = 0.3                 # a face this sure of its name is a sighting
    late_entry_wait_ns: int = 3 * S             # at the entrance camera, wait for the door
    absent_checkout_ns: int = 300 * S           # unseen this long anywhere: checked out
    exit_absent_checkout_ns: int = 3 * S        # ... when last seen at an exit camera
    reentry_guard_ns: int = 10 * S              # door-camera sightings after an exit
    retention_ns: int = 120 * S                 # closed stays kept for late shelf events


@dataclass
class Stay:
    """One customer's time in the store as the evidence says."""

    customer_id: str
    since_ns: int
    opened_by: str
    last_seen_ns: int
    last_camera: str = ''
    until_ns: int | None = None
    closed_by: str = ''

    def covers(self, stamp_ns: int) -> bool:
        return self.since_ns <= stamp_ns and (self.until_ns is None or stamp_ns <= self.until_ns)


@dataclass(frozen=True)
class PresenceEvent:
    """A late entry (SEEN) or an absent checkout (ABSENT) for the store."""

    kind: str
    customer_id: str
    stamp_ns: int
    camera_id: str
    confidence: float

    @property
    def event_id(self) -> str:
        # Stable: the same evidence always names the same event (the store applies it once).
        return f'{self.kind}:{self.customer_id}:{self.stamp_ns}'


@dataclass
class _Sighting:
    first_ns: int
    camera_id: str
    confidence: float
    role: str


@dataclass
class Presence:
    """Stays of every customer; returns the SEEN / ABSENT events the evidence calls for."""

    settings: PresenceSettings = field(default_factory=PresenceSettings)
    camera_roles: dict[str, str] = field(default_factory=dict)
    stays: dict[str, Stay] = field(default_factory=dict)          # newest stay per customer
    pending: dict[str, _Sighting] = field(default_factory=dict)  # seen, not yet in
    now_ns: int = 0

    # -- evidence -------------------------------------------------------------------------
    def door_entered(self, customer_id: str, stamp_ns: int) -> None:
        self.pending.pop(customer_id, None)
        stay = self.stays.get(customer_id)
        if stay is not None and stay.until_ns is None:
            stay.since_ns = min(stay.since_ns, stamp_ns)
            stay.last_seen_ns = max(stay.last_seen_ns, stamp_ns)
            return
        self.stays[customer_id] = Stay(customer_id, stamp_ns, OPENED_AT_DOOR, stamp_ns)

    def door_exited(self, customer_id: str, stamp_ns: int, camera_id: str = '') -> None:
        self.pending.pop(customer_id, None)
        stay = self.stays.get(customer_id)
        if stay is None or (stay.until_ns is not None and stay.until_ns < stamp_ns
                            - self.settings.reentry_guard_ns):
            # Never seen inside: in from this moment, out at once (the store does the same).
            stay = self.stays[customer_id] = Stay(customer_id, stamp_ns, OPENED_LATE, stamp_ns)
        if stay.until_ns is None or stay.closed_by == CLOSED_ABSENT:
            stay.until_ns = max(stamp_ns, stay.since_ns)
            stay.closed_by = CLOSED_AT_DOOR
        stay.last_seen_ns = max(stay.last_seen_ns, stamp_ns)
        stay.last_camera = camera_id or stay.last_camera

    def store_visit(self, customer_id: str, open_visit: bool, stamp_ns: int) -> None:
        """The store's carts: an open visit is a stay; a closed one ends it."""
        stay = self.stays.get(customer_id)
        if open_visit:
            if stay is None or stay.until_ns is not None and stay.closed_by == CLOSED_BY_STORE:
                # Joined late (e.g. a restart): in since before anything we know.
                self.stays[customer_id] = Stay(customer_id, 0, OPENED_BY_STORE,
                                               max(stamp_ns, self.now_ns))
                self.pending.pop(customer_id, None)
        elif stay is not None and stay.until_ns is None:
            stay.until_ns = max(stamp_ns, stay.since_ns)
            stay.closed_by = CLOSED_BY_STORE

    def sighting(self, customer_id: str, camera_id: str, first_ns: int, stamp_ns: int,
                 confidence: float) -> list[PresenceEvent]:
        """A face identified as customer_id; first_ns: the first image of its track."""
        self.now_ns = max(self.now_ns, stamp_ns)
        if confidence < self.settings.min_confidence:
            return []
        role = self.camera_roles.get(camera_id, '')
        stay = self.stays.get(customer_id)
        if stay is not None and stay.until_ns is None:
            if stamp_ns >= stay.last_seen_ns:
                stay.last_seen_ns, stay.last_camera = stamp_ns, camera_id
            return []
        if stay is not None and role in (ROLE_ENTRANCE, ROLE_EXIT) \
                and stamp_ns <= stay.until_ns + self.settings.reentry_guard_ns:
            return []  # still in front of the door they just left through
        if stay is not None and first_ns <= stay.until_ns:
            first_ns = stay.until_ns + 1  # a track from before the exit: in again from now
            if stamp_ns < first_ns:
                return []
        pending = self.pending.get(customer_id)
        if pending is None or first_ns < pending.first_ns:
            self.pending[customer_id] = _Sighting(first_ns, camera_id, confidence, role)
        if role == ROLE_ENTRANCE:
            return []  # the entrance door will most likely say ENTERED: wait for it
        return [self.open_late(customer_id, stamp_ns)]

    def identified_later(self, customer_id: str, camera_id: str, first_ns: int, last_ns: int,
                         confidence: float) -> list[PresenceEvent]:
        """A track that ended unknown was this customer (named when they were identified
        later, elsewhere): a sighting from first_ns to last_ns. A stay opened late, from a
        later sighting, starts at first_ns instead (a new SEEN, stamped there, for the store to
        move the visit's start), even when it has closed since (the exit came first: the
        store amends the receipt); otherwise it is a sighting like any other."""
        stay = self.stays.get(customer_id)
        if stay is None or (stay.until_ns is not None and first_ns > stay.until_ns):
            return self.sighting(customer_id, camera_id, first_ns, last_ns, confidence)
        if confidence < self.settings.min_confidence or stay.opened_by != OPENED_LATE \
                or first_ns >= stay.since_ns:
            return []
        stay.since_ns = first_ns
        return [PresenceEvent(SEEN, customer_id, first_ns, camera_id, confidence)]

    # -- decisions ------------------------------------------------------------------------
    def open_late(self, customer_id: str, stamp_ns: int) -> PresenceEvent:
        """Open the stay of a pending sighting now (a late entry)."""
        seen = self.pending.pop(customer_id)
        self.stays[customer_id] = Stay(customer_id, seen.first_ns, OPENED_LATE,
                                       max(stamp_ns, seen.first_ns), seen.camera_id)
        return PresenceEvent(SEEN, customer_id, seen.first_ns, seen.camera_id, seen.confidence)

    def present_at(self, stamp_ns: int) -> set[str]:
        """Customers in the store at stamp_ns, including those seen but not yet let in."""
        found = {cid for cid, stay in self.stays.items() if stay.covers(stamp_ns)}
        found.update(cid for cid, seen in self.pending.items() if seen.first_ns <= stamp_ns)
        return found

    def ensure_open(self, customer_ids: Iterable[str]) -> list[PresenceEvent]:
        """Customers about to be charged who are only pending: let them in now."""
        return [self.open_late(cid, self.now_ns) for cid in customer_ids
                if cid in self.pending]

    def tick(self) -> list[PresenceEvent]:
        """Late entries whose door never spoke, and absent checkouts, due at now_ns."""
        s = self.settings
        events = [self.open_late(cid, self.now_ns) for cid, seen in list(self.pending.items())
                  if self.now_ns - seen.first_ns >= s.late_entry_wait_ns]
        for stay in self.stays.values():
            if stay.until_ns is not None:
                continue
            at_exit = self.camera_roles.get(stay.last_camera) == ROLE_EXIT
            limit = s.exit_absent_checkout_ns if at_exit else s.absent_checkout_ns
            if self.now_ns - stay.last_seen_ns >= limit:
                stay.until_ns = max(stay.last_seen_ns, stay.since_ns)
                stay.closed_by = CLOSED_ABSENT
                events.append(PresenceEvent(ABSENT, stay.customer_id, stay.until_ns,
                                            stay.last_camera, 1.0))
        for cid in [c for c, st in self.stays.items() if st.until_ns is not None
                    and st.until_ns < self.now_ns - s.retention_ns]:
            del self.stays[cid]
        return events
