"""The second look: a lane where someone stands and HOG found no face gets a look with dlib's
CNN detector. Real photos: one dev photo (a turned head) HOG finds at no size, upsampled or
not; the CNN detector finds it. The rule (which lane, how often) on plain grey frames."""

import time

import cv2
import numpy as np
import pytest

from ezshop_common.boxes import Box
from ezshop_testing.scenes import Mover, background, make_sprite, render
from ezshop_vision.face_engine import DetectorSettings, FaceEngine
from ezshop_vision.face_pipeline import FacePipeline, PipelineSettings
from ezshop_vision.gallery import Gallery
from ezshop_vision.second_look import SecondLook, SecondLookSettings, lane_regions

#: A shelf camera's three reach zones (as in config/store.yaml).
ZONES = [Box(0, 160, 213, 260), Box(213, 160, 214, 260), Box(427, 160, 213, 260)]
WIDTH, HEIGHT = 640, 480
SCALE = 0.5  # the tracker's small grey image


@pytest.fixture(scope='module')
def turned_face(faces_root, engine):
    """bbt_stuart/5.jpg: the face (found by the CNN detector) and the photo (BGR)."""
    bgr = cv2.imread(str(faces_root / 'dev' / 'bbt_stuart' / '5.jpg'))
    height, width = bgr.shape[:2]
    found = engine.detect_closely(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), Box(0, 0, width, height))
    assert len(found) == 1
    return bgr, found[0]


def shelf_frame(sprite=None, at=(320, 250)):
    """The empty shelf, or with the sprite's face centred at ``at``: (RGB, truth boxes)."""
    movers = []
    if sprite is not None:
        face = sprite.face
        movers.append(Mover(sprite, at[0] - face.x - face.width / 2,
                            at[1] - face.y - face.height / 2, 0, 0))
    frame, truth = render(movers, background(WIDTH, HEIGHT, seed=7))
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), [box for box, _ in truth]


def small_gray(rgb):
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize('face_px', [80, 100, 125])
def test_hog_misses_a_turned_face_the_cnn_detector_finds(turned_face, face_px):
    bgr, face = turned_face
    rgb, truth = shelf_frame(make_sprite(bgr, face, 'stuart', face_px=face_px))
    hog_up1 = FaceEngine(DetectorSettings(upsample=1))
    for detector in (FaceEngine(DetectorSettings(upsample=0)), hog_up1):
        assert not any(b.iou(truth[0]) > 0.3 for b in detector.detect(rgb))
    found = hog_up1.detect_closely(rgb, lane_regions(ZONES, WIDTH, HEIGHT)[1])
    assert len(found) == 1 and found[0].iou(truth[0]) > 0.3
    # The engine's own detections stay HOG after its second look (~25 ms, not ~0.5 s).
    assert not any(b.iou(truth[0]) > 0.3 for b in hog_up1.detect(rgb))


def test_a_lane_region_is_its_zone_the_band_above_and_a_margin_inside_the_image():
    regions = lane_regions(ZONES, WIDTH, HEIGHT)
    assert [regions[1].x, regions[1].y, regions[1].width, regions[1].height] == \
        pytest.approx([213 - 21.4, 160 - 104, 214 * 1.2, 260 * 1.4])
    assert regions[0].x == 0 and regions[2].x + regions[2].width == WIDTH
    assert lane_regions([Box(700, 0, 50, 50)], WIDTH, HEIGHT) == []


def person_at(lane: int) -> np.ndarray:
    """A grey frame of the empty shelf with a dark figure at ``lane``'s zone."""
    rgb, _ = shelf_frame()
    zone = ZONES[lane]
    cv2.ellipse(rgb, (int(zone.center[0]), int(zone.y + 40)), (60, 150), 0, 0, 360,
                (40, 50, 60), -1)
    return rgb


def learned(look: SecondLook, frames: int = 5) -> SecondLook:
    for i in range(frames):
        assert look.choose(small_gray(shelf_frame()[0]), SCALE, -10.0 + i, []) is None
    return look


