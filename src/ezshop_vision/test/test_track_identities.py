"""face_node over real DDS: a shelf track that ended unknown (bbt_stuart in the one dev photo
the gallery rejects) is published on track_identities once he is identified at another
camera (his photo 3), with the track's id and span; without the visit memory it is not."""

import time

import pytest
from rclpy.parameter import Parameter

from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import FACES, IMAGE_RAW, TRACK_IDENTITIES
from ezshop_testing.scenes import Mover, background, make_sprite, render
from ezshop_vision.face_node import FaceNode
from ezshop_vision.face_photos import load_bgr
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.messages import gallery_entries

SHELF, EXIT = 'cam_shelf_test', 'cam_exit_test'
S = 1_000_000_000


def _frame(dev_identities, dev_faces, index):
    """A 640x480 frame of bbt_stuart's photo ``index`` (None: nobody)."""
    base = background()
    if index is None:
        return cv2_to_imgmsg(base, 'bgr8')
    photo = next(i for i in dev_identities if i.name == 'bbt_stuart').photos[index]
    sprite = make_sprite(load_bgr(photo), dev_faces[photo].boxes[0], 'bbt_stuart',
                         face_px=110, context=0.8)  # photo 5 is found only so
    frame, _ = render([Mover(sprite, 150, 60, 0, 0)], base)
    return cv2_to_imgmsg(frame, 'bgr8')


def _send(ros, pub, got, image, tenths):
    """One frame stamped tenths/10 s; waits for its FaceArray (retries a lost frame)."""
    stamp = tenths * S // 10
    image.header.stamp.sec, image.header.stamp.nanosec = divmod(stamp, S)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        pub.publish(image)
        if ros.spin_until(lambda: any(stamp_ns(f.header.stamp) == stamp for f in got), 3.0):
            return next(f for f in got if stamp_ns(f.header.stamp) == stamp)
    raise AssertionError(f'no FaceArray for the frame at {stamp / S} s')


@pytest.mark.parametrize('memory_s', [900.0, 0.0])
def test_a_track_that_ended_unknown_is_named_when_its_customer_is_identified_elsewhere(
        ros, diag_probe, dev_identities, dev_faces, enrolled_gallery, memory_s):
    node = ros.add(FaceNode(context=ros.context, parameter_overrides=[
        Parameter('camera_ids', value=[SHELF, EXIT]), Parameter('detect_every', value=1),
        Parameter('upsample', value=1), Parameter('visit_memory_s', value=memory_s),
        Parameter('catch_up_s', value=0.0), Parameter('diagnostic_updater.period', value=0.2)]))
    probe = ros.node('identity_probe')
    GalleryServer(probe, EntryList(gallery_entries(enrolled_gallery(
        ['bbt_stuart', 'bbt_howard', 'bbt_raj', 'kit_harington']))))
    pubs = {cam: IMAGE_RAW.publisher(probe, camera=cam) for cam in (SHELF, EXIT)}
    got = {cam: [] for cam in (SHELF, EXIT)}
    for cam in got:
        FACES.subscription(probe, got[cam].append, camera=cam)
    identities = []
    TRACK_IDENTITIES.subscription(probe, identities.append)
    assert ros.spin_until(lambda: all(p.get_subscription_count() for p in pubs.values())
                          and node.count_publishers('track_identities') > 0, 10.0)
    assert ros.spin_until(lambda: (diag_probe(f'face_node: {SHELF}') or {}).get(
        'gallery_customers') == '4', 10.0), 'gallery not received'

    hard = _frame(dev_identities, dev_faces, 4)
    for tenths in range(10, 17):
        shelf = _send(ros, pubs[SHELF], got[SHELF], hard, tenths)
    assert [f.customer_id for f in shelf.faces] == ['']
    track = shelf.faces[0].track_id
    nobody = _frame(dev_identities, dev_faces, None)
    for tenths in range(17, 23):  # he walks off: the track ends (followed a frame or two)
        last = _send(ros, pubs[SHELF], got[SHELF], nobody, tenths)
    assert last.faces == []
    good = _frame(dev_identities, dev_faces, 2)
    for tenths in range(300, 304):
        at_exit = _send(ros, pubs[EXIT], got[EXIT], good, tenths)
    assert [f.customer_id for f in at_exit.faces] == ['bbt_stuart']
    if memory_s == 0.0:
        ros.spin_for(0.5)
        assert identities == []
        return
    assert ros.spin_until(lambda: identities, 5.0)
    (identity,) = identities
    assert (identity.camera_id, identity.track_id, identity.customer_id) == (
        SHELF, track, 'bbt_stuart')
    assert stamp_ns(identity.first_seen) == S
    assert 16 * S // 10 <= stamp_ns(identity.last_seen) <= 2 * S
    assert 30 * S <= stamp_ns(identity.header.stamp) <= 303 * S // 10
    assert 0.0 < identity.match_distance < 0.55 and 0.0 < identity.confidence <= 1.0
    for tenths in range(304, 307):  # once only
        _send(ros, pubs[EXIT], got[EXIT], good, tenths)
    ros.spin_for(0.3)
    assert len(identities) == 1
