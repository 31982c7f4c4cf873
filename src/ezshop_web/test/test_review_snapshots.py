"""The review queue's pictures through the real parts: real photos as a shelf camera's frames
into face_node, a held pick at the store, web_node asking face_node for the frame of that
moment (faces drawn), served to staff only, and gone once the pick is settled."""

import time
import uuid

import cv2
import httpx
import numpy as np
import pytest

from ezshop_msgs.msg import CartAction
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import FACES, IMAGE_RAW
from ezshop_vision.face_photos import load_bgr
from ezshop_vision.image_conversion import cv2_to_imgmsg

pytestmark = pytest.mark.timeout(240)
CAMERA = 'cam_shelf_a'  # its face_node runs in the shelf_store fixture
S = 1_000_000_000


def letterboxed(bgr, width, height):
    """The photo scaled (aspect kept) into a width x height black frame, like a camera's."""
    scale = min(width / bgr.shape[1], height / bgr.shape[0])
    small = cv2.resize(bgr, (int(bgr.shape[1] * scale), int(bgr.shape[0] * scale)))
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:small.shape[0], :small.shape[1]] = small
    return frame


def play_frames(store, photo, start_ns: int, count: int, step_ns: int) -> list:
    """Frames of the photo from start_ns, each sent until face_node has processed it."""
    images = IMAGE_RAW.publisher(store.node, camera=CAMERA)
    seen = []
    FACES.subscription(store.node, seen.append, camera=CAMERA)
    assert store.wait(lambda: images.get_subscription_count() > 0, 10.0)
    frame = letterboxed(load_bgr(photo), 640, 480)
    for k in range(count):
        stamp = start_ns + k * step_ns
        msg = cv2_to_imgmsg(frame, 'bgr8')
        msg.header.stamp = time_from_ns(stamp)
        msg.header.frame_id = f'{CAMERA}_optical'

        def processed(stamp=msg.header.stamp):
            return any(f.header.stamp == stamp for f in seen)
        deadline = time.monotonic() + 20
        while not processed():
            assert time.monotonic() < deadline, f'face_node never processed frame {k}'
            images.publish(msg)
            store.wait(processed, 2.0)
    return seen


def test_a_held_pick_shows_the_shelf_camera_at_that_moment_until_it_is_settled(
        shelf_store, faces_root):
    store = shelf_store
    start = store.slot()
    seen = play_frames(store, faces_root / 'groups' / 'fr_kit_with_rose.jpg', start, 6,
                       S // 2)
    assert max(len(f.faces) for f in seen) == 2
    held = CartAction(event_id=str(uuid.uuid4()), customer_id='', item_id='chips', quantity=1,
                      confidence=0.0, shelf_id='shelf_a', lane_id='lane_2')
    held.header.stamp = time_from_ns(start + 2 * S)
    store.cart_actions.publish(held)

    client, csrf = store.staff_session()

    def queued():
        actions = client.get('/api/review').json()['actions']
        return next((a for a in actions if a['event_id'] == held.event_id), None)
    assert store.wait(lambda: (queued() or {}).get('snapshots') == [CAMERA], 20.0), queued()

    url = f'/api/review/{held.event_id}/snapshot/{CAMERA}'
    picture = client.get(url)
    assert picture.status_code == 200 and picture.headers['content-type'] == 'image/jpeg'
    assert picture.headers['cache-control'] == 'no-store'
    drawn = cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == (480, 640, 3)
    with httpx.Client(base_url=store.url, timeout=10.0) as anonymous:
        assert anonymous.get(url).status_code == 401
    assert client.get(f'/api/review/{held.event_id}/snapshot/cam_exit').status_code == 404

    settled = client.post(f'/api/review/{held.event_id}', json={'customer_id': ''},
                          headers={'X-CSRF-Token': csrf})
    assert settled.status_code == 200, settled.text
    assert client.get(url).status_code == 404
    assert len(store.web.snapshots) == 0