def test_only_a_lane_where_someone_stands_and_no_face_was_found_is_looked_at():
    look = learned(SecondLook(lane_regions(ZONES, WIDTH, HEIGHT)))
    regions = look.regions
    assert look.choose(small_gray(shelf_frame()[0]), SCALE, 0.0, []) is None  # nobody there
    gray = small_gray(person_at(1))
    face_there = Box(280, 150, 80, 80)
    assert look.choose(gray, SCALE, 0.0, [face_there]) is None  # HOG found the face
    assert look.choose(gray, SCALE, 0.0, []) == regions[1]


def test_looks_are_spaced_by_the_interval_and_the_lane_looked_at_longest_ago_goes_first():
    look = learned(SecondLook(lane_regions(ZONES, WIDTH, HEIGHT),
                              SecondLookSettings(second_look_interval_s=1.0)))
    both = person_at(0)
    zone = ZONES[2]
    cv2.ellipse(both, (int(zone.center[0]), int(zone.y + 40)), (60, 150), 0, 0, 360,
                (40, 50, 60), -1)
    gray = small_gray(both)
    first = look.choose(gray, SCALE, 0.0, [])
    assert first in (look.regions[0], look.regions[2])
    assert look.choose(gray, SCALE, 0.5, []) is None
    second = look.choose(gray, SCALE, 1.0, [])
    assert {first, second} == {look.regions[0], look.regions[2]}
    assert look.choose(gray, SCALE, 2.0, []) == first


def test_an_interval_of_zero_turns_the_second_look_off():
    look = learned(SecondLook(lane_regions(ZONES, WIDTH, HEIGHT),
                              SecondLookSettings(second_look_interval_s=0.0)))
    assert look.choose(small_gray(person_at(1)), SCALE, 0.0, []) is None


def run_pipeline(frames, second_look):
    pipeline = FacePipeline(FaceEngine(DetectorSettings(upsample=0)),
                            PipelineSettings(detect_every=1), second_look=second_look)
    results = [pipeline.process(rgb, 0.2 * i) for i, rgb in enumerate(frames)]
    return pipeline, results[-1]


def test_the_pipeline_tracks_a_face_only_the_second_look_found(turned_face):
    bgr, face = turned_face
    sprite = make_sprite(bgr, face, 'stuart', face_px=100)
    empty = [shelf_frame()[0]] * 3
    there, truth = shelf_frame(sprite)
    frames = empty + [there] * 3
    pipeline, faces = run_pipeline(frames, SecondLook(lane_regions(ZONES, WIDTH, HEIGHT)))
    assert [f.box.iou(truth[0]) > 0.3 for f in faces] == [True]
    assert pipeline.stats.second_looks >= 1 and pipeline.stats.second_look_faces >= 1
    assert pipeline.stats.encodings >= 1  # identified like any other face
    _, without = run_pipeline(frames, None)
    assert without == []


def test_a_face_at_a_lane_asks_for_frames_first_until_it_is_named(
        dev_identities, dev_faces, enrolled_gallery):
    """face_node's queue gives a shelf camera a head start while a face at a lane is not
    named yet (work_queue): the pipeline says so after each frame."""
    person = dev_identities[0]
    photo = person.photos[2]
    sprite = make_sprite(cv2.imread(str(photo)), dev_faces[photo].boxes[0], person.name,
                         face_px=110)
    at_lane, truth = shelf_frame(sprite, at=(320, 250))
    regions = lane_regions(ZONES, WIDTH, HEIGHT)

    def pipeline(gallery, look=True):
        return FacePipeline(FaceEngine(DetectorSettings(upsample=0)),
                            PipelineSettings(detect_every=1), gallery=gallery,
                            second_look=SecondLook(regions) if look else None)

    strangers = pipeline(enrolled_gallery([dev_identities[1].name]))
    for i in range(4):
        faces = strangers.process(at_lane, 0.2 * i)
        assert [f.box.iou(truth[0]) > 0.3 and not f.customer_id for f in faces] == [True]
        assert strangers.unnamed_at_lane
    strangers.process(shelf_frame()[0], 1.0)  # gone
    assert not strangers.unnamed_at_lane

    known = pipeline(enrolled_gallery([person.name]))
    flags = []
    for i in range(4):
        faces = known.process(at_lane, 0.2 * i)
        flags.append(known.unnamed_at_lane)
    assert faces[0].customer_id == person.name
    assert flags[0] and not flags[-1]  # asks until the votes name the face

    door = pipeline(Gallery(), look=False)  # a camera that covers no lane never asks
    door.process(at_lane, 0.0)
    assert not door.unnamed_at_lane


