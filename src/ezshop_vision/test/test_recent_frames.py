"""A camera's recent past (recent_frames, timed_ring), plain pytest: one frame per interval
within the history, pages oldest first with `more`, a restarted clock starts afresh, and a real
photo survives the JPEG round trip well enough to be recognised."""

import numpy as np

from ezshop_vision.face_photos import load_bgr
from ezshop_vision.image_conversion import decode_jpeg
from ezshop_vision.recent_frames import MAX_PAGE, RecentFrames, RecentFramesSettings
from ezshop_vision.timed_ring import TimedRing

MS = 1_000_000


def test_keeps_one_item_per_interval_within_the_history():
    ring = TimedRing(history_ns=1000 * MS, interval_ns=200 * MS)
    kept = [t for t in range(0, 3000, 100) if ring.add(t * MS, t)]
    assert kept == list(range(0, 3000, 200))
    # Only the last second (behind the newest) is left.
    assert [item for _, item in ring.after(-1, 100)[0]] == [1800, 2000, 2200, 2400, 2600, 2800]


def test_pages_after_a_stamp_oldest_first_and_says_when_more_remain():
    ring = TimedRing(history_ns=10_000 * MS, interval_ns=1)
    for t in range(10):
        ring.add(t * MS, t)
    page, more = ring.after(2 * MS, 3)  # strictly after 2
    assert [item for _, item in page] == [3, 4, 5] and more
    page, more = ring.after(6 * MS, 3)
    assert [item for _, item in page] == [7, 8, 9] and not more
    assert ring.after(9 * MS, 3) == ([], False)
    assert ring.after(0, 0) == ([], True)


def test_a_stamp_behind_the_newest_starts_afresh_and_nearest_is_bounded():
    ring = TimedRing(history_ns=10_000 * MS, interval_ns=1)
    for t in (100, 200, 300):
        ring.add(t * MS, t)
    assert ring.nearest(260 * MS, 50 * MS) == (300 * MS, 300)
    assert ring.nearest(1000 * MS, 50 * MS) is None
    ring.add(5 * MS, 5)  # a restarted simulator: time went back
    assert len(ring) == 1 and ring.nearest(0, 10 * MS) == (5 * MS, 5)


def test_no_history_keeps_nothing():
    ring = TimedRing(history_ns=0, interval_ns=1)
    assert not ring.add(1, 'x') and len(ring) == 0


def test_pages_of_real_frames_decode_to_the_same_picture(faces_root, engine):
    photo = load_bgr(faces_root / 'dev' / 'obama' / '4.jpg')
    recent = RecentFrames(RecentFramesSettings(recent_frames_s=10.0,
                                               recent_frames_interval_s=0.2))
    for k in range(30):  # 3 s at 10 fps: one in two kept
        recent.add(k * 100 * MS, photo)
    assert len(recent) == 15
    page, more = recent.page(-1, 100)
    assert len(page) == MAX_PAGE and more  # never more than a page at a time
    assert [f.stamp_ns for f in page] == [k * 200 * MS for k in range(MAX_PAGE)]
    back = decode_jpeg(page[0].jpeg)
    assert back.shape == photo.shape
    assert np.abs(back.astype(int) - photo.astype(int)).mean() < 3.0
    rgb, served_rgb = photo[:, :, ::-1].copy(), back[:, :, ::-1].copy()
    original, = engine.encode(rgb, engine.detect(rgb))
    served, = engine.encode(served_rgb, engine.detect(served_rgb))
    assert np.linalg.norm(original - served) < 0.05  # the same face to the recogniser
    assert decode_jpeg(b'not a jpeg') is None and decode_jpeg(b'') is None
