"""Which review snapshots to take, and when they are deleted (plain Python)."""

from ezshop_web.review_snapshots import ReviewSnapshots

ZONE = (213, 160, 214, 260)


def coverage(shelf, lane):
    return [('cam_a', ZONE), ('cam_b', ZONE)] if shelf == 'shelf_a' else []


def action(event_id, shelf='shelf_a', stamp=10.0):
    return {'event_id': event_id, 'shelf_id': shelf, 'lane_id': 'lane_2', 'stamp': stamp}


def test_every_camera_that_sees_the_lane_is_asked_once_per_held_action():
    shots = ReviewSnapshots(coverage, retention_s=100.0)
    wanted = shots.wanted([action('e1'), action('e2', shelf=''), action('e3', shelf='other')])
    assert [(w.event_id, w.camera_id, w.stamp_s, w.zone) for w in wanted] == [
        ('e1', 'cam_a', 10.0, ZONE), ('e1', 'cam_b', 10.0, ZONE)]
    assert shots.wanted([action('e1')]) == []  # asked already, whatever the answer was


def test_snapshots_go_when_settled_when_out_of_the_queue_or_past_retention():
    shots = ReviewSnapshots(coverage, retention_s=100.0)
    for event_id in ('e1', 'e2', 'e3'):
        shots.wanted([action(event_id)])
        shots.keep(event_id, 'cam_a', b'jpeg ' + event_id.encode(), now_s=0.0)
    shots.keep('e3', 'cam_b', b'late', now_s=50.0)
    assert shots.get('e1', 'cam_a') == b'jpeg e1' and shots.cameras('e3') == ['cam_a', 'cam_b']
    assert shots.forget('e1') == 1 and shots.get('e1', 'cam_a') is None
    assert shots.prune(now_s=60.0, under_review={'e3'}) == 1  # e2 left the queue
    assert shots.cameras('e2') == [] and len(shots) == 2
    assert shots.prune(now_s=120.0) == 1  # e3's first picture is past retention
    assert shots.cameras('e3') == ['cam_b']
    assert shots.prune(now_s=200.0) == 1 and len(shots) == 0
    # Settled or gone from the queue: if it were held again, it would be asked again.
    assert [w.event_id for w in shots.wanted([action('e2')])] == ['e2', 'e2']
