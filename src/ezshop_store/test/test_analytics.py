"""The analytics core (plain Python): occupancy, durations, dwell, conversion, queue, bad input."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ezshop_common.store_config import load_store
from ezshop_store import analytics as core
from ezshop_store.analytics import (
    ABSENT,
    ENTERED,
    EXITED,
    HOUR_NS,
    SEEN,
    UNKNOWN_PERSON,
    Analytics,
    AnalyticsParams,
    Attribution,
    DoorEvent,
    FaceFrame,
    ReceiptTotal,
    ShelfChange,
    Sighting,
    percentile,
)

S = core.S
T0 = 1_800_000_000 * S  # 2027-01-15 08:00 UTC
STORE = load_store()
# A face in front of shelf_a's lane_1 and of shelf_b's lane_2 (reach zones of the demo store).
AT_LANE_1 = (100.0, 250.0)


@pytest.fixture
def analytics():
    return Analytics(STORE, AnalyticsParams(track_gap_ns=1 * S, min_dwell_ns=2 * S))


def door(a, event_id, kind, customer, t_s):
    return a.on_door_event(DoorEvent(event_id, kind, customer, T0 + int(t_s * S)))


def faces(a, camera, t_s, *tracks):
    """tracks: (track_id, customer_id) or (track_id, customer_id, confidence)."""
    sightings = tuple(Sighting(t[0], t[1], t[2] if len(t) > 2 else 0.9, *AT_LANE_1)
                      for t in tracks)
    return a.on_faces(FaceFrame(camera, T0 + int(t_s * S), sightings))


def stream(a, camera, start_s, end_s, *tracks, step_s=0.1):
    t = start_s
    while t <= end_s + 1e-9:
        faces(a, camera, t, *tracks)
        t += step_s


def test_occupancy_and_visit_durations_follow_the_doors(analytics):
    assert door(analytics, 'e1', ENTERED, 'alice', 0).changed >= {core.OCCUPANCY}
    door(analytics, 'e2', ENTERED, 'bob', 10)
    door(analytics, 'e3', SEEN, 'carol', 20)  # a late entry opens a visit too
    assert analytics.snapshot().people_in_store == 3
    door(analytics, 'x1', EXITED, 'alice', 60)
    door(analytics, 'x2', ABSENT, 'bob', 130)
    snap = analytics.snapshot()
    assert snap.people_in_store == 1
    assert (snap.entries_total, snap.exits_total, snap.visits_completed) == (3, 2, 2)
    assert snap.visit_duration_p50_s == pytest.approx(90.0)  # 60 s and 120 s
    assert snap.visit_duration_p90_s == pytest.approx(114.0)
    assert snap.visit_duration_sum_s == pytest.approx(180.0)
    assert snap.stamp_ns == T0 + 130 * S


def test_entries_per_hour_and_in_the_last_hour(analytics):
    for n, minute in enumerate((5, 50, 70, 100, 130)):
        door(analytics, f'e{n}', ENTERED, f'c{n}', minute * 60)
    snap = analytics.snapshot()
    hour = T0 // HOUR_NS * HOUR_NS
    assert dict(snap.entries_per_hour) == {hour: 2, hour + HOUR_NS: 2, hour + 2 * HOUR_NS: 1}
    # now = minute 130: entries after minute 70 count (70 itself is exactly an hour ago).
    assert snap.entries_last_hour == 2
    assert snap.entries_total == 5


def test_only_the_newest_hours_are_kept():
    a = Analytics(STORE, AnalyticsParams(hours_kept=2))
    for n in range(4):
        door(a, f'e{n}', ENTERED, f'c{n}', n * 3600)
    assert len(a.snapshot().entries_per_hour) == 2


def test_unknown_people_at_the_door_are_passes_not_visits(analytics):
    door(analytics, 'u1', UNKNOWN_PERSON, '', 1)
    snap = analytics.snapshot()
    assert (snap.unknown_passes, snap.people_in_store, snap.entries_total) == (1, 0, 0)


@pytest.mark.parametrize('events,reason', [
    ([('e1', ENTERED, 'a', 1), ('e1', ENTERED, 'a', 1)], core.DUPLICATE),
    ([('e1', ENTERED, 'a', 1), ('e2', ENTERED, 'a', 2)], core.ALREADY_INSIDE),
    ([('x1', EXITED, 'a', 1)], core.NOT_INSIDE),
    ([('e1', ENTERED, '', 1)], core.MISSING_CUSTOMER),
    ([('e1', 9, 'a', 1)], core.UNKNOWN_KIND),
    ([('', ENTERED, 'a', 1)], core.MISSING_ID),
    ([('e1', ENTERED, 'a', 10), ('x1', EXITED, 'a', 5)], core.EXIT_BEFORE_ENTRY),
])
def test_bad_door_events_are_refused_and_counted(analytics, events, reason):
    results = [door(analytics, *event) for event in events]
    assert results[-1].refused == reason
    assert analytics.refused[reason] == 1
    assert analytics.snapshot().refused == {reason: 1}


def test_a_stamp_before_the_epoch_is_refused(analytics):
    result = analytics.on_door_event(DoorEvent('e1', ENTERED, 'a', 0))
    assert result.refused == core.BAD_STAMP


def test_picks_and_put_backs_per_item_and_shelf(analytics):
    def shelf(event_id, lane, item, delta, shelf_id='shelf_a'):
        return analytics.on_shelf_event(ShelfChange(event_id, shelf_id, lane, item, delta, T0))

    shelf('s1', 'lane_1', 'cola', -2)
    shelf('s2', 'lane_1', 'cola', +1)
    shelf('s3', 'lane_3', 'sandwich', -1)
    shelf('s4', 'lane_2', 'chocolate', -1, 'shelf_b')
    assert shelf('s1', 'lane_1', 'cola', -2).refused == core.DUPLICATE
    assert shelf('s5', 'lane_9', 'cola', -1).refused == core.UNKNOWN_LANE
    assert shelf('s6', 'lane_1', 'salad', -1).refused == core.UNKNOWN_ITEM
    assert shelf('s7', 'lane_1', 'cola', 0).refused == core.ZERO_QUANTITY
    snap = analytics.snapshot()
    items = {i.item_id: i for i in snap.items}
    assert (items['cola'].units_taken, items['cola'].units_put_back) == (2, 1)
    assert (items['cola'].take_events, items['cola'].put_back_events) == (1, 1)
    assert items['sandwich'].units_taken == 1 and items['water'].units_taken == 0
    shelves = {s.shelf_id: s for s in snap.shelves}
    assert (shelves['shelf_a'].units_taken, shelves['shelf_a'].units_put_back) == (3, 1)
    assert shelves['shelf_b'].units_taken == 1
    assert [i.item_id for i in snap.items] == [i.item_id for i in STORE.items]


def test_dwell_looks_and_conversion_per_shelf(analytics):
    # alice stands 5 s at shelf_a and picks; bob 3 s and does not; dave 1 s (not a look).
    stream(analytics, 'cam_shelf_a', 0, 5, (1, 'alice'))
    stream(analytics, 'cam_shelf_a', 10, 13, (2, 'bob'))
    stream(analytics, 'cam_shelf_a', 20, 21, (3, 'dave'))
    analytics.on_attribution(Attribution('s1', 'alice', 'cola', 1, 'shelf_a', T0 + 3 * S))
    shelf_a = analytics.snapshot().shelves[0]
    assert shelf_a.dwell_s == pytest.approx(9.0)
    assert (shelf_a.shoppers_looked, shelf_a.shoppers_picked) == (2, 1)
    assert shelf_a.conversion == pytest.approx(0.5)
    shelf_b = analytics.snapshot().shelves[1]
    assert shelf_b.dwell_s == 0 and shelf_b.shoppers_looked == 0 and math.isnan(
        shelf_b.conversion)


def test_a_shopper_is_one_look_however_often_they_come_back(analytics):
    stream(analytics, 'cam_shelf_a', 0, 3, (1, 'alice'))
    stream(analytics, 'cam_shelf_a', 10, 13, (7, 'alice'))  # a new track later
    assert analytics.snapshot().shelves[0].shoppers_looked == 1
    assert analytics.snapshot().shelves[0].dwell_s == pytest.approx(6.0)


def test_an_unidentified_track_is_one_shopper_until_it_is_named(analytics):
    stream(analytics, 'cam_shelf_a', 0, 3, (1, ''))
    assert analytics.snapshot().shelves[0].shoppers_looked == 1
    faces(analytics, 'cam_shelf_a', 3.1, (1, 'alice'))
    stream(analytics, 'cam_shelf_a', 4, 7, (2, 'alice'))
    assert analytics.snapshot().shelves[0].shoppers_looked == 1


def test_a_low_confidence_name_is_not_a_name(analytics):
    stream(analytics, 'cam_shelf_a', 0, 3, (1, 'alice', 0.1))
    stream(analytics, 'cam_shelf_a', 10, 13, (2, 'alice', 0.9))
    assert analytics.snapshot().shelves[0].shoppers_looked == 2  # one anonymous, alice


def test_a_picker_the_cameras_missed_still_looked(analytics):
    analytics.on_attribution(Attribution('s1', 'eve', 'chips', 2, 'shelf_b', T0))
    shelf_b = analytics.snapshot().shelves[1]
    assert (shelf_b.shoppers_looked, shelf_b.shoppers_picked, shelf_b.conversion) == (1, 1, 1.0)


def test_unattributed_put_back_and_resolved_actions(analytics):
    analytics.on_attribution(Attribution('s1', '', 'cola', 1, 'shelf_a', T0))
    analytics.on_attribution(Attribution('s2', 'bob', 'cola', -1, 'shelf_a', T0))
    assert analytics.snapshot().shelves[0].shoppers_picked == 0
    # The held s1 settled later: same event id, resolves it: not a duplicate.
    resolved = analytics.on_attribution(Attribution('s1r', 'bob', 'cola', 1, 'shelf_a', T0,
                                                    resolves_event_id='s1'))
    assert not resolved.refused and analytics.snapshot().shelves[0].shoppers_picked == 1
    bad = analytics.on_attribution(Attribution('s3', 'bob', 'cola', 1, 'shelf_a', T0,
                                               confidence=math.nan))
    assert bad.refused == core.NON_FINITE
    assert analytics.on_attribution(Attribution('s4', 'bob', 'cola', 1, 'shelf_x', T0)
                                    ).refused == core.UNKNOWN_SHELF


def test_people_in_front_of_a_shelf_leave_after_the_track_gap(analytics):
    stream(analytics, 'cam_shelf_a', 0, 2, (1, 'alice'), (2, ''))
    assert analytics.snapshot().shelves[0].people_now == 2
    faces(analytics, 'cam_shelf_a', 3.2, (1, 'alice'))
    assert analytics.snapshot().shelves[0].people_now == 1  # track 2 gone 1.2 s ago
    # Another camera's clock does not end a track (cameras lag each other)...
    faces(analytics, 'cam_shelf_b', 4.3)
    assert analytics.snapshot().shelves[0].people_now == 1
    # ...its own does,
    assert faces(analytics, 'cam_shelf_a', 4.3).changed >= {core.SHELVES}
    assert analytics.snapshot().shelves[0].people_now == 0
    assert analytics.tick() == core.NOTHING
    # and a camera that went silent sees nobody.
    faces(analytics, 'cam_shelf_a', 5, (1, 'alice'))
    assert analytics.snapshot().shelves[0].people_now == 1
    faces(analytics, 'cam_shelf_b', 10.1)
    assert analytics.snapshot().shelves[0].people_now == 0


def test_a_camera_behind_the_others_still_counts_dwell(analytics):
    faces(analytics, 'cam_entrance', 60)  # its frames arrive first
    stream(analytics, 'cam_shelf_a', 0, 3, (1, 'alice'))
    assert analytics.snapshot().shelves[0].dwell_s == pytest.approx(3.0)
    assert analytics.snapshot().shelves[0].shoppers_looked == 1


def test_queue_at_the_doors(analytics):
    faces(analytics, 'cam_entrance', 0, (1, 'alice'), (2, ''))
    assert analytics.snapshot().queue_entrance == 2
    door(analytics, 'e1', ENTERED, 'alice', 0.2)
    faces(analytics, 'cam_entrance', 0.3, (1, 'alice'), (2, ''))
    assert analytics.snapshot().queue_entrance == 1  # alice passed; the unknown is waiting
    faces(analytics, 'cam_exit', 5, (9, 'alice'))
    assert analytics.snapshot().queue_exit == 1
    door(analytics, 'x1', EXITED, 'alice', 5.1)
    assert analytics.snapshot().queue_exit == 0


def test_bad_frames_are_counted(analytics):
    assert analytics.on_faces(FaceFrame('cam_nowhere', T0, ())).refused == core.UNKNOWN_CAMERA
    faces(analytics, 'cam_shelf_a', 1)
    assert faces(analytics, 'cam_shelf_a', 0.5).refused == core.OUT_OF_ORDER
    nan_face = Sighting(1, 'alice', math.nan, *AT_LANE_1)
    assert analytics.on_faces(FaceFrame('cam_shelf_a', T0 + 2 * S, (nan_face,))
                              ).refused == core.NON_FINITE
    nowhere = Sighting(2, 'alice', 0.9, math.inf, 3.0)
    assert analytics.on_faces(FaceFrame('cam_shelf_a', T0 + 3 * S, (nowhere,))
                              ).refused == core.NON_FINITE
    assert analytics.refused[core.NON_FINITE] == 2


def test_revenue_counts_the_newest_revision_of_each_receipt(analytics):
    analytics.on_receipt(ReceiptTotal('1', 1, 500, 'EUR', T0))
    analytics.on_receipt(ReceiptTotal('2', 1, 300, 'EUR', T0))
    analytics.on_receipt(ReceiptTotal('1', 2, 350, 'EUR', T0))  # an adjustment
    assert analytics.on_receipt(ReceiptTotal('1', 2, 350, 'EUR', T0)).refused == core.DUPLICATE
    assert analytics.on_receipt(ReceiptTotal('3', 1, -5, 'EUR', T0)).refused == \
        core.NEGATIVE_TOTAL
    snap = analytics.snapshot()
    assert (snap.receipts_total, snap.revenue_cents, snap.currency) == (2, 650, 'EUR')


def test_percentile_interpolates_like_numpy():
    assert math.isnan(percentile([], 0.5))
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 0, 20, 30, 40], 0.9) == pytest.approx(36.0)


door_kinds = st.sampled_from([ENTERED, EXITED, SEEN, ABSENT, UNKNOWN_PERSON, 7])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(['e1', 'e2', 'e3', 'e4', 'e5', '']), door_kinds,
                          st.sampled_from(['a', 'b', 'c', '']),
                          st.integers(min_value=-5, max_value=10_000)), max_size=40))
def test_any_door_stream_keeps_the_books_consistent(events):
    a = Analytics(STORE)
    for event_id, kind, customer, t in events:
        a.on_door_event(DoorEvent(event_id, kind, customer, T0 + t * S))
    snap = a.snapshot()
    assert snap.people_in_store == snap.entries_total - snap.exits_total >= 0
    assert snap.visits_completed == snap.exits_total
    assert sum(count for _, count in snap.entries_per_hour) == snap.entries_total
    assert snap.entries_last_hour <= snap.entries_total
    if snap.visits_completed:
        assert 0 <= snap.visit_duration_p50_s <= snap.visit_duration_p90_s


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(['cam_shelf_a', 'cam_shelf_b', 'cam_entrance']),
                          st.integers(min_value=0, max_value=50),
                          st.lists(st.tuples(st.integers(0, 3), st.sampled_from(['', 'a', 'b']),
                                             st.floats(allow_nan=True)), max_size=3)),
                max_size=60))
def test_any_face_stream_keeps_looks_and_conversion_in_bounds(frames):
    a = Analytics(STORE, AnalyticsParams(min_dwell_ns=S // 2))
    for camera, tenth, tracks in frames:
        a.on_faces(FaceFrame(camera, T0 + tenth * S // 10, tuple(
            Sighting(track, customer, confidence, *AT_LANE_1)
            for track, customer, confidence in tracks)))
    for shelf in a.snapshot().shelves:
        assert shelf.dwell_s >= 0 and shelf.shoppers_looked >= 0
        assert shelf.dwell_s <= 5.0 * 4  # four track ids, 5 s of frames
        assert math.isnan(shelf.conversion) or 0.0 <= shelf.conversion <= 1.0
