"""Presence from every piece of evidence, pure Python (no ROS)."""

from ezshop_store.presence import (
    ABSENT,
    CLOSED_ABSENT,
    OPENED_LATE,
    SEEN,
    Presence,
    PresenceSettings,
)

S = 1_000_000_000
ROLES = {'cam_entrance': 'entrance', 'cam_exit': 'exit', 'cam_shelf_a': 'shelf'}
SETTINGS = PresenceSettings(min_confidence=0.3, late_entry_wait_ns=3 * S,
                            absent_checkout_ns=60 * S, exit_absent_checkout_ns=3 * S,
                            reentry_guard_ns=10 * S, retention_ns=120 * S)


def presence():
    return Presence(SETTINGS, dict(ROLES))


def test_door_stays_by_stamps():
    p = presence()
    p.door_entered('alice', 100 * S)
    p.door_exited('alice', 200 * S, 'cam_exit')
    assert p.present_at(150 * S) == {'alice'}
    assert p.present_at(250 * S) == set()
    assert p.present_at(50 * S) == set()


def test_shelf_sighting_without_entry_opens_a_late_stay_at_the_tracks_first_image():
    p = presence()
    events = p.sighting('alice', 'cam_shelf_a', first_ns=10 * S, stamp_ns=12 * S,
                        confidence=0.9)
    assert [(e.kind, e.customer_id, e.stamp_ns, e.camera_id) for e in events] == [
        (SEEN, 'alice', 10 * S, 'cam_shelf_a')]
    assert p.stays['alice'].opened_by == OPENED_LATE
    assert p.present_at(11 * S) == {'alice'}
    assert p.sighting('alice', 'cam_shelf_a', 10 * S, 13 * S, 0.9) == []  # once


def test_a_weak_identification_is_no_sighting():
    p = presence()
    assert p.sighting('alice', 'cam_shelf_a', 10 * S, 12 * S, confidence=0.1) == []
    assert p.present_at(12 * S) == set()


def test_entrance_sighting_waits_for_the_door_and_the_door_wins():
    p = presence()
    assert p.sighting('alice', 'cam_entrance', 10 * S, 10 * S, 0.9) == []
    assert p.present_at(11 * S) == {'alice'}  # seen: can be charged once let in
    p.door_entered('alice', 11 * S)
    p.now_ns = 20 * S
    assert p.tick() == []
    assert p.stays['alice'].opened_by == 'door'


def test_entrance_sighting_without_a_door_pass_becomes_a_late_entry():
    p = presence()
    p.sighting('alice', 'cam_entrance', 10 * S, 10 * S, 0.9)
    p.now_ns = 12 * S
    assert p.tick() == []
    p.now_ns = 13 * S
    events = p.tick()
    assert [(e.kind, e.stamp_ns) for e in events] == [(SEEN, 10 * S)]


def test_ensure_open_lets_a_pending_customer_in_at_once():
    p = presence()
    p.sighting('alice', 'cam_entrance', 10 * S, 10 * S, 0.9)
    assert [e.kind for e in p.ensure_open(['alice', 'bob'])] == [SEEN]
    assert p.ensure_open(['alice']) == []


def test_exit_camera_sighting_of_someone_never_in_opens_a_stay_the_door_closes():
    p = presence()
    assert [e.kind for e in p.sighting('alice', 'cam_exit', 50 * S, 50 * S, 0.9)] == [SEEN]
    p.door_exited('alice', 51 * S, 'cam_exit')
    assert p.present_at(50 * S + 1) == {'alice'} and p.present_at(52 * S) == set()


def test_sightings_at_the_door_just_after_the_exit_do_not_reopen():
    p = presence()
    p.door_entered('alice', 1 * S)
    p.door_exited('alice', 50 * S, 'cam_exit')
    assert p.sighting('alice', 'cam_exit', 49 * S, 51 * S, 0.9) == []
    # Seen at a shelf after leaving: in again (a new stay), from that image on.
    events = p.sighting('alice', 'cam_shelf_a', 70 * S, 70 * S, 0.9)
    assert [(e.kind, e.stamp_ns) for e in events] == [(SEEN, 70 * S)]


def test_absent_checkout_after_the_absence_time_stamped_at_the_last_sighting():
    p = presence()
    p.door_entered('alice', 1 * S)
    p.sighting('alice', 'cam_shelf_a', 2 * S, 5 * S, 0.9)
    p.sighting('bob', 'cam_shelf_a', 2 * S, 64 * S, 0.9)  # time goes on for other cameras
    assert all(e.customer_id != 'alice' for e in p.tick())
    p.sighting('bob', 'cam_shelf_a', 2 * S, 66 * S, 0.9)
    events = [e for e in p.tick() if e.customer_id == 'alice']
    assert [(e.kind, e.stamp_ns, e.camera_id) for e in events] == [
        (ABSENT, 5 * S, 'cam_shelf_a')]
    assert p.stays['alice'].closed_by == CLOSED_ABSENT
    assert p.present_at(6 * S) - {'bob'} == set()


def test_last_seen_at_the_exit_camera_checks_out_sooner():
    p = presence()
    p.door_entered('alice', 1 * S)
    p.sighting('alice', 'cam_exit', 30 * S, 31 * S, 0.9)
    p.sighting('bob', 'cam_shelf_a', 2 * S, 33 * S, 0.9)
    assert [e for e in p.tick() if e.customer_id == 'alice'] == []
    p.sighting('bob', 'cam_shelf_a', 2 * S, 34 * S, 0.9)
    assert [e.kind for e in p.tick() if e.customer_id == 'alice'] == [ABSENT]


def test_no_camera_no_absence():
    p = presence()
    p.door_entered('alice', 1 * S)
    p.now_ns = 1 * S
    assert p.tick() == []  # stamps stand still when every camera is silent


def test_store_carts_are_evidence_of_an_open_visit():
    p = presence()
    p.store_visit('alice', True, 5 * S)
    assert p.present_at(1) == {'alice'}
    p.store_visit('alice', False, 9 * S)
    assert p.present_at(10 * S) == set()