# -- face_node over real DDS -------------------------------------------------------------------

SHELF_CAMERA = 'cam_shelf_a'  # a shelf camera of config/store.yaml (the zones above)
NS = 1_000_000_000


@pytest.mark.parametrize('interval_s', [1.0, 0.0])
def test_face_node_finds_at_a_shelf_camera_the_face_only_its_second_look_sees(
        ros, diag_probe, turned_face, enrolled_gallery, config_dir, interval_s):
    from rclpy.parameter import Parameter

    from ezshop_ros.gallery import EntryList, GalleryServer
    from ezshop_ros.stamps import stamp_ns
    from ezshop_ros.topics import FACES, IMAGE_RAW
    from ezshop_vision.face_node import FaceNode
    from ezshop_vision.image_conversion import cv2_to_imgmsg
    from ezshop_vision.messages import gallery_entries

    ros.add(FaceNode(context=ros.context, parameter_overrides=[
        Parameter('camera_ids', value=[SHELF_CAMERA]),
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('detect_every', value=1), Parameter('catch_up_s', value=0.0),
        Parameter('second_look_interval_s', value=interval_s),
        Parameter('diagnostic_updater.period', value=0.2)]))
    probe = ros.node('second_look_probe')
    GalleryServer(probe, EntryList(gallery_entries(enrolled_gallery(['bbt_howard', 'bbt_raj']))))
    pub = IMAGE_RAW.publisher(probe, camera=SHELF_CAMERA)
    got = []
    FACES.subscription(probe, got.append, camera=SHELF_CAMERA)
    assert ros.spin_until(lambda: pub.get_subscription_count() > 0, 10.0)
    assert ros.spin_until(lambda: (diag_probe(f'face_node: {SHELF_CAMERA}') or {}).get(
        'gallery_customers') == '2', 10.0), 'gallery not received'

    bgr, face = turned_face
    there, truth = shelf_frame(make_sprite(bgr, face, 'stuart', face_px=100))
    frames = [shelf_frame()[0]] * 3 + [there] * 4
    for index, rgb in enumerate(frames):
        image = cv2_to_imgmsg(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 'bgr8')
        stamp = (10 + 2 * index) * NS // 10
        image.header.stamp.sec, image.header.stamp.nanosec = divmod(stamp, NS)
        deadline = time.monotonic() + 10.0
        while not any(stamp_ns(f.header.stamp) == stamp for f in got):
            assert time.monotonic() < deadline, f'no FaceArray for the frame at {stamp / NS} s'
            pub.publish(image)
            ros.spin_until(lambda s=stamp: any(stamp_ns(f.header.stamp) == s for f in got), 3.0)
    boxes = [Box(f.roi.x_offset, f.roi.y_offset, f.roi.width, f.roi.height)
             for array in got for f in array.faces]
    if interval_s == 0.0:
        assert boxes == []
        return
    # Found by the look at his first frame; HOG never sees it, so the track lasts until
    # max_misses detection rounds without it (the next look finds it again).
    assert boxes and all(b.iou(truth[0]) > 0.3 for b in boxes)
    assert ros.spin_until(lambda: int((diag_probe(f'face_node: {SHELF_CAMERA}') or {}).get(
        'second_look_faces', 0)) >= 1, 5.0)
