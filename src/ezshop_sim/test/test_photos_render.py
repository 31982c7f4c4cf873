"""Shopper photos and camera frames, with the real photos from the faces folder."""

import time

import numpy as np
import pytest

from ezshop_common.store_config import load_store
from ezshop_sim.photos import (
    PhotoError,
    enrolment_photos,
    identities_dir,
    list_identities,
    load_face_crop,
    split_photos,
)
from ezshop_sim.render import FrameRenderer
from ezshop_sim.scenario import load_scenario
from ezshop_sim.world import build_world


@pytest.fixture(scope='module')
def folder(faces_root):
    return identities_dir(faces_root)


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def appearance(folder, scenario):
    return {i: list(split_photos(folder, i).appearance) for i in scenario.identities}


def test_photos_split_into_enrolment_and_appearance(folder):
    identities = list_identities(folder)
    assert 'obama' in identities and 'alex_lacamoire' in identities
    for identity in identities:
        split = split_photos(folder, identity)
        assert 1 <= len(split.enrolment) <= 2 and split.appearance
        total = len(list((folder / identity).glob('*.jpg')))
        if total > 1:
            assert not set(split.enrolment) & set(split.appearance)
            assert len(split.enrolment) + len(split.appearance) == total
    assert [p.name for p in split_photos(folder, 'obama').enrolment] == ['1.jpg', '2.jpg']
    assert [p.name for p in split_photos(folder, 'biden').appearance] == ['2.jpg']


def test_enrolment_photos_only_for_enrolled_shoppers(folder):
    photos = enrolment_photos(load_scenario('unenrolled_walk_in'), folder)
    assert set(photos) == {'obama'}
    assert all(p.is_file() for p in photos['obama'])
    with pytest.raises(PhotoError, match='nobody'):
        split_photos(folder, 'nobody')


def test_face_crop_holds_the_face(folder):
    crop = load_face_crop(folder / 'obama' / '3.jpg')
    x, y, w, h = crop.face_box
    assert w > 40 and h > 40
    assert 0 <= x and x + w <= crop.image.shape[1] and y + h <= crop.image.shape[0]
    assert load_face_crop(folder / 'obama' / '3.jpg') is crop  # cached


@pytest.fixture(scope='module')
def two_shoppers(folder, store):
    scenario = load_scenario('two_shoppers_one_shelf')
    world = build_world(scenario, store, appearance(folder, scenario))
    return world, FrameRenderer(world, scenario.seed)


def test_frames_are_640x480_bgr8_and_fast(two_shoppers):
    world, renderer = two_shoppers
    start = time.perf_counter()
    frames = [renderer.render(c.camera_id, k / 10.0, k)
              for k in range(0, 200, 5) for c in world.store.cameras]
    per_frame = (time.perf_counter() - start) / len(frames)
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert per_frame < 0.05  # behavioural bound; bench measures the real speed


def test_frames_are_deterministic(folder, store, two_shoppers):
    world, renderer = two_shoppers
    again = FrameRenderer(world, world.scenario.seed)
    for cam in ('cam_entrance', 'cam_shelf_a'):
        for k in (5, 18, 90):
            assert np.array_equal(renderer.render(cam, k / 10, k), again.render(cam, k / 10, k))
    other = FrameRenderer(world, world.scenario.seed + 1)
    assert not np.array_equal(renderer.render('cam_entrance', 1.8, 18),
                              other.render('cam_entrance', 1.8, 18))


def _faces(frame):
    import face_recognition

    return face_recognition.face_locations(np.ascontiguousarray(frame[:, :, ::-1]), 1)


def test_faces_in_frames_are_found_where_the_world_puts_them(two_shoppers):
    world, renderer = two_shoppers
    take = next(e for e in world.events if e.kind == 'TAKE' and e.shopper == 'obama')
    k = round(take.t * 10)
    found = _faces(renderer.render('cam_shelf_a', k / 10, k))
    expected = world.in_view('cam_shelf_a', k / 10)
    assert len(found) == len(expected) == 2
    zone = world.store.camera('cam_shelf_a').coverage[0]
    centres = [((left + right) / 2, (top + bottom) / 2) for top, right, bottom, left in found]
    assert any(zone.x <= x <= zone.x + zone.width and zone.y <= y <= zone.y + zone.height
               for x, y in centres)
    entered = world.events[0]
    k = round(entered.t * 10)
    big = [b for b in _faces(renderer.render('cam_entrance', k / 10, k)) if b[2] - b[0] >= 100]
    assert len(big) >= 1


def test_three_faces_in_one_entrance_frame(folder, store):
    scenario = load_scenario('three_enter_together')
    world = build_world(scenario, store, appearance(folder, scenario))
    renderer = FrameRenderer(world, scenario.seed)
    k = round(world.events[0].t * 10)
    assert len(_faces(renderer.render('cam_entrance', k / 10, k))) == 3


def test_appearance_photos_are_never_enrolment_photos(folder, store):
    scenario = load_scenario('demo')
    world = build_world(scenario, store, appearance(folder, scenario))
    for views in world.appearances.values():
        for view in views:
            split = split_photos(folder, view.identity)
            assert view.photo in split.appearance and view.photo not in split.enrolment
